package recordrecovery_test

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/stretchr/testify/require"

	"github.com/uscpis/pisbackup/internal/backup"
	"github.com/uscpis/pisbackup/internal/crypt"
	"github.com/uscpis/pisbackup/internal/dbconn"
	"github.com/uscpis/pisbackup/internal/pgclient"
	"github.com/uscpis/pisbackup/internal/recordrecovery"
	"github.com/uscpis/pisbackup/internal/storage"
	"github.com/uscpis/pisbackup/internal/testdb"
	"github.com/uscpis/pisbackup/queries"
)

var nextID atomic.Int64

// fixture is a backup of a fresh demo clinic database and what comparing against it needs.
type fixture struct {
	src  string
	live *pgx.Conn
	opts recordrecovery.Options
	keys *crypt.Keys
	st   storage.Store
	q    *queries.Queries
}

func newFixture(t *testing.T, before ...string) *fixture {
	t.Helper()
	ctx := context.Background()
	src := testdb.Source(t)
	if len(before) > 0 {
		c, err := pgx.Connect(ctx, src)
		require.NoError(t, err)
		for _, sql := range before {
			_, err = c.Exec(ctx, sql)
			require.NoError(t, err)
		}
		c.Close(ctx)
	}
	st, err := storage.Open(ctx, "file://"+t.TempDir(), os.Getenv)
	require.NoError(t, err)
	keys, err := crypt.Load(nil, "", filepath.Join(t.TempDir(), "identity.txt"))
	require.NoError(t, err)
	pgRestore, err := exec.LookPath("pg_restore")
	require.NoError(t, err)
	key := dump(t, src, st, keys, 1)
	pool, catalog := testdb.Catalog(t)
	g := &backup.Guard{Admin: dbconn.MustParse(testdb.RestoreURL(t, src)).WithDatabase("postgres"), AdminVar: "RESTORE_DATABASE_URL", Q: queries.New(pool)}
	g.Catalog, err = dbconn.Parse(catalog)
	require.NoError(t, err)
	g.Source, err = dbconn.Parse(src)
	require.NoError(t, err)
	live, err := pgx.Connect(ctx, src)
	require.NoError(t, err)
	t.Cleanup(func() { live.Close(context.Background()) })
	return &fixture{src: src, live: live, keys: keys, st: st, q: queries.New(pool), opts: recordrecovery.Options{
		Artifact:  backup.Artifact{Store: st, Key: key, Encrypted: true, Identities: keys.Identities},
		PGRestore: pgRestore, Guard: g, ID: time.Now().UnixNano()%1e9 + nextID.Add(1), Live: g.Source,
	}}
}

// dump backs up the database src into st and returns the artifact's key.
func dump(t *testing.T, src string, st storage.Store, keys *crypt.Keys, id int64) string {
	t.Helper()
	res, err := backup.DumpDatabase(context.Background(), backup.DumpOptions{BackupID: id, Trigger: "cli", Source: dbconn.MustParse(src),
		Clients: pgclient.Finder{Roots: []string{pgclient.DefaultRoot}}, Store: st, Keys: keys})
	require.NoError(t, err)
	return res.Key
}

// rebackup backs the source up again: the fixture compares with the new backup.
func (f *fixture) rebackup(t *testing.T) *fixture {
	f.opts.Artifact.Key = dump(t, f.src, f.st, f.keys, 2)
	return f
}

func (f *fixture) exec(t *testing.T, sql string, args ...any) {
	t.Helper()
	_, err := f.live.Exec(context.Background(), sql, args...)
	require.NoError(t, err)
}

func (f *fixture) count(t *testing.T, sql string, args ...any) int {
	t.Helper()
	var n int
	require.NoError(t, f.live.QueryRow(context.Background(), sql, args...).Scan(&n))
	return n
}

// patientWithChildren is a patient that has consultations and documents.
func (f *fixture) patientWithChildren(t *testing.T) int64 {
	t.Helper()
	var id int64
	require.NoError(t, f.live.QueryRow(context.Background(), `SELECT p.id FROM patients_patient p
		WHERE EXISTS (SELECT 1 FROM patients_medicalrecord m WHERE m.patient_id = p.id)
		  AND EXISTS (SELECT 1 FROM file_uploads_patientdocument d WHERE d.patient_id = p.id) ORDER BY p.id LIMIT 1`).Scan(&id))
	return id
}

