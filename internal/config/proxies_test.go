package config

import (
	"testing"

	"github.com/stretchr/testify/require"
)

// Forwarded addresses are believed only from configured proxies: a client talking to the server directly
// cannot choose the address the login throttle and the audit log see.
func TestClientIPTrustsOnlyConfiguredProxies(t *testing.T) {
	none, err := ParseTrustedProxies("")
	require.NoError(t, err)
	lan, err := ParseTrustedProxies("10.0.0.0/8, 192.168.1.10")
	require.NoError(t, err)
	heroku, err := ParseTrustedProxies("Heroku")
	require.NoError(t, err)
	for _, c := range []struct {
		name   string
		t      TrustedProxies
		peer   string
		xff    []string
		client string
	}{
		{"direct client rotating XFF", none, "203.0.113.7:5555", []string{"198.51.100.1"}, "203.0.113.7"},
		{"direct client, forged formula", none, "203.0.113.7:5555", []string{"=HYPERLINK(\"http://evil\")"}, "203.0.113.7"},
		{"untrusted peer with XFF", lan, "203.0.113.7:5555", []string{"198.51.100.1"}, "203.0.113.7"},
		{"trusted proxy appends client", lan, "10.1.2.3:80", []string{"1.1.1.1, 203.0.113.9"}, "203.0.113.9"},
		{"two trusted proxies", lan, "10.1.2.3:80", []string{"1.1.1.1, 203.0.113.9, 192.168.1.10"}, "203.0.113.9"},
		{"spoofed left entries ignored", lan, "10.1.2.3:80", []string{"10.9.9.9", "203.0.113.9"}, "203.0.113.9"},
		{"garbage hop stops at proxy", lan, "10.1.2.3:80", []string{"203.0.113.9, evil\xff"}, "10.1.2.3"},
		{"huge hop stops at proxy", lan, "10.1.2.3:80", []string{string(make([]byte, 400<<10))}, "10.1.2.3"},
		{"trusted proxy without XFF", lan, "10.1.2.3:80", nil, "10.1.2.3"},
		{"heroku: last hop only", heroku, "10.5.5.5:1234", []string{"6.6.6.6, 203.0.113.9"}, "203.0.113.9"},
		{"heroku: no XFF", heroku, "10.5.5.5:1234", nil, "10.5.5.5"},
		{"ipv4-mapped peer", none, "[::ffff:203.0.113.7]:1", nil, "203.0.113.7"},
		// Proxies that write the client's port (Azure Application Gateway) or brackets: without parsing them
		// every client behind the proxy would share its address, and one guesser would throttle them all.
		{"proxy writes ip:port", lan, "10.1.2.3:80", []string{"203.0.113.9:50123"}, "203.0.113.9"},
		{"proxy writes [v6]:port", lan, "10.1.2.3:80", []string{"[2001:db8::9]:50123"}, "2001:db8::9"},
		{"proxy writes [v6]", lan, "10.1.2.3:80", []string{" [2001:db8::9] "}, "2001:db8::9"},
		{"heroku: last hop with port", heroku, "10.5.5.5:1234", []string{"203.0.113.9:443"}, "203.0.113.9"},
	} {
		require.Equal(t, c.client, c.t.ClientIP(c.peer, c.xff), c.name)
	}
	_, err = ParseTrustedProxies("10.0.0.0/8, router")
	require.ErrorContains(t, err, `"router" is not an address or CIDR`)
	_, err = Load(func(k string) string { return map[string]string{"TRUSTED_PROXIES": "everyone"}[k] })
	require.ErrorContains(t, err, "TRUSTED_PROXIES")
}
