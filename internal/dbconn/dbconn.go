// Package dbconn is pisbackup's one reading of a PostgreSQL connection setting. A setting is parsed once, by
// pgx/pgconn's own parser (which follows libpq: postgres:// URLs, keyword/value strings, query parameters such
// as ?password=, the PG* environment, service files and the pass file), into a Settings value that
//   - prints itself without the password (String, LogValue, GoString),
//   - connects through pgx (ConnConfig, PoolConfig, Connect),
//   - hands libpq programs (pg_dump, pg_restore) their connection through the environment, with the password
//     in a 0600 pass file and nothing of pisbackup's own secrets (Env, Command),
//   - answers what libpq resolves: database, user, host, port.
//
// No string containing a password ever leaves this package except through Env's pass file and ConnConfig.
package dbconn

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/url"
	"reflect"
	"strconv"
	"strings"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/uscpis/pisbackup/internal/secret"
)

// Settings is one parsed connection setting. The zero value is not usable; build it with Parse.
// It is immutable: WithDatabase returns a new value.
type Settings struct {
	cfg *pgx.ConnConfig
	// pool holds pgxpool's own keys (pool_max_conns …) found in the string; pgx would otherwise send them to
	// the server as run-time parameters.
	pool map[string]string
	// secrets are the password as resolved plus any spelling the operator wrote it in.
	secrets []string
}

// ParseError says why a connection setting was refused. Its text never contains the setting itself: a
// malformed string cannot be reliably split into "password" and "the rest".
type ParseError struct {
	Reason string
}

func (e *ParseError) Error() string { return e.Reason }

// Parse reads raw as libpq would (pgconn.ParseConfig): a postgres:// or postgresql:// URL or a keyword/value
// string, completed from the PG* environment, the service file (service=, PGSERVICE) and the pass file
// (passfile=, PGPASSFILE, ~/.pgpass). An empty raw means "everything from the environment", as in libpq.
//
// Errors are *ParseError and never quote raw. A URL whose user info holds an unencoded '@' is refused
// (libpq would take the text after the first '@' as the host and print it in "could not translate host
// name" errors, password tail included).
func Parse(raw string) (*Settings, error) {
	cfg, err := pgx.ParseConfig(raw)
	if err != nil {
		return nil, &ParseError{Reason: "not a valid connection string (" + parseReason(err) + "); use postgres://user@host:port/dbname or host=… dbname=… with a percent-encoded or quoted password"}
	}
	s := &Settings{cfg: cfg, pool: map[string]string{}}
	s.secrets = append(s.secrets, cfg.Password, cfg.RuntimeParams["sslpassword"])
	s.secrets = append(s.secrets, writtenPasswords(raw)...)
	if rest, ok := cutScheme(raw); ok && userInfoPassword(rest) != "" {
		// A password holding an unencoded '/', '?' or '#' ends the URL's authority early: the text before it
		// becomes the host and port and the rest of the password the database name (or a query or fragment),
		// which the dry run, preflight and connect errors print.
		if u, err := url.Parse(raw); err == nil && u.User != nil {
			if _, has := u.User.Password(); !has {
				return nil, &ParseError{Reason: passwordEncodingHint}
			}
		} else {
			return nil, &ParseError{Reason: passwordEncodingHint}
		}
	}
	for _, h := range s.hosts() {
		if strings.Contains(h.host, "@") {
			return nil, &ParseError{Reason: "the host part contains '@': a password with '@' must be percent-encoded as %40 (postgres://user:pa%40ss@host/db)"}
		}
	}
	if key := childlessKey(raw, cfg); key != "" {
		return nil, &ParseError{Reason: fmt.Sprintf("%s in the connection string cannot be handed to pg_dump and pg_restore; set %s instead",
			key, "PG"+strings.ToUpper(key))}
	}
	for k, v := range cfg.RuntimeParams {
		if strings.HasPrefix(k, "pool_") {
			s.pool[k] = v
			delete(cfg.RuntimeParams, k)
		}
	}
	return s, nil
}

