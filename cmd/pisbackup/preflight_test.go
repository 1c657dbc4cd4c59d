package main

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"filippo.io/age"
	"github.com/jackc/pgx/v5"
	"github.com/johannesboyne/gofakes3"
	"github.com/johannesboyne/gofakes3/backend/s3mem"
	"github.com/stretchr/testify/require"

	"github.com/uscpis/pisbackup/internal/cloudinary/cloudinarytest"
	"github.com/uscpis/pisbackup/internal/mail/mailtest"
	"github.com/uscpis/pisbackup/internal/pgclient/pgclienttest"
	"github.com/uscpis/pisbackup/internal/preflight"
	"github.com/uscpis/pisbackup/internal/testdb"
)

// preflightLines runs `pisbackup preflight` and returns its exit code and the line of each named check.
func preflightLines(t *testing.T, env map[string]string) (int, map[string]string, string) {
	t.Helper()
	out, stderr, code := runCLI(t, env, "preflight")
	lines := map[string]string{}
	for _, l := range strings.Split(out, "\n") {
		f := strings.Fields(l)
		if len(f) > 1 && f[0] != "preflight:" {
			lines[strings.TrimSuffix(f[1], ":")] = l
		}
	}
	return code, lines, out + stderr
}

// A healthy configuration passes every check and exits 0; --json says the same.
func TestPreflightAllPass(t *testing.T) {
	t.Parallel()
	env := cliEnv(t)
	code, lines, all := preflightLines(t, env)
	require.Equal(t, 0, code, all)
	require.Contains(t, all, "preflight: all 11 checks passed")
	for _, name := range []string{"catalog", "source", "source_tables", "pg_dump", "restore_server", "restore_role", "pg_restore", "storage", "age"} {
		require.True(t, strings.HasPrefix(lines[name], "ok   "+name+":"), "%s: %q", name, lines[name])
	}
	require.True(t, strings.HasPrefix(lines["sendgrid"], "skip"), lines["sendgrid"])

	out, _, code := runCLI(t, env, "preflight", "--json")
	require.Equal(t, 0, code)
	var r preflight.Report
	require.NoError(t, json.Unmarshal([]byte(out), &r), out)
	require.True(t, r.OK)
	require.Len(t, r.Checks, 11)
	files, _ := os.ReadDir(strings.TrimPrefix(env["BACKUP_STORAGE"], "file://"))
	for _, f := range files {
		require.Equal(t, ".tmp", f.Name(), "the storage probe must leave nothing behind")
	}
}

// PG_BIN_DIR older than the server fails naming both versions; a compatible one passes.
func TestPreflightPGBinDirVersions(t *testing.T) {
	t.Parallel()
	env := cliEnv(t)
	env["PG_BIN_DIR"] = pgclienttest.BinDir(t, "14.9")
	code, lines, all := preflightLines(t, env)
	require.Equal(t, 1, code, all)
	require.Contains(t, lines["pg_dump"], "FAIL pg_dump: pg_dump in PG_BIN_DIR is 14.9")
	require.Contains(t, lines["pg_dump"], "older than the server's PostgreSQL 15 (server 15.")
	require.Contains(t, lines["pg_dump"], "Fix: point PG_BIN_DIR at a pg_dump 15 or newer")
	require.Contains(t, lines["pg_restore"], "FAIL pg_restore: pg_restore in PG_BIN_DIR is 14.9")
	require.Contains(t, all, "preflight: 2 of 11 checks failed")

	env["PG_BIN_DIR"] = pgclienttest.BinDir(t, "16.4")
	code, lines, all = preflightLines(t, env)
	require.Equal(t, 0, code, all)
	require.Contains(t, lines["pg_dump"], "pg_dump 16.4 at "+filepath.Join(env["PG_BIN_DIR"], "pg_dump")+" for server 15.")
}

