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

	"github.com/uscpis/pisbackup/internal/testdb"
)

// patientRows is every row of one patient and the rows pointing at it, as to_jsonb text.
func patientRows(t *testing.T, conn *pgx.Conn, id int64) []string {
	t.Helper()
	rows, err := conn.Query(context.Background(), `
SELECT to_jsonb(t)::text FROM patients_patient t WHERE id = $1
UNION ALL SELECT to_jsonb(t)::text FROM patients_medicalrecord t WHERE patient_id = $1
UNION ALL SELECT to_jsonb(t)::text FROM file_uploads_patientdocument t WHERE patient_id = $1
UNION ALL SELECT to_jsonb(t)::text FROM patients_dentalrecord t WHERE patient_id = $1
UNION ALL SELECT to_jsonb(t)::text FROM medical_certificates_medicalcertificate t WHERE patient_id = $1
UNION ALL SELECT to_jsonb(t)::text FROM feedback_feedback t WHERE patient_id = $1 ORDER BY 1`, id)
	require.NoError(t, err)
	out, err := pgx.CollectRows(rows, pgx.RowTo[string])
	require.NoError(t, err)
	return out
}

// The clinic scenario end to end through the CLI: a patient deleted with consultations and documents is
// compared (--dry-run --json), scripted (--sql-out), refused without SOURCE_WRITE_DATABASE_URL, applied,
// undone, and the reviewed script itself brings the same rows back.
func TestRecoverCLI(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	env := cliEnv(t)
	b := cliBackup(t, env)
	bid := strconv.FormatInt(b.ID, 10)
	live, err := pgx.Connect(ctx, env["SOURCE_DATABASE_URL"])
	require.NoError(t, err)
	defer live.Close(ctx)
	var id int64
	require.NoError(t, live.QueryRow(ctx, `SELECT p.id FROM patients_patient p WHERE EXISTS (SELECT 1 FROM patients_medicalrecord m WHERE m.patient_id = p.id)
		AND EXISTS (SELECT 1 FROM file_uploads_patientdocument d WHERE d.patient_id = p.id) ORDER BY id LIMIT 1`).Scan(&id))
	want := patientRows(t, live, id)
	_, err = live.Exec(ctx, `DELETE FROM patients_medicalrecord WHERE patient_id = $1; `, id)
	require.NoError(t, err)
	for _, tb := range []string{"file_uploads_patientdocument", "patients_dentalrecord", "medical_certificates_medicalcertificate", "feedback_feedback", "patients_patient"} {
		col := "patient_id"
		if tb == "patients_patient" {
			col = "id"
		}
		_, err = live.Exec(ctx, "DELETE FROM "+tb+" WHERE "+col+" = $1", id)
		require.NoError(t, err)
	}
	require.Empty(t, patientRows(t, live, id))
	key := "id=" + strconv.FormatInt(id, 10)

	for _, bad := range [][]string{
		{"--table", "patients_patient", "--key", key},
		{"--backup", bid, "--key", key},
		{"--backup", bid, "--table", "patients_patient"},
		{"--backup", bid, "--table", "patients_patient", "--key", key, "--apply", "--dry-run"},
		{"--backup", bid, "--table", "patients_patient", "--key", "1042"},
		{"--undo", "1", "--apply"},
	} {
		_, stderr, code := runCLI(t, env, append([]string{"recover"}, bad...)...)
		require.Equal(t, 2, code, "%v: %s", bad, stderr)
	}

	out, stderr, code := runCLI(t, env, "recover", "--backup", bid, "--table", "patients_patient", "--key", key, "--with-related", "--dry-run", "--json")
	require.Equal(t, 0, code, stderr+out)
	var dry struct {
		Result struct {
			Diff struct {
				Rows []struct{ Table, Status string }
			}
		}
	}
	require.NoError(t, json.Unmarshal([]byte(out), &dry), out)
	missing := 0
	for _, r := range dry.Result.Diff.Rows {
		if r.Status == "missing" {
			missing++
		}
	}
	require.Equal(t, len(want), missing)

	sqlFile := filepath.Join(t.TempDir(), "recover.sql")
	out, stderr, code = runCLI(t, env, "recover", "--backup", bid, "--table", "patients_patient", "--key", key, "--with-related", "--sql-out", sqlFile)
	require.Equal(t, 0, code, stderr+out)
	script, err := os.ReadFile(sqlFile)
	require.NoError(t, err)
	require.Contains(t, string(script), "BEGIN;")
	require.Contains(t, string(script), "COMMIT;")
	require.Empty(t, patientRows(t, live, id), "--sql-out changes nothing")

	_, stderr, code = runCLI(t, env, "recover", "--backup", bid, "--table", "patients_patient", "--key", key, "--with-related", "--apply")
	require.Equal(t, 1, code)
	require.Contains(t, stderr, "SOURCE_WRITE_DATABASE_URL is not set")
	require.Empty(t, patientRows(t, live, id))

	env["SOURCE_WRITE_DATABASE_URL"] = env["SOURCE_DATABASE_URL"]
	out, stderr, code = runCLI(t, env, "recover", "--backup", bid, "--table", "patients_patient", "--key", key, "--with-related", "--apply", "--json")
	require.Equal(t, 0, code, stderr+out)
	var applied struct {
		Result struct {
			RecoveryID int64 `json:"recovery_id"`
		}
	}
	require.NoError(t, json.Unmarshal([]byte(out), &applied))
	require.Equal(t, want, patientRows(t, live, id), "the live rows equal the backup's")

	pool := testdb.Pool(t, env["DATABASE_URL"])
	var audits int
	require.NoError(t, pool.QueryRow(ctx, `SELECT count(*) FROM audit_events WHERE target = $1`, "recovery:"+strconv.FormatInt(applied.Result.RecoveryID, 10)).Scan(&audits))
	require.Equal(t, 2, audits, "start and apply are audited")

	rid := strconv.FormatInt(applied.Result.RecoveryID, 10)
	out, stderr, code = runCLI(t, env, "recover", "--undo", rid)
	require.Equal(t, 0, code, stderr+out)
	require.Contains(t, out, "undone")
	require.Empty(t, patientRows(t, live, id), "undo removed the recovered rows")
	_, stderr, code = runCLI(t, env, "recover", "--undo", rid)
	require.Equal(t, 1, code)
	require.Contains(t, stderr, "already undone")

	// The reviewed script does what --apply did.
	_, err = live.Exec(ctx, string(script))
	require.NoError(t, err)
	require.Equal(t, want, patientRows(t, live, id))
}
