package config

import (
	"net"
	"net/netip"
	"strings"
)

// TrustedProxies says whose X-Forwarded-For may be believed (TRUSTED_PROXIES). The zero value trusts nobody:
// the client is the TCP peer and forwarded headers are ignored, so a client talking to the server directly
// cannot pick the address the login throttle and the audit log see.
type TrustedProxies struct {
	// Prefixes are the proxies' networks: a forwarded hop is believed only when it was added by one of them.
	Prefixes []netip.Prefix
	// OneHop (TRUSTED_PROXIES=heroku) believes exactly the last X-Forwarded-For entry whatever the peer's
	// address: on Heroku's Common Runtime every connection to a dyno comes from Heroku's router, which appends
	// the address it saw, and the router's own addresses are neither fixed nor published.
	OneHop bool
}

// ParseTrustedProxies reads "heroku" or a comma-separated list of CIDRs and single addresses
// ("10.0.0.0/8, 192.168.1.10"). An empty string trusts nobody.
func ParseTrustedProxies(v string) (TrustedProxies, error) {
	v = strings.TrimSpace(v)
	if strings.EqualFold(v, "heroku") {
		return TrustedProxies{OneHop: true}, nil
	}
	var t TrustedProxies
	for _, s := range strings.Split(v, ",") {
		s = strings.TrimSpace(s)
		if s == "" {
			continue
		}
		p, err := netip.ParsePrefix(s)
		if err != nil {
			a, aerr := netip.ParseAddr(s)
			if aerr != nil {
				return TrustedProxies{}, &Error{Var: "TRUSTED_PROXIES", Msg: "\"" + s + "\" is not an address or CIDR (e.g. 10.0.0.0/8), nor \"heroku\""}
			}
			p = netip.PrefixFrom(a.Unmap(), a.Unmap().BitLen())
		}
		t.Prefixes = append(t.Prefixes, p.Masked())
	}
	return t, nil
}

func (t TrustedProxies) trusts(a netip.Addr) bool {
	for _, p := range t.Prefixes {
		if p.Contains(a) {
			return true
		}
	}
	return false
}

// ClientIP is the address of the client that made the request: the TCP peer (remoteAddr, "host:port"), or,
// when the peer is a trusted proxy, the nearest X-Forwarded-For hop not added by a trusted proxy, read from
// the right (each proxy appends the address it saw; everything left of the first untrusted hop is whatever
// the client wrote). forwarded holds the X-Forwarded-For header values in order. An entry that is not an IP
// address stops the walk at the last trusted hop's peer. The result is always a parsed address (or the raw
// peer when even that does not parse), so it is short and safe to record. A hop may carry a port or brackets
// (see parseHop).
func (t TrustedProxies) ClientIP(remoteAddr string, forwarded []string) string {
	host, _, err := net.SplitHostPort(remoteAddr)
	if err != nil {
		host = remoteAddr
	}
	cur, err := netip.ParseAddr(host)
	if err != nil {
		return host
	}
	cur = cur.Unmap()
	if !t.OneHop && len(t.Prefixes) == 0 {
		return cur.String()
	}
	var hops []string
	for _, f := range forwarded {
		hops = append(hops, strings.Split(f, ",")...)
	}
	for i := len(hops) - 1; i >= 0; i-- {
		if !t.OneHop && !t.trusts(cur) {
			break
		}
		a, err := parseHop(hops[i])
		if err != nil {
			break
		}
		cur = a.Unmap().WithZone("")
		if t.OneHop {
			break
		}
	}
	return cur.String()
}

// parseHop reads one X-Forwarded-For entry: an address ("203.0.113.9", "2001:db8::9"), or the forms some
// proxies write with the client's port or brackets ("203.0.113.9:50123", "[2001:db8::9]:50123",
// "[2001:db8::9]"); the port is dropped.
func parseHop(s string) (netip.Addr, error) {
	s = strings.TrimSpace(s)
	a, err := netip.ParseAddr(s)
	if err == nil {
		return a, nil
	}
	if ap, perr := netip.ParseAddrPort(s); perr == nil {
		return ap.Addr(), nil
	}
	if inner, ok := strings.CutPrefix(s, "["); ok {
		if inner, ok = strings.CutSuffix(inner, "]"); ok {
			return netip.ParseAddr(inner)
		}
	}
	return a, err
}