// With installed clients 14, 15 and 17 the newest is chosen; with only older ones preflight and the backup
// itself fail naming the server's major and the clients found.
func TestPreflightAndBackupWithInstalledClients(t *testing.T) {
	t.Parallel()
	env := cliEnv(t)
	root := pgclienttest.Layout(t, "14.9", "15.20", "17.1")
	env["PG_CLIENT_SEARCH_ROOT"] = root
	code, lines, all := preflightLines(t, env)
	require.Equal(t, 0, code, all)
	require.Contains(t, lines["pg_dump"], "pg_dump 17.1 at "+filepath.Join(root, "17", "bin", "pg_dump"))
	require.Contains(t, lines["pg_restore"], "pg_restore 17.1 at "+filepath.Join(root, "17", "bin", "pg_restore"))

	old := pgclienttest.Layout(t, "13.16", "14.9")
	env["PG_CLIENT_SEARCH_ROOT"] = old
	code, lines, all = preflightLines(t, env)
	require.Equal(t, 1, code, all)
	require.Contains(t, lines["pg_dump"], "FAIL pg_dump: no pg_dump for PostgreSQL 15: the server runs 15.")
	require.Contains(t, lines["pg_dump"], "14.9 ("+filepath.Join(old, "14", "bin", "pg_dump")+"), 13.16 (")
	require.Contains(t, lines["pg_dump"], "Fix: install postgresql-client-15 or newer")

	out, stderr, code := runCLI(t, env, "create-backup", "--type", "database", "--json")
	require.Equal(t, 1, code, stderr)
	var b backupJSON
	require.NoError(t, json.Unmarshal([]byte(out), &b), out)
	require.Equal(t, "failed", b.Status)
	require.Contains(t, b.Error, "no pg_dump for PostgreSQL 15")
	require.Contains(t, b.Error, "14.9 ("+filepath.Join(old, "14", "bin", "pg_dump")+")")
}

// A table the backup role may not read fails preflight with the table and the GRANT that fixes it.
func TestPreflightUnreadableTable(t *testing.T) {
	t.Parallel()
	env := cliEnv(t)
	adminExec(t, env["SOURCE_DATABASE_URL"], `CREATE TABLE public.secret_notes (id int)`)
	code, lines, all := preflightLines(t, env)
	require.Equal(t, 1, code, all)
	require.Contains(t, lines["source_tables"], `FAIL source_tables: backup role "`+testdb.OwnerRole+`" cannot read 1 of`)
	require.Contains(t, lines["source_tables"], "public.secret_notes (no SELECT)")
	require.Contains(t, lines["source_tables"], `GRANT SELECT ON "public"."secret_notes" TO "`+testdb.OwnerRole+`";`)

	adminExec(t, env["SOURCE_DATABASE_URL"], `GRANT SELECT ON public.secret_notes TO `+testdb.OwnerRole)
	code, _, all = preflightLines(t, env)
	require.Equal(t, 0, code, all)
}

// A superuser restore role fails preflight, naming the role and what to do.
func TestPreflightSuperuserRestoreRole(t *testing.T) {
	t.Parallel()
	env := cliEnv(t)
	env["RESTORE_DATABASE_URL"] = testdb.LoginRole(t, env["SOURCE_DATABASE_URL"], "SUPERUSER")
	code, lines, all := preflightLines(t, env)
	require.Equal(t, 1, code, all)
	// The words are backup.CheckRestoreRole's (issue 13 refines them); preflight adds the name and "Fix:".
	require.True(t, strings.HasPrefix(lines["restore_role"], "FAIL restore_role: "), lines["restore_role"])
	require.Contains(t, lines["restore_role"], `"pisbackup_t_`)
	require.Contains(t, lines["restore_role"], "is a superuser")
	require.Contains(t, lines["restore_role"], "Fix: ")
	require.Contains(t, lines["restore_role"], "CREATEDB")
	require.Contains(t, all, "preflight: 1 of 11 checks failed")
}

