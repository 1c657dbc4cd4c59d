package backup_test

import (
	"context"
	"fmt"
	neturl "net/url"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/jackc/pgx/v5"
	"github.com/stretchr/testify/require"

	"github.com/uscpis/pisbackup/internal/backup"
	"github.com/uscpis/pisbackup/internal/crypt"
	"github.com/uscpis/pisbackup/internal/dbconn"
	"github.com/uscpis/pisbackup/internal/pgclient"
	"github.com/uscpis/pisbackup/internal/storage"
	"github.com/uscpis/pisbackup/internal/testdb"
)

// secondCluster starts a fresh PostgreSQL 15 cluster on port (pg_createcluster, as root), with no role but
// postgres and a CREATEDB-only restore role, and drops it when the test ends. It skips where that is not
// possible.
func secondCluster(t *testing.T, port int) (restoreAdmin string) {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("a second PostgreSQL cluster needs root (pg_createcluster); CI runs as root")
	}
	if _, err := exec.LookPath("pg_createcluster"); err != nil {
		t.Skip("pg_createcluster is missing (Debian postgresql-common); cannot start a second server")
	}
	name := fmt.Sprintf("pisbackup_i22_%d", port)
	_ = exec.Command("pg_dropcluster", "15", name, "--stop").Run() // a leftover of a killed run on our port
	out, err := exec.Command("pg_createcluster", "15", name, "-p", fmt.Sprint(port), "--start", "--",
		"--auth-local=trust", "--auth-host=trust").CombinedOutput()
	require.NoError(t, err, string(out))
	t.Cleanup(func() { _ = exec.Command("pg_dropcluster", "15", name, "--stop").Run() })
	su := fmt.Sprintf("postgres://postgres@/postgres?host=/var/run/postgresql&port=%d", port)
	exec1(t, su, "CREATE ROLE pisbackup_restore LOGIN NOSUPERUSER NOCREATEROLE CREATEDB")
	return fmt.Sprintf("postgres://pisbackup_restore@/postgres?host=/var/run/postgresql&port=%d", port)
}

// dumpLines is pg_dump's output for url with args, one string per line, without comments, blank lines and
// the SET/SELECT pg_catalog.set_config preamble.
func dumpLines(t *testing.T, url string, args ...string) []string {
	t.Helper()
	out, err := exec.Command("pg_dump", append(args, "--no-owner", "--dbname="+url)...).Output()
	require.NoError(t, err)
	var lines []string
	for _, l := range strings.Split(string(out), "\n") {
		if l == "" || strings.HasPrefix(l, "--") || strings.HasPrefix(l, "\\restrict") || strings.HasPrefix(l, "\\unrestrict") {
			continue
		}
		lines = append(lines, l)
	}
	return lines
}

// The proof: the demo clinic plus the inputs restored onto a second, fresh server (its own
// port, no roles but the restore role) equals the source in `pg_dump --schema-only` and in sorted data, apart
// from the documented differences: the grant and policy for a role the new server lacks, and the materialized
// view left unpopulated (its REFRESH fails under pg_restore, as with the stock recipe).
func TestRestoreOntoSecondServerMatchesSource(t *testing.T) {
	admin := secondCluster(t, 5422)
	src := testdb.Source(t)
	exec1(t, testdb.AdminURL, "DO $$BEGIN IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'i22_only_here') THEN CREATE ROLE i22_only_here NOLOGIN; END IF; END$$")
	t.Cleanup(func() { _ = exec.Command("psql", "-qc", "DROP ROLE IF EXISTS i22_only_here", testdb.AdminURL).Run() })
	exec1(t, src, `
		CREATE TABLE visits(id int, patient text); INSERT INTO visits VALUES (1,'p1');
		CREATE FUNCTION visit_count(p text) RETURNS bigint LANGUAGE sql STABLE AS 'SELECT count(*) FROM visits WHERE patient=p';
		CREATE MATERIALIZED VIEW patient_stats AS SELECT patient, visit_count(patient) n FROM visits;
		CREATE TABLE guarded(x int); INSERT INTO guarded VALUES (1);
		GRANT SELECT ON guarded TO i22_only_here; CREATE POLICY p ON guarded TO i22_only_here USING (true);`)
	t.Cleanup(func() { exec1(t, src, "DROP TABLE guarded") })

	compareOnSecondServer(t, admin, src, src, "restored", func(l string) bool {
		return strings.Contains(l, "i22_only_here") || strings.Contains(l, "REFRESH MATERIALIZED VIEW public.patient_stats")
	})
}