func keyOf(t *testing.T, s string) recordrecovery.Key {
	k, err := recordrecovery.ParseKey(s)
	require.NoError(t, err)
	return k
}

func TestCompareFindsDeletedPatientWithRelatedRows(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	f := newFixture(t)
	id := f.patientWithChildren(t)
	consultations := f.count(t, `SELECT count(*) FROM patients_medicalrecord WHERE patient_id = $1`, id)
	for _, tb := range []string{"patients_medicalrecord", "patients_dentalrecord", "file_uploads_patientdocument",
		"medical_certificates_medicalcertificate", "feedback_feedback"} {
		f.exec(t, "DELETE FROM "+tb+" WHERE patient_id = $1", id)
	}
	f.exec(t, `DELETE FROM patients_patient WHERE id = $1`, id)
	o := f.opts
	o.Table, o.Keys, o.WithRelated = "patients_patient", []recordrecovery.Key{keyOf(t, "id="+itoa(id))}, true
	d, err := recordrecovery.Compare(ctx, o)
	require.NoError(t, err)
	byTable := map[string]recordrecovery.TableDiff{}
	for _, td := range d.Tables {
		byTable[td.Table] = td
	}
	require.Equal(t, 1, byTable["public.patients_patient"].Missing)
	require.Equal(t, consultations, byTable["public.patients_medicalrecord"].Missing)
	require.Equal(t, "child", byTable["public.patients_medicalrecord"].Role)
	require.Equal(t, "parent", byTable["public.authentication_user"].Role)
	require.Zero(t, byTable["public.authentication_user"].Missing, "the patient's user was not deleted")
	require.NotContains(t, byTable, "public.notifications_notification", "children of parents are not followed")
	exists, err := backup.DatabaseExists(ctx, o.Guard.Admin, d.Scratch)
	require.NoError(t, err)
	require.False(t, exists, "the scratch database is dropped")
}

func itoa(n int64) string { return strconvFormat(n) }

func strconvFormat(n int64) string { return fmt.Sprint(n) }

// snapshot is every row (to_jsonb text, sorted) of the tables a patient's recovery touches, for that patient.
func (f *fixture) snapshot(t *testing.T, id int64) []string {
	t.Helper()
	var out []string
	for _, q := range []string{
		`SELECT to_jsonb(t)::text FROM patients_patient t WHERE id = $1`,
		`SELECT to_jsonb(t)::text FROM patients_medicalrecord t WHERE patient_id = $1`,
		`SELECT to_jsonb(t)::text FROM patients_dentalrecord t WHERE patient_id = $1`,
		`SELECT to_jsonb(t)::text FROM file_uploads_patientdocument t WHERE patient_id = $1`,
		`SELECT to_jsonb(t)::text FROM medical_certificates_medicalcertificate t WHERE patient_id = $1`,
		`SELECT to_jsonb(t)::text FROM feedback_feedback t WHERE patient_id = $1`,
	} {
		rows, err := f.live.Query(context.Background(), q+" ORDER BY 1", id)
		require.NoError(t, err)
		for rows.Next() {
			var s string
			require.NoError(t, rows.Scan(&s))
			out = append(out, s)
		}
		require.NoError(t, rows.Err())
	}
	return out
}

func (f *fixture) deletePatient(t *testing.T, id int64) {
	for _, tb := range []string{"patients_medicalrecord", "patients_dentalrecord", "file_uploads_patientdocument",
		"medical_certificates_medicalcertificate", "feedback_feedback"} {
		f.exec(t, "DELETE FROM "+tb+" WHERE patient_id = $1", id)
	}
	f.exec(t, `DELETE FROM patients_patient WHERE id = $1`, id)
}

// apply compares, plans and applies, keeping the undo artifact in the fixture's store.
func (f *fixture) apply(t *testing.T, o recordrecovery.Options, overwrite bool) ([]recordrecovery.Touched, recordrecovery.Undo, error) {
	t.Helper()
	ctx := context.Background()
	d, err := recordrecovery.Compare(ctx, o)
	require.NoError(t, err)
	p, err := recordrecovery.NewPlan(d, overwrite)
	require.NoError(t, err)
	var undo recordrecovery.Undo
	key := fmt.Sprintf("recovery-undo/%d.json.zst.age", o.ID)
	touched, err := p.Apply(ctx, f.opts.Live, func(u recordrecovery.Undo) error {
		_, _, err := recordrecovery.SaveUndo(ctx, f.st, f.keys.Recipients, key, u)
		return err
	})
	if err == nil {
		undo, err = recordrecovery.LoadUndo(ctx, backup.Artifact{Store: f.st, Key: key, Encrypted: true, Identities: f.keys.Identities})
		require.NoError(t, err)
	}
	return touched, undo, err
}