// Issue 13 §1: with RESTORE_DATABASE_URL unset, drills would run a dump's SQL as the clinic's own role, which
// owns the clinic database. Preflight and every command that drills refuse it, naming where the role came from
// and the database it owns.
func TestClinicOwnerNeverDrills(t *testing.T) {
	t.Parallel()
	env := cliEnv(t)
	b := cliBackup(t, env)
	delete(env, "RESTORE_DATABASE_URL")
	clinic := testdb.DatabaseName(t, env["SOURCE_DATABASE_URL"])
	code, lines, all := preflightLines(t, env)
	require.Equal(t, 1, code, all)
	require.Contains(t, lines["restore_role"], "from SOURCE_DATABASE_URL (RESTORE_DATABASE_URL is not set)")
	require.Contains(t, lines["restore_role"], "owns database "+clinic+" (the clinic database, SOURCE_DATABASE_URL)")
	for _, args := range [][]string{{"verify-backup", "--latest", "--level", "drill"},
		{"restore", strconv.FormatInt(b.ID, 10), "--target-db", "pisbackup_i13_owner_never"}} {
		_, stderr, code := runCLI(t, env, args...)
		require.Equal(t, 1, code, "%v: %s", args, stderr)
		last := strings.TrimSpace(stderr[strings.LastIndex(strings.TrimSpace(stderr), "\n")+1:])
		require.True(t, strings.HasPrefix(last, "RESTORE_DATABASE_URL: "), "%v: %s", args, stderr)
		require.Contains(t, last, "owns database "+clinic)
	}
}

// Storage the credentials may read but not write (an S3 bucket behind a read-only key) fails the probe.
func TestPreflightReadOnlyStorage(t *testing.T) {
	t.Parallel()
	env := cliEnv(t)
	mem := s3mem.New()
	require.NoError(t, mem.CreateBucket("backups"))
	s3 := gofakes3.New(mem).Server()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodGet && r.Method != http.MethodHead {
			w.Header().Set("Content-Type", "application/xml")
			w.WriteHeader(http.StatusForbidden)
			_, _ = w.Write([]byte(`<?xml version="1.0" encoding="UTF-8"?><Error><Code>AccessDenied</Code><Message>Access Denied</Message></Error>`))
			return
		}
		s3.ServeHTTP(w, r)
	}))
	t.Cleanup(srv.Close)
	env["BACKUP_STORAGE"] = "s3://backups/clinic?endpoint=" + strings.TrimPrefix(srv.URL, "http://") + "&region=us-east-1&insecure=true"
	env["AWS_ACCESS_KEY_ID"], env["AWS_SECRET_ACCESS_KEY"] = "readonly", "readonly-secret"
	code, lines, all := preflightLines(t, env)
	require.Equal(t, 1, code, all)
	require.Contains(t, lines["storage"], "FAIL storage: storage s3://backups/clinic")
	require.Contains(t, lines["storage"], "writing the probe object failed")
	require.Contains(t, lines["storage"], "Access Denied")
	require.Contains(t, lines["storage"], "Fix: make BACKUP_STORAGE writable")
	require.NotContains(t, all, "readonly-secret")
}

// An identity that opens none of the recipients fails: drills and restores could not decrypt new backups.
func TestPreflightWrongAgeIdentity(t *testing.T) {
	t.Parallel()
	env := cliEnv(t)
	other, err := age.GenerateX25519Identity()
	require.NoError(t, err)
	env["BACKUP_AGE_RECIPIENTS"] = other.Recipient().String()
	code, lines, all := preflightLines(t, env)
	require.Equal(t, 1, code, all)
	require.Contains(t, lines["age"], "FAIL age: the identity in "+env["BACKUP_AGE_IDENTITY_FILE"]+" matches none of the 1 recipient(s)")
	require.Contains(t, lines["age"], "Fix: point BACKUP_AGE_IDENTITY_FILE at the identity")

	mine, err := os.ReadFile(env["BACKUP_AGE_IDENTITY_FILE"])
	require.NoError(t, err)
	id, err := age.ParseX25519Identity(strings.TrimSpace(string(mine)))
	require.NoError(t, err)
	env["BACKUP_AGE_RECIPIENTS"] = other.Recipient().String() + "," + id.Recipient().String() // an offline key and ours
	code, _, all = preflightLines(t, env)
	require.Equal(t, 0, code, all)
}