// fileKeys are TLS settings pgx turns into loaded certificates, so their file names cannot be read back and
// passed on to libpq programs; libpq and pgx both also read them from PGSSLROOTCERT, PGSSLCERT, PGSSLKEY …,
// which the programs inherit (see BaseEnv).
var fileKeys = []string{"sslrootcert", "sslcert", "sslkey", "sslcrl", "sslcrldir"}

// libpqKeys are the keywords pgconn knows (besides run-time parameters, which it keeps).
var libpqKeys = []string{"host", "port", "dbname", "user", "password", "passfile", "connect_timeout", "sslmode", "ssl",
	"sslcertmode", "sslpassword", "sslsni", "sslnegotiation", "krbspn", "krbsrvname", "target_session_attrs", "service",
	"servicefile", "min_protocol_version", "max_protocol_version", "channel_binding", "require_auth",
	"statement_cache_capacity", "description_cache_capacity", "default_query_exec_mode"}

// childlessKey names a TLS file setting written in raw itself (not in the environment), or "". pgconn answers:
// raw is parsed again allowing every key it holds except those.
func childlessKey(raw string, cfg *pgx.ConnConfig) string {
	allowed := append([]string(nil), libpqKeys...)
	for k := range cfg.RuntimeParams {
		allowed = append(allowed, k)
	}
	_, err := pgconn.ParseConfigWithOptions(raw, pgconn.ParseConfigOptions{ConnStringAllowedKeys: allowed})
	if err == nil {
		return ""
	}
	for _, k := range fileKeys {
		if strings.Contains(err.Error(), `key "`+k+`"`) {
			return k
		}
	}
	return ""
}

// parseReason is pgconn's short reason ("failed to parse as URL", "invalid port", …) without the connection
// string or the wrapped error, both of which can quote a misplaced password.
func parseReason(err error) string {
	var pe *pgconn.ParseConfigError
	if errors.As(err, &pe) {
		if f := reflect.ValueOf(pe).Elem().FieldByName("msg"); f.IsValid() && f.Kind() == reflect.String {
			if m := f.String(); m != "" && !strings.ContainsAny(m, "@`'\"") {
				return m
			}
		}
	}
	return "cannot be parsed"
}

// writtenPasswords returns the password as the operator wrote it, whatever pgx made of it: the whole user-info
// password of a URL up to the last '@' (so "abc@TopSecretTail99" in postgres://ro:abc@TopSecretTail99@host),
// ?password= and ?sslpassword= values, and keyword/value password= values. These are only scrubbed, never used.
func writtenPasswords(raw string) []string {
	var out []string
	if rest, ok := cutScheme(raw); ok {
		if pw := userInfoPassword(rest); pw != "" {
			out = append(out, pw)
			if u, err := url.PathUnescape(pw); err == nil {
				out = append(out, u)
			}
		}
		if _, q, ok := strings.Cut(rest, "?"); ok {
			for _, kv := range strings.Split(q, "&") {
				k, v, _ := strings.Cut(kv, "=")
				if k, _ = url.QueryUnescape(k); k == "password" || k == "sslpassword" {
					out = append(out, v)
					if u, err := url.QueryUnescape(v); err == nil {
						out = append(out, u)
					}
				}
			}
		}
		return out
	}
	for _, key := range []string{"password", "sslpassword"} {
		for s := raw; ; {
			i := strings.Index(s, key)
			if i < 0 {
				break
			}
			s = strings.TrimLeft(s[i+len(key):], " \t\n\r")
			if !strings.HasPrefix(s, "=") {
				continue
			}
			s = strings.TrimLeft(s[1:], " \t\n\r")
			v := s
			if strings.HasPrefix(v, "'") {
				v = v[1:]
				if j := strings.Index(v, "'"); j >= 0 {
					v = v[:j]
				}
			} else if j := strings.IndexAny(v, " \t\n\r"); j >= 0 {
				v = v[:j]
			}
			out = append(out, v)
		}
	}
	return out
}

const passwordEncodingHint = "the password in the URL must be percent-encoded: '/' as %2F, '?' as %3F, '#' as %23, '@' as %40 (postgres://user:pa%2Fss@host/db)"