func hashes(ts []recordrecovery.Touched) map[string]string {
	m := map[string]string{}
	for _, x := range ts {
		m[x.Table+" "+x.Key] = x.AfterSHA256
	}
	return m
}

// The proof: a patient deleted with consultations and documents comes back, row for row, from the
// backup with --with-related --apply; --undo takes the recovery back.
func TestApplyBringsBackDeletedPatientAndUndoReverses(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	f := newFixture(t)
	id := f.patientWithChildren(t)
	before := f.snapshot(t, id)
	require.NotEmpty(t, before)
	f.deletePatient(t, id)
	afterDelete := f.snapshot(t, id)
	require.Empty(t, afterDelete)
	o := f.opts
	o.Table, o.Keys, o.WithRelated = "patients_patient", []recordrecovery.Key{keyOf(t, "id="+itoa(id))}, true
	touched, undo, err := f.apply(t, o, false)
	require.NoError(t, err)
	require.Len(t, touched, len(before), "one insert per deleted row")
	require.Equal(t, before, f.snapshot(t, id), "the live rows equal the backup's")
	require.Len(t, undo.Rows, len(before))

	n, err := recordrecovery.Reverse(ctx, f.opts.Live, undo, hashes(touched))
	require.NoError(t, err)
	require.Equal(t, len(before), n)
	require.Empty(t, f.snapshot(t, id), "undo removed what the recovery inserted")
}

// Overwriting one consultation note and recovering only that row with overwrite restores the note and
// nothing else; without overwrite the changed row is left alone.
func TestOverwriteRestoresOneChangedNote(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	f := newFixture(t)
	var mid int64
	var note string
	require.NoError(t, f.live.QueryRow(ctx, `SELECT id, treatment FROM patients_medicalrecord ORDER BY id LIMIT 1`).Scan(&mid, &note))
	f.exec(t, `UPDATE patients_medicalrecord SET treatment = 'saved over by mistake' WHERE id = $1`, mid)
	f.exec(t, `UPDATE patients_medicalrecord SET treatment = 'another edit since the backup' WHERE id = $1`, mid+1)
	o := f.opts
	o.Table, o.Keys = "patients_medicalrecord", []recordrecovery.Key{keyOf(t, "id="+itoa(mid))}
	d, err := recordrecovery.Compare(ctx, o)
	require.NoError(t, err)
	require.Len(t, d.Rows, 1)
	require.Equal(t, recordrecovery.Changed, d.Rows[0].Status)
	require.Equal(t, "treatment", d.Rows[0].Changes[0].Column)
	p, err := recordrecovery.NewPlan(d, false)
	require.NoError(t, err)
	require.Empty(t, p.Steps, "without overwrite a changed row is not written")
	require.Equal(t, 1, p.Skipped)

	o.ID++
	touched, undo, err := f.apply(t, o, true)
	require.NoError(t, err)
	require.Len(t, touched, 1)
	var got string
	require.NoError(t, f.live.QueryRow(ctx, `SELECT treatment FROM patients_medicalrecord WHERE id = $1`, mid).Scan(&got))
	require.Equal(t, note, got)
	require.NoError(t, f.live.QueryRow(ctx, `SELECT treatment FROM patients_medicalrecord WHERE id = $1`, mid+1).Scan(&got))
	require.Equal(t, "another edit since the backup", got, "only the chosen row was recovered")

	_, err = recordrecovery.Reverse(ctx, f.opts.Live, undo, hashes(touched))
	require.NoError(t, err)
	require.NoError(t, f.live.QueryRow(ctx, `SELECT treatment FROM patients_medicalrecord WHERE id = $1`, mid).Scan(&got))
	require.Equal(t, "saved over by mistake", got, "undo puts the overwritten value back")
}

