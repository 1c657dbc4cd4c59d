package recordrecovery_test

import (
	"context"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/uscpis/pisbackup/internal/backup"
	"github.com/uscpis/pisbackup/internal/dbconn"
	"github.com/uscpis/pisbackup/internal/recordrecovery"
)

// hostile adds tables that exercise the filtered data pass: a quoted name with a doubled quote, columns named
// with a newline, a tab and a quote, values full of escapes, a self-reference (decided after the stream, by
// repeating), a grandchild that streams before its parent table (deferred), and a text foreign key (not
// comparable as printed: its parent table is loaded whole).
var hostile = []string{
	`CREATE TABLE "Weird ""Name""" (id bigint PRIMARY KEY, "pat
ient" bigint REFERENCES patients_patient (id), "par""ent" bigint REFERENCES "Weird ""Name""" (id), "a	b" text, note text)`,
	`CREATE TABLE aaa_grandchild (id integer PRIMARY KEY, record_id bigint REFERENCES patients_medicalrecord (id), body text)`,
	`CREATE TABLE code_parent (code text PRIMARY KEY, label text)`,
	`CREATE TABLE code_child (id integer PRIMARY KEY, patient_id bigint REFERENCES patients_patient (id), code text REFERENCES code_parent (code))`,
	`INSERT INTO code_parent SELECT 'c' || g, E'label\t' || g FROM generate_series(1, 50) g`,
}

// hostileRows gives patient id (and the patients after it) rows in the hostile tables.
func (f *fixture) hostileRows(t *testing.T, id int64) {
	f.exec(t, `INSERT INTO "Weird ""Name""" VALUES
		(1, $1, NULL, E'tab\there', E'new\nline \\ backslash \\. é 日本 "q" ''s'),
		(2, $1, 1, '\N', NULL),
		(3, $1 + 1, 2, '', E'\\.'),
		(4, $1 + 1, NULL, 'other patient', 'x'),
		(5, $1 + 2, 3, 'grand-descendant by the self-reference', 'y')`, id)
	f.exec(t, `INSERT INTO aaa_grandchild SELECT m.id::integer, m.id, E'body\\' || m.id FROM patients_medicalrecord m`)
	f.exec(t, `INSERT INTO code_child SELECT p.id::integer, p.id, 'c' || (p.id % 50 + 1) FROM patients_patient p`)
}

func tableCounts(d *recordrecovery.Diff) map[string]recordrecovery.TableDiff {
	m := map[string]recordrecovery.TableDiff{}
	for _, td := range d.Tables {
		m[td.Table] = td
	}
	return m
}

