package main

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strconv"
	"testing"

	"github.com/jackc/pgx/v5"
	"github.com/stretchr/testify/require"

	"github.com/uscpis/pisbackup/internal/demo"
	"github.com/uscpis/pisbackup/internal/testdb"
)

// deletePatientLive deletes a patient and every row pointing at it from the clinic database.
func deletePatientLive(t *testing.T, live *pgx.Conn, id int64) {
	t.Helper()
	for _, tb := range []string{"patients_medicalrecord", "file_uploads_patientdocument", "patients_dentalrecord",
		"medical_certificates_medicalcertificate", "feedback_feedback"} {
		_, err := live.Exec(context.Background(), "DELETE FROM "+tb+" WHERE patient_id = $1", id)
		require.NoError(t, err)
	}
	_, err := live.Exec(context.Background(), "DELETE FROM patients_patient WHERE id = $1", id)
	require.NoError(t, err)
}

type mediaFileJSON struct {
	Path, Status, Key string
}

// The clinic scenario with files: a patient deleted with its documents, one document's file gone from
// MEDIA_ROOT and another replaced since. From the full backup, --with-media lists what a dry run would restore
// (and restores nothing), refuses a database-only backup, takes back the files it placed when the rows fail,
// restores the missing file byte for byte and never the present one, and --undo removes exactly the restored
// file — not while it was edited since.
func TestRecoverWithMediaCLI(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	env := cliEnv(t)
	root := env["MEDIA_ROOT"]
	_, err := demo.SeedMedia(root, 1)
	require.NoError(t, err)
	out, stderr, code := runCLI(t, env, "create-backup", "--type", "full", "--json")
	require.Equal(t, 0, code, stderr+out)
	var full backupJSON
	require.NoError(t, json.Unmarshal([]byte(out), &full), out)
	dbOnly := cliBackup(t, env)

	live, err := pgx.Connect(ctx, env["SOURCE_DATABASE_URL"])
	require.NoError(t, err)
	defer live.Close(ctx)
	var id int64
	require.NoError(t, live.QueryRow(ctx, `SELECT patient_id FROM file_uploads_patientdocument d
		WHERE EXISTS (SELECT 1 FROM patients_medicalrecord m WHERE m.patient_id = d.patient_id)
		GROUP BY patient_id HAVING count(DISTINCT file) >= 2 AND bool_and(file <> $1) ORDER BY 1 LIMIT 1`, demo.MissingFiles[0]).Scan(&id))
	rows, err := live.Query(ctx, `SELECT DISTINCT file FROM file_uploads_patientdocument WHERE patient_id = $1 ORDER BY 1`, id)
	require.NoError(t, err)
	files, err := pgx.CollectRows(rows, pgx.RowTo[string])
	require.NoError(t, err)
	gone, replaced := files[0], files[1]
	original, err := os.ReadFile(filepath.Join(root, gone))
	require.NoError(t, err)
	want := patientRows(t, live, id)
	deletePatientLive(t, live, id)
	require.NoError(t, os.Remove(filepath.Join(root, gone)))
	require.NoError(t, os.WriteFile(filepath.Join(root, replaced), []byte("rescanned by staff"), 0o644))
	absent := func() {
		t.Helper()
		_, err := os.Stat(filepath.Join(root, gone))
		require.ErrorIs(t, err, os.ErrNotExist, gone)
	}
	key := "id=" + strconv.FormatInt(id, 10)
	fid := strconv.FormatInt(full.ID, 10)

	_, stderr, code = runCLI(t, env, "recover", "--backup", strconv.FormatInt(dbOnly.ID, 10), "--table", "patients_patient", "--key", key,
		"--with-related", "--with-media", "--dry-run")
	require.Equal(t, 1, code)
	require.Contains(t, stderr, "no media part")

	out, stderr, code = runCLI(t, env, "recover", "--backup", fid, "--table", "patients_patient", "--key", key, "--with-related", "--with-media", "--dry-run", "--json")
	require.Equal(t, 0, code, stderr+out)
	var dry struct {
		Result struct {
			Media struct{ Files []mediaFileJSON }
		}
	}
	require.NoError(t, json.Unmarshal([]byte(out), &dry), out)
	status := map[string]string{}
	for _, f := range dry.Result.Media.Files {
		status[f.Path] = f.Status
	}
	require.Equal(t, "restore", status[gone], out)
	require.Equal(t, "present", status[replaced], out)
	absent()
	out, _, code = runCLI(t, env, "recover", "--backup", fid, "--table", "patients_patient", "--key", key, "--with-related", "--with-media", "--dry-run")
	require.Equal(t, 0, code)
	require.Regexp(t, `restore\s+`+gone, out, "the text output lists what would be restored")

	// Rows that fail (documents without their patient: a foreign key at COMMIT) take their files back.
	env["SOURCE_WRITE_DATABASE_URL"] = env["SOURCE_DATABASE_URL"]
	_, stderr, code = runCLI(t, env, "recover", "--backup", fid, "--table", "file_uploads_patientdocument", "--where", "patient_id = "+strconv.FormatInt(id, 10),
		"--with-media", "--apply")
	require.Equal(t, 1, code)
	require.Contains(t, stderr, "nothing was written")
	absent()

	out, stderr, code = runCLI(t, env, "recover", "--backup", fid, "--table", "patients_patient", "--key", key, "--with-related", "--with-media", "--apply", "--json")
	require.Equal(t, 0, code, stderr+out)
	var applied struct {
		Result struct {
			RecoveryID    int64           `json:"recovery_id"`
			MediaRestored []mediaFileJSON `json:"media_restored"`
		}
	}
	require.NoError(t, json.Unmarshal([]byte(out), &applied), out)
	require.Equal(t, want, patientRows(t, live, id))
	require.Equal(t, []mediaFileJSON{{Path: gone}}, applied.Result.MediaRestored)
	got, err := os.ReadFile(filepath.Join(root, gone))
	require.NoError(t, err)
	require.Equal(t, original, got, "restored byte for byte")
	got, err = os.ReadFile(filepath.Join(root, replaced))
	require.NoError(t, err)
	require.Equal(t, "rescanned by staff", string(got), "a present file is never overwritten")
	rid := strconv.FormatInt(applied.Result.RecoveryID, 10)
	pool := testdb.Pool(t, env["DATABASE_URL"])
	var summary string
	require.NoError(t, pool.QueryRow(ctx, `SELECT summary::text FROM recoveries WHERE id = $1`, applied.Result.RecoveryID).Scan(&summary))
	require.NotContains(t, summary, filepath.Base(gone), "the catalog keeps no file names")

	// Edited since: nothing is undone.
	require.NoError(t, os.WriteFile(filepath.Join(root, gone), []byte("annotated"), 0o644))
	_, stderr, code = runCLI(t, env, "recover", "--undo", rid)
	require.Equal(t, 1, code)
	require.Contains(t, stderr, "changed after the recovery restored it")
	require.Equal(t, want, patientRows(t, live, id), "no row was undone")

	require.NoError(t, os.WriteFile(filepath.Join(root, gone), original, 0o644))
	out, stderr, code = runCLI(t, env, "recover", "--undo", rid)
	require.Equal(t, 0, code, stderr+out)
	require.Contains(t, out, "1 media file(s) removed")
	absent()
	got, err = os.ReadFile(filepath.Join(root, replaced))
	require.NoError(t, err)
	require.Equal(t, "rescanned by staff", string(got))
	require.Empty(t, patientRows(t, live, id))
	var undone int
	require.NoError(t, pool.QueryRow(ctx, `SELECT count(*) FROM audit_events WHERE target = $1 AND action = 'recovery.undo'`, "recovery:"+rid).Scan(&undone))
	require.Equal(t, 1, undone)
}
