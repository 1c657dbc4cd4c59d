package dbconn

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"reflect"
	"slices"
	"strconv"
	"strings"

	"github.com/jackc/pgx/v5/pgconn"
)

// allowedEnv are the variables a libpq program inherits from pisbackup's environment: what it needs to run
// (PATH, HOME, locale, time zone, temp dir, library path for a vendored client) and the PG* settings that hold
// no secret and that pgx read too (TLS file locations, client encoding, …). Everything else, SENDGRID_API_KEY,
// METRICS_TOKEN, AWS_*, CLOUDINARY_URL, DATABASE_URL and PGPASSWORD included, stays in pisbackup.
var allowedEnv = map[string]bool{
	"PATH": true, "HOME": true, "USER": true, "LOGNAME": true, "LANG": true, "LANGUAGE": true, "TZ": true,
	"TMPDIR": true, "LD_LIBRARY_PATH": true, "SSL_CERT_FILE": true, "SSL_CERT_DIR": true,
	"PGSSLROOTCERT": true, "PGSSLCERT": true, "PGSSLKEY": true, "PGSSLCRL": true, "PGSSLCRLDIR": true,
	"PGSSLCERTMODE": true, "PGSSLSNI": true, "PGSYSCONFDIR": true, "PGCLIENTENCODING": true,
	"PGDATESTYLE": true, "PGGSSENCMODE": true, "PGKRBSRVNAME": true, "PGGSSLIB": true, "PGGSSDELEGATION": true,
}

// allowedEnvPrefixes are families of harmless variables (locale categories).
var allowedEnvPrefixes = []string{"LC_"}

// BaseEnv filters environ (os.Environ() form) through the allow-list. The connection itself is added by Env.
func BaseEnv(environ []string) []string {
	var out []string
	for _, kv := range environ {
		k, _, ok := strings.Cut(kv, "=")
		if !ok {
			continue
		}
		allowed := allowedEnv[k]
		for _, p := range allowedEnvPrefixes {
			allowed = allowed || strings.HasPrefix(k, p)
		}
		if allowed {
			out = append(out, kv)
		}
	}
	return out
}

// Env is the environment for a libpq program (pg_dump, pg_restore, psql) that must connect exactly as s does:
// BaseEnv(environ) plus PGHOST, PGPORT, PGDATABASE, PGUSER, PGSSLMODE and the other settings pgx resolved, and
// the password in a new 0600 pass file named by PGPASSFILE (never PGPASSWORD, which /proc/PID/environ shows to
// the same user for the program's whole life, and never the command line, which ps shows to everyone).
// cleanup removes the pass file; call it once the program has exited. With no password there is no file and
// cleanup does nothing. Pass the result as exec.Cmd.Env and put no --dbname/--host/--username on argv.
func (s *Settings) Env(environ []string) (env []string, cleanup func(), err error) {
	env = BaseEnv(environ)
	set := func(k, v string) {
		if v != "" {
			env = append(env, k+"="+v)
		}
	}
	var hosts, ports []string
	for _, h := range s.hosts() {
		hosts, ports = append(hosts, h.host), append(ports, strconv.Itoa(int(h.port)))
	}
	set("PGHOST", strings.Join(hosts, ","))
	set("PGPORT", strings.Join(ports, ","))
	set("PGDATABASE", s.Database())
	set("PGUSER", s.cfg.User)
	set("PGSSLMODE", s.sslMode())
	set("PGSSLNEGOTIATION", s.cfg.SSLNegotiation)
	if t := s.cfg.ConnectTimeout; t > 0 {
		set("PGCONNECT_TIMEOUT", strconv.Itoa(max(2, int(t.Seconds()))))
	}
	set("PGTARGETSESSIONATTRS", targetSessionAttrs(s.cfg.ValidateConnect))
	if v := s.cfg.ChannelBinding; v != "" && v != "prefer" {
		set("PGCHANNELBINDING", v)
	}
	set("PGREQUIREAUTH", s.cfg.RequireAuth)
	set("PGKRBSRVNAME", s.cfg.KerberosSrvName)
	set("PGAPPNAME", s.cfg.RuntimeParams["application_name"])
	set("PGOPTIONS", s.options())
	cleanup = func() {}
	if s.cfg.Password == "" {
		return env, cleanup, nil
	}
	if strings.ContainsAny(s.cfg.Password, "\n\r") {
		return nil, cleanup, fmt.Errorf("the password of %s contains a line break, which a PostgreSQL pass file cannot hold", s)
	}
	f, err := os.CreateTemp("", "pisbackup-pgpass-*") // created 0600, as libpq requires of a pass file
	if err != nil {
		return nil, cleanup, fmt.Errorf("create a pass file for the PostgreSQL client: %w", err)
	}
	cleanup = func() { _ = os.Remove(f.Name()) }
	pw := strings.NewReplacer(`\`, `\\`, `:`, `\:`).Replace(s.cfg.Password)
	if _, err := f.WriteString("*:*:*:*:" + pw + "\n"); err != nil {
		_ = f.Close()
		cleanup()
		return nil, func() {}, fmt.Errorf("write the pass file: %w", err)
	}
	if err := f.Close(); err != nil {
		cleanup()
		return nil, func() {}, fmt.Errorf("write the pass file: %w", err)
	}
	env = append(env, "PGPASSFILE="+f.Name())
	return env, cleanup, nil
}

// Command is exec.CommandContext(ctx, path, args...) with Env(os.Environ()) as its environment. args must not
// name the connection (no --dbname, --host, --username): libpq reads it from the environment.
func (s *Settings) Command(ctx context.Context, path string, args ...string) (*exec.Cmd, func(), error) {
	env, cleanup, err := s.Env(os.Environ())
	if err != nil {
		return nil, cleanup, err
	}
	cmd := exec.CommandContext(ctx, path, args...)
	cmd.Env = env
	return cmd, cleanup, nil
}

// options is libpq's "options" (PGOPTIONS) carrying every run-time parameter pgx would send (search_path, …;
// application_name travels as PGAPPNAME), so the program's session is set up like pgx's.
func (s *Settings) options() string {
	var parts []string
	if o := s.cfg.RuntimeParams["options"]; o != "" {
		parts = append(parts, o)
	}
	var keys []string
	for k := range s.cfg.RuntimeParams {
		if k != "options" && k != "application_name" {
			keys = append(keys, k)
		}
	}
	slices.Sort(keys)
	esc := strings.NewReplacer(`\`, `\\`, " ", `\ `)
	for _, k := range keys {
		parts = append(parts, "-c "+esc.Replace(k)+"="+esc.Replace(s.cfg.RuntimeParams[k]))
	}
	return strings.Join(parts, " ")
}

// targetSessionAttrs maps pgconn's validator back to libpq's target_session_attrs ("" for any).
func targetSessionAttrs(f pgconn.ValidateConnectFunc) string {
	if f == nil {
		return ""
	}
	p := reflect.ValueOf(f).Pointer()
	for name, g := range map[string]pgconn.ValidateConnectFunc{
		"read-write": pgconn.ValidateConnectTargetSessionAttrsReadWrite, "read-only": pgconn.ValidateConnectTargetSessionAttrsReadOnly,
		"primary": pgconn.ValidateConnectTargetSessionAttrsPrimary, "standby": pgconn.ValidateConnectTargetSessionAttrsStandby,
		"prefer-standby": pgconn.ValidateConnectTargetSessionAttrsPreferStandby,
	} {
		if reflect.ValueOf(g).Pointer() == p {
			return name
		}
	}
	return ""
}