// The filtered data pass and the whole-table one give the same diff, and the filtered one loads only the rows
// that can matter.
func TestFilteredDataPassMatchesWholeTables(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	f := newFixture(t, hostile...)
	id := f.patientWithChildren(t)
	f.hostileRows(t, id)
	// The backup is taken in newFixture, before the rows above: back up again with them.
	f = f.rebackup(t)
	consultations := f.count(t, `SELECT count(*) FROM patients_medicalrecord WHERE patient_id = $1`, id)
	f.exec(t, `DELETE FROM code_child WHERE patient_id = $1`, id)
	f.exec(t, `UPDATE "Weird ""Name""" SET "pat
ient" = NULL WHERE "pat
ient" = $1`, id)
	f.exec(t, `DELETE FROM aaa_grandchild WHERE record_id IN (SELECT id FROM patients_medicalrecord WHERE patient_id = $1)`, id)
	f.deletePatient(t, id)

	for i, tc := range []struct {
		name    string
		table   string
		keys    []string
		where   string
		related bool
	}{
		{"a patient with related rows", "patients_patient", []string{"id=" + itoa(id)}, "", true},
		{"two keys, one written oddly", "patients_patient", []string{"id=" + itoa(id), "id= +0" + itoa(id+1)}, "", true},
		{"key and filter", "patients_patient", []string{"id=" + itoa(id)}, "first_name <> ''", true},
		{"filter only", "patients_medicalrecord", nil, "patient_id = " + itoa(id+1), true},
		{"no related", "patients_medicalrecord", []string{"id=" + itoa(id)}, "", false},
		{"hostile table", `Weird "Name"`, []string{"id=2"}, "", true},
		{"key that is no number", "patients_patient", []string{"id=abc"}, "", true},
	} {
		o := f.opts
		o.ID += int64(10 * i)
		o.Table, o.Where, o.WithRelated = tc.table, tc.where, tc.related
		for _, k := range tc.keys {
			o.Keys = append(o.Keys, keyOf(t, k))
		}
		filtered, ferr := recordrecovery.Compare(ctx, o)
		o.ID++
		whole, werr := recordrecovery.Compare(ctx, recordrecovery.WholeTables(o))
		if werr != nil {
			require.Error(t, ferr, tc.name)
			require.Equal(t, werr.Error(), ferr.Error(), tc.name)
			continue
		}
		require.NoError(t, ferr, tc.name)
		require.NotEmpty(t, whole.Rows, tc.name)
		require.Equal(t, whole.Table, filtered.Table, tc.name)
		require.Equal(t, whole.Tables, filtered.Tables, tc.name)
		require.Equal(t, whole.Rows, filtered.Rows, tc.name)
		require.Equal(t, whole.Problems, filtered.Problems, tc.name)
		require.Nil(t, whole.Loaded)
		require.NotNil(t, filtered.Loaded, tc.name)
	}

	o := f.opts
	o.ID += 1000
	o.Table, o.Keys, o.WithRelated = "patients_patient", []recordrecovery.Key{keyOf(t, "id="+itoa(id))}, true
	d, err := recordrecovery.Compare(ctx, o)
	require.NoError(t, err)
	tables := tableCounts(d)
	require.Equal(t, 1, tables["public.patients_patient"].Missing)
	require.Equal(t, consultations, tables["public.patients_medicalrecord"].Missing)
	require.Equal(t, consultations, tables["public.aaa_grandchild"].Missing, "the grandchildren came back")
	w := tables[`public.Weird "Name"`]
	require.Equal(t, 2, w.Changed, "rows 1 and 2 lost their patient")
	require.Equal(t, 2, w.Unchanged, "row 3, a descendant of row 2 through the self-reference, and 5, of 3")
	var note string
	backupRows := map[string]int64{}
	for _, r := range d.Rows {
		if r.Table == `public.Weird "Name"` && r.Key == "[1]" {
			note = string(r.Backup["note"])
		}
		if r.Backup != nil {
			backupRows[r.Table]++
		}
	}
	require.Equal(t, `"new\nline \\ backslash \\. é 日本 \"q\" 's"`, note, "values survive the COPY text round trip")

	// What was loaded into the scratch database: the rows pick chooses, not the related tables whole; only
	// the parent of a text foreign key comes whole.
	for tb, n := range backupRows {
		if tb == "public.code_parent" {
			continue
		}
		require.Equal(t, n, d.Loaded[tb], tb)
	}
	require.EqualValues(t, 3, d.Loaded["public.patients_patient"], "the patient, and the two Weird rows 3 and 5 reference")
	require.EqualValues(t, consultations, d.Loaded["public.patients_medicalrecord"])
	require.EqualValues(t, consultations, d.Loaded["public.aaa_grandchild"])
	require.EqualValues(t, 4, d.Loaded[`public.Weird "Name"`], "rows 1, 2, 3 and 5; not 4")
	require.EqualValues(t, 50, d.Loaded["public.code_parent"], "a text foreign key is not filtered: its parent table comes whole")
	require.Greater(t, f.count(t, `SELECT count(*) FROM authentication_user`), int(d.Loaded["public.authentication_user"])+10)
}

// An archive whose table data are INSERT statements (pg_dump --inserts, as an imported backup may be) cannot
// be filtered while streaming: the tables are restored whole and the diff is the same.
func TestInsertsArchiveFallsBackToWholeTables(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	f := newFixture(t)
	id := f.patientWithChildren(t)
	w, err := f.st.Create(ctx, "inserts.dump.zst.age")
	require.NoError(t, err)
	s, err := backup.NewSealer(w, f.keys.Recipients)
	require.NoError(t, err)
	src := dbconn.MustParse(f.src)
	cmd, cleanup, err := src.Command(ctx, "pg_dump", "--format=custom", "--inserts", "--no-password", "--dbname="+src.Database())
	require.NoError(t, err)
	defer cleanup()
	cmd.Stdout = s
	out := &strings.Builder{}
	cmd.Stderr = out
	require.NoError(t, cmd.Run(), out.String())
	require.NoError(t, s.Close())
	require.NoError(t, w.Commit())
	f.opts.Artifact.Key = "inserts.dump.zst.age"
	f.deletePatient(t, id)

	o := f.opts
	o.Table, o.Keys, o.WithRelated = "patients_patient", []recordrecovery.Key{keyOf(t, "id="+itoa(id))}, true
	d, err := recordrecovery.Compare(ctx, o)
	require.NoError(t, err)
	require.Nil(t, d.Loaded, "restored whole")
	o.ID++
	whole, err := recordrecovery.Compare(ctx, recordrecovery.WholeTables(o))
	require.NoError(t, err)
	require.Equal(t, whole.Rows, d.Rows)
	require.Equal(t, 1, tableCounts(d)["public.patients_patient"].Missing)
}