// userInfoPassword is the URL's user-info password as the operator wrote it (rest follows the scheme): the
// text between the first ':' and the last '@' before any '?', or "".
func userInfoPassword(rest string) string {
	auth := rest
	if i := strings.Index(auth, "?"); i >= 0 {
		auth = auth[:i]
	}
	if at := strings.LastIndex(auth, "@"); at >= 0 {
		if _, pw, ok := strings.Cut(auth[:at], ":"); ok {
			return pw
		}
	}
	return ""
}

func cutScheme(raw string) (string, bool) {
	for _, p := range []string{"postgres://", "postgresql://"} {
		if rest, ok := strings.CutPrefix(raw, p); ok {
			return rest, true
		}
	}
	return "", false
}

// hostPort is one host libpq would try, in order, with its port and TLS choices folded in.
type hostPort struct {
	host string
	port uint16
}

// hosts lists the distinct hosts (with ports) in the order pgx and libpq try them.
func (s *Settings) hosts() []hostPort {
	out := []hostPort{{s.cfg.Host, s.cfg.Port}}
	for _, f := range s.cfg.Fallbacks {
		hp := hostPort{f.Host, f.Port}
		if out[len(out)-1] != hp {
			out = append(out, hp)
		}
	}
	return out
}

// Database is the database libpq connects to (dbname, PGDATABASE, service; PostgreSQL itself falls back to
// the user name when it is empty).
func (s *Settings) Database() string {
	if s.cfg.Database == "" {
		return s.cfg.User
	}
	return s.cfg.Database
}

// User is the role name libpq logs in as (user, PGUSER, service, else the OS user).
func (s *Settings) User() string { return s.cfg.User }

// Host is the first host libpq tries: a name, an IP address, or a Unix-socket directory (absolute path).
func (s *Settings) Host() string { return s.cfg.Host }

// Port is the first host's TCP port (or the socket file's number for a Unix socket).
func (s *Settings) Port() uint16 { return s.cfg.Port }

// IsUnixSocket reports whether the first host is a Unix-socket directory.
func (s *Settings) IsUnixSocket() bool {
	network, _ := pgconn.NetworkAddress(s.cfg.Host, s.cfg.Port)
	return network == "unix"
}

// HasPassword reports whether a password was found (in the string, PGPASSWORD or a pass file).
func (s *Settings) HasPassword() bool { return s.cfg.Password != "" }

// Secrets returns every spelling of this setting's password(s), for the one scrubber (see package secret).
func (s *Settings) Secrets() []string {
	var out []string
	for _, v := range s.secrets {
		if v != "" {
			out = append(out, v)
		}
	}
	return out
}

// Scrub removes this setting's secrets from text (see secret.Scrub).
func (s *Settings) Scrub(text string) string { return secret.Scrub(text, s.Secrets()...) }

// WithDatabase is the same server, user, password and options, connected to database name.
func (s *Settings) WithDatabase(name string) *Settings {
	c := *s
	c.cfg = s.cfg.Copy()
	c.cfg.Database = name
	return &c
}

// WithParams is the same connection with run-time parameters set at connection start (pgx's startup
// message, PGOPTIONS for a program run with Command); a later value for the same name wins. Set there, they
// override what ALTER DATABASE/ROLE … SET give the session (PostgreSQL applies client options last), before
// any statement runs.
func (s *Settings) WithParams(params map[string]string) *Settings {
	c := *s
	c.cfg = s.cfg.Copy()
	if c.cfg.RuntimeParams == nil {
		c.cfg.RuntimeParams = map[string]string{}
	}
	for k, v := range params {
		c.cfg.RuntimeParams[k] = v
	}
	return &c
}

