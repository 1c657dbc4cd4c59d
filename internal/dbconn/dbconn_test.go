package dbconn

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

// The connection forms of issue 14, each with a password that must never be printed.
var forms = []struct {
	name, raw, secret                      string
	display, host, port, db, user, sslmode string
}{
	{"keyword/value", "host=127.0.0.1 port=5432 user=ro dbname=pis password=KvSecret42", "KvSecret42",
		"postgres://ro:xxxxx@127.0.0.1:5432/pis", "127.0.0.1", "5432", "pis", "ro", "prefer"},
	{"quoted keyword/value", `host=db.example.com user=ro dbname=pis password='Kv Quoted\'42' sslmode=require`, `Kv Quoted'42`,
		"postgres://ro:xxxxx@db.example.com:5432/pis?sslmode=require", "db.example.com", "5432", "pis", "ro", "require"},
	{"query parameter", "postgres://ro@db.example.com/pis?password=S3cretQueryPW", "S3cretQueryPW",
		"postgres://ro:xxxxx@db.example.com:5432/pis", "db.example.com", "5432", "pis", "ro", "prefer"},
	{"user info", "postgresql://ro:UserInfoPW77@db.example.com:6543/pis?sslmode=disable", "UserInfoPW77",
		"postgres://ro:xxxxx@db.example.com:6543/pis?sslmode=disable", "db.example.com", "6543", "pis", "ro", "disable"},
	{"encoded @ in user info", "postgres://ro:abc%40Tail99x@db.example.com/pis", "abc@Tail99x",
		"postgres://ro:xxxxx@db.example.com:5432/pis", "db.example.com", "5432", "pis", "ro", "prefer"},
	{"unix socket", "postgres://ro:SockPW123@/pis?host=/var/run/postgresql", "SockPW123",
		"postgres://ro:xxxxx@/pis?host=%2Fvar%2Frun%2Fpostgresql", "/var/run/postgresql", "5432", "pis", "ro", ""},
}

func TestParseFormsResolveAndRedact(t *testing.T) {
	for _, f := range forms {
		t.Run(f.name, func(t *testing.T) {
			s, err := Parse(f.raw)
			require.NoError(t, err)
			require.Equal(t, f.display, s.String())
			require.Equal(t, f.db, s.Database())
			require.Equal(t, f.user, s.User())
			require.Equal(t, f.host, s.Host())
			require.Equal(t, f.port, fmt.Sprint(s.Port()))
			require.True(t, s.HasPassword())
			require.Equal(t, f.secret, s.ConnConfig().Password)
			for _, shown := range []string{s.String(), fmt.Sprintf("%v %s %+v %#v", s, s, s, s), s.LogValue().String(),
				s.Describe(), s.Scrub("pg said: password " + f.secret + " rejected")} {
				require.NotContains(t, shown, f.secret)
			}
			var logged strings.Builder
			slog.New(slog.NewJSONHandler(&logged, nil)).Info("x", "source", s)
			require.NotContains(t, logged.String(), f.secret)

			env, cleanup, err := s.Env([]string{"PATH=/usr/bin"})
			require.NoError(t, err)
			got := envMap(env)
			require.Equal(t, f.host, got["PGHOST"])
			require.Equal(t, f.port, got["PGPORT"])
			require.Equal(t, f.db, got["PGDATABASE"])
			require.Equal(t, f.user, got["PGUSER"])
			require.Equal(t, f.sslmode, got["PGSSLMODE"])
			require.NotContains(t, strings.Join(env, "\n"), f.secret)
			pass := got["PGPASSFILE"]
			st, err := os.Stat(pass)
			require.NoError(t, err)
			require.Equal(t, os.FileMode(0o600), st.Mode().Perm())
			body, _ := os.ReadFile(pass)
			require.Contains(t, string(body), strings.ReplaceAll(f.secret, `:`, `\:`))
			cleanup()
			_, err = os.Stat(pass)
			require.True(t, os.IsNotExist(err), "pass file removed afterwards")
		})
	}
}