// A recovery that violates a constraint writes nothing: the deleted patient's consultations come back
// without the patient (no --with-related) and the deferred foreign key fails at COMMIT.
func TestConstraintViolationWritesNothing(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	id := f.patientWithChildren(t)
	f.deletePatient(t, id)
	o := f.opts
	o.Table, o.Where = "patients_medicalrecord", "patient_id = "+itoa(id)
	_, _, err := f.apply(t, o, false)
	require.Error(t, err)
	require.Contains(t, err.Error(), "nothing was written")
	require.Contains(t, err.Error(), "foreign key")
	require.Zero(t, f.count(t, `SELECT count(*) FROM patients_medicalrecord WHERE patient_id = $1`, id))
}

// Undo refuses when a row it would reverse was edited after the recovery.
func TestUndoRefusesAfterLaterEdit(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	f := newFixture(t)
	id := f.patientWithChildren(t)
	f.deletePatient(t, id)
	o := f.opts
	o.Table, o.Keys, o.WithRelated = "patients_patient", []recordrecovery.Key{keyOf(t, "id="+itoa(id))}, true
	touched, undo, err := f.apply(t, o, false)
	require.NoError(t, err)
	f.exec(t, `UPDATE patients_medicalrecord SET treatment = 'edited after recovery' WHERE patient_id = $1`, id)
	_, err = recordrecovery.Reverse(ctx, f.opts.Live, undo, hashes(touched))
	require.ErrorContains(t, err, "nothing was undone")
	require.NotZero(t, f.count(t, `SELECT count(*) FROM patients_patient WHERE id = $1`, id))
}

func TestRefusals(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	f := newFixture(t)
	f.exec(t, `CREATE TABLE audit_nopk (patient_id bigint, note text)`)
	o := f.opts
	for _, tc := range []struct{ table, where, want string }{
		{"patients_patient", "id = 1; DROP TABLE patients_patient", "cannot read"},
		{"patients_patient", "nosuch = 1", "no column"},
		{"patients_patient", "", "choose rows"},
		{"nosuch_table", "id = 1", "not in the backup"},
	} {
		o.Table, o.Where = tc.table, tc.where
		o.ID++
		_, err := recordrecovery.Compare(ctx, o)
		require.ErrorContains(t, err, tc.want, tc.where)
	}
}

// A chosen table without a primary key is refused with the reason; a related one is listed as refused and
// never written.
func TestTablesWithoutPrimaryKeyAreRefused(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	f := newFixture(t, `CREATE TABLE patient_notes_nopk (patient_id bigint REFERENCES patients_patient (id), note text)`,
		`INSERT INTO patient_notes_nopk SELECT id, 'note' FROM patients_patient ORDER BY id LIMIT 3`)
	o := f.opts
	o.Table, o.Where = "patient_notes_nopk", "note = 'note'"
	_, err := recordrecovery.Compare(ctx, o)
	require.ErrorContains(t, err, "has no primary key")

	var id int64
	require.NoError(t, f.live.QueryRow(ctx, `SELECT min(patient_id) FROM patient_notes_nopk`).Scan(&id))
	f.exec(t, `DELETE FROM patient_notes_nopk WHERE patient_id = $1`, id)
	o.ID++
	o.Table, o.Where, o.Keys, o.WithRelated = "patients_patient", "", []recordrecovery.Key{keyOf(t, "id="+itoa(id))}, true
	d, err := recordrecovery.Compare(ctx, o)
	require.NoError(t, err)
	var refused string
	for _, td := range d.Tables {
		if td.Table == "public.patient_notes_nopk" {
			refused = td.Refused
		}
	}
	require.Contains(t, refused, "no primary key")
	p, err := recordrecovery.NewPlan(d, true)
	require.NoError(t, err)
	for _, s := range p.Steps {
		require.NotEqual(t, "public.patient_notes_nopk", s.Table)
	}
}

// --apply refuses a write connection that reaches another database than the clinic's, by asking the server.
func TestSameDatabaseAsksTheServer(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	f := newFixture(t)
	other, err := dbconn.Parse(testdb.Source(t))
	require.NoError(t, err)
	require.ErrorContains(t, recordrecovery.SameDatabase(ctx, other, f.opts.Live), "not the clinic database")
	require.NoError(t, recordrecovery.SameDatabase(ctx, f.opts.Live, f.opts.Live))
}