// pagila (../shared/realdb/pagila, loaded as the superuser) restored onto a second server equals the source.
func TestRestorePagilaOntoSecondServerMatchesSource(t *testing.T) {
	dir := filepath.Join("..", "..", "..", "shared", "realdb", "pagila")
	if _, err := os.Stat(filepath.Join(dir, "pagila-schema.sql")); err != nil {
		dir = "/work/shared/realdb/pagila"
		if _, err := os.Stat(filepath.Join(dir, "pagila-schema.sql")); err != nil {
			t.Skip("pagila sample database not found in ../shared/realdb/pagila")
		}
	}
	admin := secondCluster(t, 5423)
	src := testdb.Empty(t)
	su := asSuperuser(t, src)
	for _, f := range []string{"pagila-schema.sql", "pagila-data.sql"} {
		out, err := exec.Command("psql", "-qX", "-v", "ON_ERROR_STOP=1", "-f", filepath.Join(dir, f), su).CombinedOutput()
		require.NoError(t, err, string(out))
	}
	// pagila's objects belong to postgres; the restore role owns what it restores (--no-owner).
	compareOnSecondServer(t, admin, su, su, "pagila", func(string) bool { return false })
}

// compareOnSecondServer backs up dumpURL, restores it into a new database name on the second server as the
// restore role, and compares schema-only and sorted data-only pg_dump output of cmpURL and the target.
func compareOnSecondServer(t *testing.T, admin, dumpURL, cmpURL, name string, documented func(string) bool) {
	t.Helper()
	ctx := context.Background()
	src := dumpURL
	st, err := storage.Open(ctx, "file://"+t.TempDir(), os.Getenv)
	require.NoError(t, err)
	keys, err := crypt.Load(nil, "", filepath.Join(t.TempDir(), "identity.txt"))
	require.NoError(t, err)
	res, err := backup.DumpDatabase(ctx, backup.DumpOptions{BackupID: 1, Source: dbconn.MustParse(src), Clients: pgclient.Finder{Roots: []string{pgclient.DefaultRoot}}, Store: st, Keys: keys})
	require.NoError(t, err)
	exec1(t, admin, "CREATE DATABASE "+name+" TEMPLATE template0")
	tu, err := neturl.Parse(admin)
	target := ""
	if err == nil {
		tu.Path = "/" + name
		target = tu.String()
	}
	require.NoError(t, err)
	pgRestore, err := exec.LookPath("pg_restore")
	require.NoError(t, err)
	_, probs, content, err := backup.RestoreAndDigest(ctx, backup.Artifact{Store: st, Key: res.Key, Encrypted: true, Identities: keys.Identities}, pgRestore, dbconn.MustParse(target), nil)
	require.NoError(t, err)
	require.Zero(t, probs.DataLost, probs.List)
	// The drill's own comparison agrees: every table, sequence, schema object, materialized view and large
	// object matches, or differs only where a restore problem already says why (an object not created).
	conn, err := pgx.Connect(ctx, target)
	require.NoError(t, err)
	cmp := backup.DrillResult{Problems: probs}
	err = backup.CompareRestored(ctx, conn, backup.Expected{Tables: res.Manifest.Tables, Sequences: res.Manifest.Sequences,
		Inventory: res.Manifest.Inventory, Content: content, DumpSettings: res.Manifest.DumpSettings}, &cmp)
	conn.Close(ctx)
	require.NoError(t, err)
	// Every table's rows were compared with the archive's on the other server, not only counted.
	require.NotEmpty(t, cmp.Tables)
	for _, c := range cmp.Tables {
		require.Equal(t, "same", c.Content, c)
	}
	require.NotContains(t, cmp.Warnings, backup.ContentNotCompared)
	require.NotNil(t, cmp.Objects)
	require.Positive(t, cmp.Objects.SchemaObjects)
	for _, d := range cmp.Objects.Differences {
		require.NotEmpty(t, d.ExplainedBy, d)
	}
	t.Logf("%s: %d schema objects, %d materialized views, %d large objects compared; differences: %+v", name,
		cmp.Objects.SchemaObjects, cmp.Objects.MaterializedViews, cmp.Objects.LargeObjects, cmp.Objects.Differences)

	// Also documented: PostgreSQL re-deparses a CHECK of `varchar = ANY (ARRAY[…])` with per-element casts after
	// a dump and reload (same meaning, other text), so CHECK lines compare without parentheses and ::text casts.
	norm := func(ls []string) []string {
		out := make([]string, len(ls))
		for i, l := range ls {
			if strings.Contains(l, " CHECK (") {
				l = strings.NewReplacer("(", "", ")", "", "::text[]", "", "::text", "").Replace(l)
			}
			out[i] = l
		}
		return out
	}
	diff := func(a, b []string) []string {
		a, b = norm(a), norm(b)
		var out []string
		for _, l := range a {
			if i := slices.Index(b, l); i >= 0 {
				b = slices.Delete(b, i, i+1)
			} else if !documented(l) {
				out = append(out, "- "+l)
			}
		}
		for _, l := range b {
			if !documented(l) {
				out = append(out, "+ "+l)
			}
		}
		return out
	}
	srcAsSuper := asSuperuser(t, cmpURL)
	require.Empty(t, diff(dumpLines(t, srcAsSuper, "--schema-only"), dumpLines(t, target, "--schema-only")), "schema differs")
	sd, td := dumpLines(t, srcAsSuper, "--data-only"), dumpLines(t, target, "--data-only")
	slices.Sort(sd)
	slices.Sort(td)
	require.Empty(t, diff(sd, td), "data differs")
	require.Equal(t, testdb.TableDigests(t, dbconn.MustParse(src)), testdb.TableDigests(t, dbconn.MustParse(target)))
}