// A URL password with an unencoded '@' would make libpq and pgx take the tail as the host and print it in
// "no such host" errors; it is refused without echoing any part of it.
func TestParseRefusesUnencodedAtWithoutEcho(t *testing.T) {
	for _, raw := range []string{
		"postgres://ro:abc@TopSecretTail99@host/pis",
		"postgres://ro:abc@TopSecretTail99@host:5432/pis?sslmode=require",
		"postgres://ro:ab/TopSecretTail99@host/pis",
		"postgres://ro:ab:TopSecretTail99@host/pis",
		"host=h password='TopSecretTail99",
		"host=h password=abc TopSecretTail99 dbname=x",
		"postgres://ro@host/pis?password=TopSecretTail99&port=x",
	} {
		_, err := Parse(raw)
		if err == nil {
			continue // some forms are valid libpq (e.g. ':' in a password); they must then not leak by display
		}
		var pe *ParseError
		require.ErrorAs(t, err, &pe)
		require.NotContains(t, err.Error(), "TopSecretTail99", raw)
		require.NotContains(t, err.Error(), "abc", raw)
	}
	_, err := Parse("postgres://ro:abc@TopSecretTail99@host/pis")
	require.ErrorContains(t, err, "%40")
	s, err := Parse("postgres://ro:ab:TopSecretTail99@host/pis") // libpq: password "ab:TopSecretTail99"
	require.NoError(t, err)
	require.NotContains(t, s.String(), "TopSecretTail99")
	require.Equal(t, "ab:TopSecretTail99", s.ConnConfig().Password)
}

// Settings from the PG* environment, a service file and a pass file count as libpq counts them.
func TestParseEnvironmentServiceAndPassFile(t *testing.T) {
	dir := t.TempDir()
	passfile := filepath.Join(dir, "pgpass")
	require.NoError(t, os.WriteFile(passfile, []byte("svc.example.com:5433:clinic:svcuser:PassFilePW9\n"), 0o600))
	svc := filepath.Join(dir, "services")
	require.NoError(t, os.WriteFile(svc, []byte("[pis]\nhost=svc.example.com\nport=5433\ndbname=clinic\nuser=svcuser\n"), 0o600))
	t.Setenv("PGSERVICEFILE", svc)
	t.Setenv("PGPASSFILE", passfile)

	s, err := Parse("service=pis")
	require.NoError(t, err)
	require.Equal(t, "postgres://svcuser:xxxxx@svc.example.com:5433/clinic", s.String())
	require.Equal(t, "PassFilePW9", s.ConnConfig().Password)
	require.Contains(t, s.Secrets(), "PassFilePW9")
	env, cleanup, err := s.Env(append(os.Environ(), "PGSERVICE=other", "PGPASSWORD=x"))
	require.NoError(t, err)
	defer cleanup()
	got := envMap(env)
	require.Empty(t, got["PGSERVICE"], "the service is resolved here; a child must not re-read it over our values")
	require.Empty(t, got["PGSERVICEFILE"])
	require.Empty(t, got["PGPASSWORD"])
	require.NotEqual(t, passfile, got["PGPASSFILE"])

	t.Setenv("PGPASSWORD", "EnvPW1234")
	t.Setenv("PGDATABASE", "envdb")
	s, err = Parse("postgres://ro@db.example.com")
	require.NoError(t, err)
	require.Equal(t, "envdb", s.Database())
	require.Equal(t, "postgres://ro:xxxxx@db.example.com:5432/envdb", s.String())
	require.Equal(t, "EnvPW1234", s.ConnConfig().Password)
}