// String is the setting as a postgres:// URL with the password shown as xxxxx: user, every host and port,
// database and the TLS mode, as resolved. Safe to print, store and render.
func (s *Settings) String() string {
	u := url.URL{Scheme: "postgres", Path: "/" + s.Database()}
	if s.HasPassword() {
		u.User = url.UserPassword(s.cfg.User, secret.Mask)
	} else {
		u.User = url.User(s.cfg.User)
	}
	q := url.Values{}
	var tcp, sockets []string
	for _, h := range s.hosts() {
		if network, _ := pgconn.NetworkAddress(h.host, h.port); network == "unix" {
			sockets = append(sockets, h.host)
			continue
		}
		host := h.host
		if strings.Contains(host, ":") {
			host = "[" + host + "]"
		}
		tcp = append(tcp, host+":"+strconv.Itoa(int(h.port)))
	}
	u.Host = strings.Join(tcp, ",")
	if len(sockets) > 0 {
		q.Set("host", strings.Join(sockets, ","))
		if len(tcp) == 0 && s.cfg.Port != 5432 {
			q.Set("port", strconv.Itoa(int(s.cfg.Port)))
		}
	}
	if mode := s.sslMode(); mode != "" && mode != "prefer" {
		q.Set("sslmode", mode)
	}
	u.RawQuery = q.Encode()
	return u.String()
}

// GoString keeps %#v from printing the password.
func (s *Settings) GoString() string { return "dbconn.Settings(" + s.String() + ")" }

// LogValue keeps slog from printing the password.
func (s *Settings) LogValue() slog.Value { return slog.StringValue(s.String()) }

// sslMode is libpq's sslmode that reproduces pgx's TLS choice for the first TCP host ("" for sockets only):
// pgconn turns sslmode into one TLS config per try (prefer: TLS then plain; allow: plain then TLS).
func (s *Settings) sslMode() string {
	all := append([]*pgconn.FallbackConfig{{Host: s.cfg.Host, Port: s.cfg.Port, TLSConfig: s.cfg.TLSConfig}}, s.cfg.Fallbacks...)
	var seq []*pgconn.FallbackConfig
	for _, f := range all {
		if network, _ := pgconn.NetworkAddress(f.Host, f.Port); network == "unix" {
			continue
		}
		if len(seq) > 0 && (f.Host != seq[0].Host || f.Port != seq[0].Port) {
			break
		}
		seq = append(seq, f)
	}
	switch {
	case len(seq) == 0:
		return ""
	case len(seq) == 1 && seq[0].TLSConfig == nil:
		return "disable"
	case len(seq) >= 2 && seq[0].TLSConfig == nil:
		return "allow"
	case len(seq) >= 2:
		return "prefer"
	case seq[0].TLSConfig.VerifyPeerCertificate != nil:
		return "verify-ca"
	case seq[0].TLSConfig.InsecureSkipVerify:
		return "require"
	default:
		return "verify-full"
	}
}

// ConnConfig is a copy of the parsed pgx configuration, ready for pgx.ConnectConfig.
func (s *Settings) ConnConfig() *pgx.ConnConfig { return s.cfg.Copy() }

// Connect opens one connection. Its error is scrubbed of the password and prefixed with nothing: callers say
// which connection it was.
func (s *Settings) Connect(ctx context.Context) (*pgx.Conn, error) {
	conn, err := pgx.ConnectConfig(ctx, s.ConnConfig())
	if err != nil {
		return nil, s.Err(err)
	}
	return conn, nil
}

// Err wraps err so its text is scrubbed of this setting's secrets; errors.Is/As still see the original.
func (s *Settings) Err(err error) error { return secret.NewSet(s.Secrets()...).Wrap(err) }

// Addr is host:port of the first host for messages ("/var/run/postgresql:5432" for a socket).
func (s *Settings) Addr() string {
	return net.JoinHostPort(s.cfg.Host, strconv.Itoa(int(s.cfg.Port)))
}

// Describe is a short "database X as user Y on Z" for messages.
func (s *Settings) Describe() string {
	return fmt.Sprintf("database %q as %q on %s", s.Database(), s.User(), s.Addr())
}

// MustParse is Parse for settings known to be valid (tests, constants); it panics with the ParseError,
// which never holds the setting.
func MustParse(raw string) *Settings {
	s, err := Parse(raw)
	if err != nil {
		panic(err)
	}
	return s
}
