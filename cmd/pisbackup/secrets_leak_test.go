package main

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/jackc/pgx/v5"
	"github.com/stretchr/testify/require"

	"github.com/uscpis/pisbackup/internal/testdb"
)

// leakCanaries are pisbackup's own secrets, set in the process environment: pg_dump and pg_restore must not
// inherit any of them.
var leakCanaries = map[string]string{
	"SENDGRID_API_KEY": "SG.canary-sendgrid", "METRICS_TOKEN": "canary-metrics-token",
	"AWS_SECRET_ACCESS_KEY": "canary-aws-secret", "AWS_ACCESS_KEY_ID": "canary-aws-id",
	"CLOUDINARY_URL": "cloudinary://1:canary-cloudinary@demo", "EMAIL_HOST_PASSWORD": "canary-email-pw",
}

// TestSecretsNeverLeave is issue 14's list: for every connection-string form, with a known password, the
// password appears nowhere outside the process: not in the argv or environment of pg_dump and pg_restore
// (recorded by wrappers in PG_BIN_DIR that then exec the real tools), not in the stored manifest, a row's
// error, River's job errors, an e-mail, any page or API answer (viewer and admin), nor the log. A wrapper that
// echoes the password it was given (as a chatty tool might in an error) proves errors are scrubbed too.
// Not parallel: it sets the process environment that child programs could inherit.
func TestSecretsNeverLeave(t *testing.T) {
	for k, v := range leakCanaries {
		t.Setenv(k, v)
	}
	for _, form := range []struct{ name, secret, conn string }{
		{"keyword/value", "KvSecret42", "host=%[3]s port=%[4]d user=%[1]s dbname=%[2]s password=KvSecret42"},
		{"query parameter", "S3cretQueryPW", "postgres://%[1]s@%[3]s:%[4]d/%[2]s?password=S3cretQueryPW"},
		{"user info", "UserInfoPW77", "postgres://%[1]s:UserInfoPW77@%[3]s:%[4]d/%[2]s?sslmode=disable"},
		{"unencoded @ in user info", "TopSecretTail99", "postgres://%[1]s:abc@TopSecretTail99@%[3]s:%[4]d/%[2]s"},
	} {
		t.Run(form.name, func(t *testing.T) {
			env := cliEnv(t)
			src, err := pgx.ParseConfig(env["SOURCE_DATABASE_URL"])
			require.NoError(t, err)
			// A role whose real password is the form's: where PostgreSQL checks passwords (CI's scram on TCP) the
			// password must really travel to pg_dump and pg_restore, not merely stay out of sight.
			role := leakRole(t, env["SOURCE_DATABASE_URL"], form.secret)
			// The test server's host and port (TESTDB_HOST/TESTDB_PORT), never a fixed 127.0.0.1:5432.
			env["SOURCE_DATABASE_URL"] = fmt.Sprintf(form.conn, role, src.Database, src.Host, src.Port)
			bin := wrapPGTools(t)
			env["PG_BIN_DIR"] = bin
			env["BACKUP_ALERT_EMAIL"] = "ops@leak.test" // failures are e-mailed (to the outbox: no SendGrid key)
			var log lockedBuffer
			check := func(where, text string) {
				t.Helper()
				require.NotContains(t, text, form.secret, "the password leaked into %s", where)
				for k, v := range leakCanaries {
					require.NotContains(t, text, v, "%s leaked into %s", k, where)
				}
			}

			out, stderr, code := runCLI(t, env, "create-backup", "--type", "database", "--json")
			log.WriteString(stderr)
			check("create-backup's output", out+stderr)
			if code != 0 && !strings.Contains(out, `"id"`) {
				// Refused before anything ran (the unencoded '@'): the message says how to fix it.
				require.Contains(t, stderr, "%40", "the refusal tells how to write '@' in a password")
				return
			}
			require.Equal(t, 0, code, stderr)
			var good backupJSON
			require.NoError(t, json.Unmarshal([]byte(out), &good), out)
			require.Equal(t, "succeeded", good.Status, good.Error)
			out, stderr, code = runCLI(t, env, "verify-backup", fmt.Sprint(good.ID), "--level", "drill", "--json")
			log.WriteString(stderr)
			check("verify-backup's output", out+stderr)
			require.Equal(t, 0, code, stderr+out)
			var drill struct{ ID int64 }
			require.NoError(t, json.Unmarshal([]byte(out), &drill), out)

			srv := startServerLogging(t, env, &log)
			type session struct {
				client *http.Client
				token  string
			}
			sessions := map[string]session{}
			for _, role := range []string{"viewer", "admin"} {
				email := role + "@leak.test"
				password := addUser(t, env, email, role)
				token, stderr, code := runCLI(t, env, "create-token", "--email", email, "--name", "leak test")
				require.Equal(t, 0, code, stderr)
				sessions[role] = session{loginHTTP(t, srv.url, email, password), strings.TrimSpace(token)}
			}
			var failed backupJSON
			checkEverywhere := func() {
				t.Helper()
				records, err := os.ReadFile(filepath.Join(bin, "record"))
				require.NoError(t, err)
				check("the argv or environment of pg_dump/pg_restore", string(records))
				require.Contains(t, string(records), "ARGV "+filepath.Join(bin, "pg_restore"), "the drill ran pg_restore through the wrapper")
				for _, line := range strings.Split(string(records), "\n") {
					if pass, ok := strings.CutPrefix(line, "ENV PGPASSFILE="); ok {
						require.NoFileExists(t, pass, "the pass file is removed once the tool exited")
					}
				}

				storage := strings.TrimPrefix(env["BACKUP_STORAGE"], "file://")
				require.NoError(t, filepath.Walk(storage, func(p string, info os.FileInfo, err error) error {
					if err == nil && strings.HasSuffix(p, ".manifest.json") {
						b, err := os.ReadFile(p)
						require.NoError(t, err)
						check("the stored manifest "+p, string(b))
					}
					return err
				}))

				pool := testdb.Pool(t, env["DATABASE_URL"])
				for _, q := range []string{
					"SELECT coalesce(string_agg(concat_ws(' ', error, source_redacted, manifest::text), ' '), '') FROM backups",
					"SELECT coalesce(string_agg(concat_ws(' ', error, details::text), ' '), '') FROM verifications",
					"SELECT coalesce(string_agg(concat_ws(' ', subject, text_body, html_body, last_error), ' '), '') FROM emails",
					"SELECT coalesce(string_agg(concat_ws(' ', title, details::text), ' '), '') FROM alerts",
					"SELECT coalesce(string_agg(errors::text, ' '), '') FROM river_job",
					"SELECT count(*)::text FROM emails",
				} {
					var text string
					require.NoError(t, pool.QueryRow(context.Background(), q).Scan(&text), q)
					check("the catalog ("+q+")", text)
					if strings.HasPrefix(q, "SELECT count") && failed.ID != 0 {
						require.NotEqual(t, "0", text, "the failure was e-mailed (to the outbox)")
					}
				}

				pages := []string{"/", "/dashboard/live", "/backups", "/backups/table", "/alerts", "/outbox", "/health", "/schedules", "/media", "/profile"}
				apis := []string{fmt.Sprintf("/api/v1/verifications/%d", drill.ID), "/api/v1/health", "/api/v1/backups", "/api/v1/alerts", "/api/v1/metrics?metric=source_db_bytes", "/api/v1/email/status"}
				for _, id := range []int64{good.ID, failed.ID} {
					if id == 0 {
						continue
					}
					pages = append(pages, fmt.Sprintf("/backups/%d", id), fmt.Sprintf("/backups/%d/summary", id), fmt.Sprintf("/backups/%d/activity", id))
					apis = append(apis, fmt.Sprintf("/api/v1/backups/%d", id))
				}
				for _, role := range []string{"viewer", "admin"} {
					c, token := sessions[role].client, sessions[role].token
					admin := []string{"/admin/audit", "/admin/audit.csv", "/admin/users", "/admin/tokens"}
					if role != "admin" {
						admin = nil
					}
					for _, p := range append(pages, admin...) {
						code, body := get(t, c, srv.url+p, "")
						require.Equal(t, http.StatusOK, code, "%s as %s", p, role)
						check("the page "+p+" as "+role, body)
					}
					for _, p := range apis {
						code, body := get(t, http.DefaultClient, srv.url+p, token)
						require.Equal(t, http.StatusOK, code, "%s as %s: %s", p, role, body)
						check("the API "+p+" as "+role, body)
					}
					code, body := get(t, http.DefaultClient, srv.url+fmt.Sprintf("/api/v1/backups/%d", good.ID), token)
					require.Equal(t, http.StatusOK, code)
					var got struct {
						Manifest struct{ Source string } `json:"manifest"`
					}
					require.NoError(t, json.Unmarshal([]byte(body), &got), body)
					require.Contains(t, got.Manifest.Source, "xxxxx", "manifest.source shows that a password is set, not what it is")
				}
				check("the log", log.String())
			}
			checkEverywhere() // after a good backup and a drill

			// A tool that echoes the password it was given: the failure is stored, alerted and e-mailed scrubbed.
			require.NoError(t, os.WriteFile(filepath.Join(bin, "fail"), nil, 0o644))
			out, stderr, _ = runCLI(t, env, "create-backup", "--type", "database", "--json")
			log.WriteString(stderr)
			check("the failed create-backup's output", out+stderr)
			require.NoError(t, json.Unmarshal([]byte(out), &failed), out+stderr)
			require.Equal(t, "failed", failed.Status)
			require.Contains(t, failed.Error, "connection failed", "the tool's own message is kept, scrubbed")
			require.NoError(t, os.Remove(filepath.Join(bin, "fail")))

			checkEverywhere() // and after a failure that echoed the password
		})
	}
}