// pg_dump and pg_restore inherit nothing of pisbackup's own secrets, nor a PGPASSWORD of its environment.
func TestEnvAllowList(t *testing.T) {
	s, err := Parse("postgres://ro:pw@db.example.com/pis?application_name=pisbackup&search_path=clinic%20x&connect_timeout=7&target_session_attrs=read-write")
	require.NoError(t, err)
	env, cleanup, err := s.Env([]string{"PATH=/bin", "HOME=/root", "LC_ALL=C.UTF-8", "TZ=UTC", "PGSSLROOTCERT=/ca.pem",
		"SENDGRID_API_KEY=SG.secret", "METRICS_TOKEN=tok", "AWS_SECRET_ACCESS_KEY=aws", "AWS_ACCESS_KEY_ID=id",
		"CLOUDINARY_URL=cloudinary://k:s@c", "DATABASE_URL=postgres://x:y@z/db", "SOURCE_DATABASE_URL=a",
		"PGPASSWORD=inherited", "PGSERVICE=s", "PGHOST=elsewhere", "EMAIL_HOST_PASSWORD=e", "BACKUP_AGE_IDENTITY_FILE=/k"})
	require.NoError(t, err)
	defer cleanup()
	got := envMap(env)
	for _, k := range []string{"SENDGRID_API_KEY", "METRICS_TOKEN", "AWS_SECRET_ACCESS_KEY", "AWS_ACCESS_KEY_ID", "CLOUDINARY_URL",
		"DATABASE_URL", "SOURCE_DATABASE_URL", "PGPASSWORD", "PGSERVICE", "EMAIL_HOST_PASSWORD", "BACKUP_AGE_IDENTITY_FILE"} {
		require.NotContains(t, got, k)
	}
	require.Equal(t, "/bin", got["PATH"])
	require.Equal(t, "C.UTF-8", got["LC_ALL"])
	require.Equal(t, "/ca.pem", got["PGSSLROOTCERT"])
	require.Equal(t, "db.example.com", got["PGHOST"])
	require.Equal(t, "pisbackup", got["PGAPPNAME"])
	require.Equal(t, `-c search_path=clinic\ x`, got["PGOPTIONS"])
	require.Equal(t, "7", got["PGCONNECT_TIMEOUT"])
	require.Equal(t, "read-write", got["PGTARGETSESSIONATTRS"])
	require.Equal(t, 1, strings.Count(strings.Join(env, "\n"), "PGHOST="))
}

func TestMultiHostAndWithDatabase(t *testing.T) {
	s, err := Parse("postgres://u:MultiPW@h1:5433,h2:5434/db?sslmode=require")
	require.NoError(t, err)
	require.Equal(t, "postgres://u:xxxxx@h1:5433,h2:5434/db?sslmode=require", s.String())
	env, cleanup, err := s.Env(nil)
	require.NoError(t, err)
	defer cleanup()
	require.Equal(t, "h1,h2", envMap(env)["PGHOST"])
	require.Equal(t, "5433,5434", envMap(env)["PGPORT"])
	o := s.WithDatabase("other")
	require.Equal(t, "other", o.Database())
	require.Equal(t, "db", s.Database(), "WithDatabase leaves the original alone")
	require.Equal(t, "MultiPW", o.ConnConfig().Password)
}

// A libpq program connects with nothing but the environment Env gives it: the same database as pgx.
func TestEnvConnectsLikePgx(t *testing.T) {
	psql, err := exec.LookPath("psql")
	if err != nil {
		t.Skip("psql not installed")
	}
	s, err := Parse("host=/var/run/postgresql user=postgres dbname=postgres password=UnusedButPassed application_name=dbconn_test")
	require.NoError(t, err)
	ctx := context.Background()
	conn, err := s.Connect(ctx)
	require.NoError(t, err)
	var viaPgx string
	require.NoError(t, conn.QueryRow(ctx, "SELECT current_database()||'/'||current_user").Scan(&viaPgx))
	conn.Close(ctx)
	cmd, cleanup, err := s.Command(ctx, psql, "-XAtc", "SELECT current_database()||'/'||current_user||'/'||current_setting('application_name')")
	require.NoError(t, err)
	defer cleanup()
	out, err := cmd.CombinedOutput()
	require.NoError(t, err, string(out))
	require.Equal(t, viaPgx+"/dbconn_test", strings.TrimSpace(string(out)))
	require.NotContains(t, strings.Join(cmd.Args, " "), "UnusedButPassed")
}

func TestConnectErrorScrubbed(t *testing.T) {
	s, err := Parse("host=127.0.0.1 port=1 user=ro dbname=pis password=ConnErrPW connect_timeout=2")
	require.NoError(t, err)
	_, err = s.Connect(context.Background())
	require.Error(t, err)
	require.NotContains(t, err.Error(), "ConnErrPW")
	require.NotContains(t, s.Err(fmt.Errorf("echo ConnErrPW")).Error(), "ConnErrPW")
}