// Issue 22, "create missing referenced roles (NOLOGIN) when asked to": a policy and a grant for a role only
// the source server has. Without ROLE_ADMIN_DATABASE_URL nothing is created and the refusal gives the
// statements to run; a role admin on another server is refused; on the restore server it creates exactly the
// missing roles, NOLOGIN, and the restore then carries the grant and the policy (no documented difference
// left for them).
func TestCreateMissingRolesOnSecondServer(t *testing.T) {
	admin := secondCluster(t, 5424)
	ctx := context.Background()
	src := testdb.Source(t)
	exec1(t, testdb.AdminURL, "DO $$BEGIN IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'i22_cr_role') THEN CREATE ROLE i22_cr_role NOLOGIN; END IF; END$$")
	t.Cleanup(func() { _ = exec.Command("psql", "-qc", "DROP ROLE IF EXISTS i22_cr_role", testdb.AdminURL).Run() })
	exec1(t, src, `CREATE TABLE guarded(x int); INSERT INTO guarded VALUES (1);
		GRANT SELECT ON guarded TO i22_cr_role; CREATE POLICY p ON guarded TO i22_cr_role USING (true);`)
	t.Cleanup(func() { exec1(t, src, "DROP TABLE guarded") })

	st, err := storage.Open(ctx, "file://"+t.TempDir(), os.Getenv)
	require.NoError(t, err)
	res, err := backup.DumpDatabase(ctx, backup.DumpOptions{BackupID: 1, Source: dbconn.MustParse(src), Clients: pgclient.Finder{Roots: []string{pgclient.DefaultRoot}}, Store: st})
	require.NoError(t, err)
	require.Contains(t, res.Manifest.Roles, "i22_cr_role")
	restoreServer := dbconn.MustParse(admin)

	_, err = backup.CreateMissingRoles(ctx, nil, restoreServer, res.Manifest.Roles)
	require.ErrorIs(t, err, backup.ErrNoRoleAdmin)
	require.Contains(t, err.Error(), `CREATE ROLE "i22_cr_role" NOLOGIN;`)
	require.NotContains(t, err.Error(), "\n")

	_, err = backup.CreateMissingRoles(ctx, dbconn.MustParse(testdb.AdminURL), restoreServer, res.Manifest.Roles)
	require.ErrorContains(t, err, "does not reach the restore server")

	su := strings.Replace(admin, "pisbackup_restore@", "postgres@", 1)
	created, err := backup.CreateMissingRoles(ctx, dbconn.MustParse(su), restoreServer, res.Manifest.Roles)
	require.NoError(t, err)
	require.Contains(t, created, "i22_cr_role")
	var login bool
	conn, err := restoreServer.Connect(ctx)
	require.NoError(t, err)
	require.NoError(t, conn.QueryRow(ctx, "SELECT rolcanlogin FROM pg_roles WHERE rolname = 'i22_cr_role'").Scan(&login))
	missing, err := backup.MissingRoles(ctx, conn, res.Manifest.Roles)
	require.NoError(t, err)
	conn.Close(ctx)
	require.False(t, login, "created roles cannot sign in")
	require.Empty(t, missing)
	again, err := backup.CreateMissingRoles(ctx, dbconn.MustParse(su), restoreServer, res.Manifest.Roles)
	require.NoError(t, err)
	require.Empty(t, again, "nothing left to create")

	compareOnSecondServer(t, admin, src, src, "roles_created", func(string) bool { return false })
}