// A SendGrid key the (local, SendGrid-compatible) API refuses fails; the right key passes; nothing is sent.
func TestPreflightSendGridKey(t *testing.T) {
	t.Parallel()
	env := cliEnv(t)
	sg := mailtest.NewSendGrid(t, "SG.right-key", func(int) int { return http.StatusAccepted })
	env["SENDGRID_API_URL"], env["SENDGRID_API_KEY"], env["DEFAULT_FROM_EMAIL"] = sg.URL, "SG.wrong-key", mailtest.VerifiedSender
	code, lines, all := preflightLines(t, env)
	require.Equal(t, 1, code, all)
	require.Contains(t, lines["sendgrid"], "FAIL sendgrid: SendGrid answered 401: The provided authorization grant is invalid")
	require.Contains(t, lines["sendgrid"], "Fix: create a SendGrid API key with the Mail Send permission")
	require.NotContains(t, all, "SG.wrong-key")

	env["SENDGRID_API_KEY"] = "SG.right-key"
	code, lines, all = preflightLines(t, env)
	require.Equal(t, 0, code, all)
	require.Contains(t, lines["sendgrid"], "ok   sendgrid:")
	require.Empty(t, sg.Requests(), "checking the key sends no e-mail")
}

// Cloudinary credentials the (local) Admin API refuses fail; the right ones pass.
func TestPreflightCloudinaryCredentials(t *testing.T) {
	t.Parallel()
	env := cliEnv(t)
	srv := cloudinarytest.New(t)
	env["CLOUDINARY_URL"] = strings.Replace(srv.CloudinaryURL(), ":"+srv.Secret+"@", ":wrong-secret@", 1)
	code, lines, all := preflightLines(t, env)
	require.Equal(t, 1, code, all)
	require.Contains(t, lines["cloudinary"], "FAIL cloudinary:")
	require.Contains(t, lines["cloudinary"], "Fix: check CLOUDINARY_URL")
	require.NotContains(t, all, "wrong-secret")

	env["CLOUDINARY_URL"] = srv.CloudinaryURL()
	code, _, all = preflightLines(t, env)
	require.Equal(t, 0, code, all)
}

// An unmigrated or unreachable catalog is a failing check, not a crash before the other checks.
func TestPreflightCatalog(t *testing.T) {
	t.Parallel()
	env := cliEnv(t)
	env["DATABASE_URL"] = testdb.Empty(t)
	code, lines, all := preflightLines(t, env)
	require.Equal(t, 1, code, all)
	require.Contains(t, lines["catalog"], "FAIL catalog: the catalog is not migrated")
	require.Contains(t, lines["catalog"], "Fix: run `pisbackup migrate`")
	require.Contains(t, lines["storage"], "ok   storage:", "the other checks still ran")

	env["DATABASE_URL"] = "postgres://u:pw-secret@127.0.0.1:1/x"
	code, lines, all = preflightLines(t, env)
	require.Equal(t, 1, code, all)
	require.Contains(t, lines["catalog"], "FAIL catalog: cannot reach pisbackup's database")
	require.NotContains(t, all, "pw-secret")
}

// adminExec runs sql in the database of dbURL as the test server's superuser (arranging the source the way a
// clinic's own migrations would, with tables the backup role does not own).
func adminExec(t *testing.T, dbURL, sql string) {
	t.Helper()
	u, err := url.Parse(dbURL)
	require.NoError(t, err)
	a, err := url.Parse(testdb.AdminURL)
	require.NoError(t, err)
	a.Path = u.Path
	conn, err := pgx.Connect(context.Background(), a.String())
	require.NoError(t, err)
	defer conn.Close(context.Background())
	_, err = conn.Exec(context.Background(), sql)
	require.NoError(t, err)
}