func TestPoolConfigHonoursPoolKeys(t *testing.T) {
	s, err := Parse("postgres://u:PoolPW@h/db?pool_max_conns=7")
	require.NoError(t, err)
	_, has := s.ConnConfig().RuntimeParams["pool_max_conns"]
	require.False(t, has, "pool keys are not sent to the server")
	pc, err := s.PoolConfig()
	require.NoError(t, err)
	require.EqualValues(t, 7, pc.MaxConns)
	require.Equal(t, "PoolPW", pc.ConnConfig.Password)
}

func envMap(env []string) map[string]string {
	m := map[string]string{}
	for _, kv := range env {
		k, v, _ := strings.Cut(kv, "=")
		m[k] = v
	}
	return m
}

// TLS file names pgx loads cannot be passed on to pg_dump; in the string they are refused with the variable
// that works for both, and from the environment they pass through.
func TestTLSFilesComeFromTheEnvironment(t *testing.T) {
	_, err := Parse("host=/var/run/postgresql dbname=pis sslrootcert=/etc/ssl/ca.pem password=TLSFilePW")
	require.ErrorContains(t, err, "sslrootcert in the connection string")
	require.ErrorContains(t, err, "PGSSLROOTCERT")
	require.NotContains(t, err.Error(), "TLSFilePW")
	_, err = Parse("postgres://u@/pis?host=/var/run/postgresql&sslkey=/k.pem&sslcert=/c.pem")
	require.ErrorContains(t, err, "in the connection string")
	s, err := Parse("postgres://u@/pis?host=/var/run/postgresql&search_path=clinic&application_name=x")
	require.NoError(t, err, "run-time parameters are not TLS files")
	env, cleanup, err := s.Env([]string{"PGSSLROOTCERT=/etc/ssl/ca.pem"})
	require.NoError(t, err)
	defer cleanup()
	require.Equal(t, "/etc/ssl/ca.pem", envMap(env)["PGSSLROOTCERT"])
}

// A password whose text before an unencoded '/' is all digits parses as host:port, the rest of the password
// becoming the database name, which the dry run, preflight and pgx's connect errors all print. It is refused.
func TestParseRefusesPasswordEndingAuthorityEarly(t *testing.T) {
	for _, raw := range []string{
		"postgres://pis:2024/ClinicTail77@db.example:5432/pis",
		"postgres://pis:2024/ClinicTail77@db.example:5432/pis?sslmode=require",
		"postgresql://pis:/ClinicTail77@db.example/pis",
	} {
		s, err := Parse(raw)
		require.Error(t, err, "parsed as %v", s)
		var pe *ParseError
		require.ErrorAs(t, err, &pe)
		require.NotContains(t, err.Error(), "ClinicTail77", raw)
		require.Contains(t, err.Error(), "%2F", raw)
	}
	// Encoded, it is an ordinary password; '@' in a database name after a real password still parses.
	s, err := Parse("postgres://pis:2024%2FClinicTail77@db.example:5432/pis")
	require.NoError(t, err)
	require.Equal(t, "pis", s.Database())
	require.NotContains(t, s.String(), "ClinicTail77")
	_, err = Parse("postgres://pis:pw@db.example:5432/pis@x")
	require.NoError(t, err)
}

// WithParams sets run-time parameters at connection start for pgx and, through PGOPTIONS after the URL's own
// options, for programs run with Command; the original setting is left as it was.
func TestWithParams(t *testing.T) {
	s, err := Parse("postgres://u@h/db?options=-c%20TimeZone%3DEurope%2FParis&search_path=x")
	require.NoError(t, err)
	p := s.WithParams(map[string]string{"TimeZone": "UTC", "statement_timeout": "0"})
	require.Equal(t, "UTC", p.ConnConfig().RuntimeParams["TimeZone"])
	require.Equal(t, "0", p.ConnConfig().RuntimeParams["statement_timeout"])
	_, has := s.ConnConfig().RuntimeParams["statement_timeout"]
	require.False(t, has, "the original is unchanged")
	env, cleanup, err := p.Env(nil)
	require.NoError(t, err)
	defer cleanup()
	var opts string
	for _, kv := range env {
		if v, ok := strings.CutPrefix(kv, "PGOPTIONS="); ok {
			opts = v
		}
	}
	require.Equal(t, `-c TimeZone=Europe/Paris -c TimeZone=UTC -c search_path=x -c statement_timeout=0`, opts,
		"the URL's options first, so the later -c TimeZone=UTC wins")
}