// leakRole creates a login role whose password is secret, as weak as production's roles must be: CREATEDB (for
// drills) and SELECT on the source's tables and sequences (granted by the superuser), nothing else. It is
// dropped, with its grants, when the test ends.
func leakRole(t *testing.T, srcURL, secret string) string {
	t.Helper()
	ctx := context.Background()
	var r [6]byte
	_, _ = rand.Read(r[:])
	name := "pisbackup_leak_" + hex.EncodeToString(r[:])
	admin, err := pgx.Connect(ctx, testdb.AdminURL)
	require.NoError(t, err)
	defer admin.Close(ctx)
	_, err = admin.Exec(ctx, "CREATE ROLE "+name+" LOGIN NOSUPERUSER NOCREATEROLE CREATEDB PASSWORD '"+
		strings.ReplaceAll(secret, "'", "''")+"'")
	require.NoError(t, err)
	srcAdmin, err := url.Parse(testdb.AdminURL)
	require.NoError(t, err)
	src, err := pgx.ParseConfig(srcURL)
	require.NoError(t, err)
	srcAdmin.Path = "/" + src.Database
	t.Cleanup(func() {
		if c, err := pgx.Connect(ctx, srcAdmin.String()); err == nil {
			_, _ = c.Exec(ctx, "DROP OWNED BY "+name)
			c.Close(ctx)
		}
		c, err := pgx.Connect(ctx, testdb.AdminURL)
		if err != nil {
			t.Errorf("drop role %s: %v", name, err)
			return
		}
		defer c.Close(ctx)
		_, _ = c.Exec(ctx, "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE usename = $1", name)
		_, _ = c.Exec(ctx, "DROP OWNED BY "+name)
		if _, err := c.Exec(ctx, "DROP ROLE IF EXISTS "+name); err != nil {
			t.Errorf("drop role %s: %v", name, err)
		}
	})
	sc, err := pgx.Connect(ctx, srcAdmin.String())
	require.NoError(t, err)
	defer sc.Close(ctx)
	_, err = sc.Exec(ctx, `DO $$ DECLARE s text; BEGIN
		FOR s IN SELECT nspname FROM pg_namespace WHERE nspname NOT LIKE 'pg\_%' AND nspname <> 'information_schema' LOOP
			EXECUTE format('GRANT USAGE ON SCHEMA %I TO `+name+`', s);
			EXECUTE format('GRANT SELECT ON ALL TABLES IN SCHEMA %I TO `+name+`', s);
			EXECUTE format('GRANT SELECT ON ALL SEQUENCES IN SCHEMA %I TO `+name+`', s);
		END LOOP; END $$`)
	require.NoError(t, err)
	return name
}

// wrapPGTools makes a PG_BIN_DIR whose pg_dump and pg_restore append their argv and environment to
// DIR/record and then exec the real tools. With DIR/fail present they instead fail, echoing the password
// they were given, as a careless tool or driver might.
func wrapPGTools(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	for _, tool := range []string{"pg_dump", "pg_restore"} {
		real, err := exec.LookPath(tool)
		require.NoError(t, err)
		script := fmt.Sprintf(`#!/bin/sh
d=$(dirname "$0")
{ printf 'ARGV %%s' "$0"; for a in "$@"; do printf ' %%s' "$a"; done; printf '\n'; env | sed 's/^/ENV /'; } >> "$d/record"
if [ -f "$d/fail" ] && [ "$1" != "--version" ]; then
  pw=$PGPASSWORD
  [ -n "$PGPASSFILE" ] && pw=$(cut -d: -f5- "$PGPASSFILE")
  echo "%s: error: connection failed for password \"$pw\" ($*)" >&2
  exit 1
fi
exec %s "$@"
`, tool, real)
		require.NoError(t, os.WriteFile(filepath.Join(dir, tool), []byte(script), 0o755))
	}
	return dir
}

// loginHTTP signs in through the login form and returns a client holding the session.
func loginHTTP(t *testing.T, base, email, password string) *http.Client {
	t.Helper()
	jar, err := cookiejar.New(nil)
	require.NoError(t, err)
	c := &http.Client{Jar: jar}
	resp, err := c.PostForm(base+"/login", url.Values{"email": {email}, "password": {password}})
	require.NoError(t, err)
	_, _ = io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	u, _ := url.Parse(base)
	require.NotEmpty(t, jar.Cookies(u), "logged in")
	return c
}

func get(t *testing.T, c *http.Client, u, token string) (int, string) {
	t.Helper()
	req, err := http.NewRequest("GET", u, nil)
	require.NoError(t, err)
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := c.Do(req)
	require.NoError(t, err)
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	return resp.StatusCode, string(b)
}

// lockedBuffer collects log output from the CLI runs and the server's goroutines.
type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) WriteString(s string) { _, _ = l.Write([]byte(s)) }

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}
