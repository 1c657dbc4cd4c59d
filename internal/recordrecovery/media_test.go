package recordrecovery_test

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/uscpis/pisbackup/internal/backup"
	"github.com/uscpis/pisbackup/internal/config"
	"github.com/uscpis/pisbackup/internal/demo"
	"github.com/uscpis/pisbackup/internal/recordrecovery"
)

// The patient the fixture's extra documents belong to: the one patientWithChildren picks.
const firstPatientWithChildren = `(SELECT p.id FROM patients_patient p
	WHERE EXISTS (SELECT 1 FROM patients_medicalrecord m WHERE m.patient_id = p.id)
	  AND EXISTS (SELECT 1 FROM file_uploads_patientdocument d WHERE d.patient_id = p.id) ORDER BY p.id LIMIT 1)`

// Media of a full backup come back with the rows that reference them: a file MEDIA_ROOT lacks is restored
// byte for byte, one it has is never overwritten (also one that appears between the plan and the restore), a
// name that is absolute or climbs out with ".." is refused although the backup holds the file it would
// clean to, one the backup lacks is listed; undo removes exactly the restored file, and only unchanged.
func TestMediaOfRecoveredRowsRestoredNeverOverwrittenUndoneExactly(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	dir := t.TempDir()
	root := filepath.Join(dir, "media")
	_, err := demo.SeedMedia(root, 1)
	require.NoError(t, err)
	// Seeded files no row of the demo references through config.DefaultFileColumns, so these rows are their
	// only references.
	const (
		restored = "medical_certificates/2025/03/cert_0001.pdf"
		kept     = "medical_certificates/2025/03/cert_0002.pdf"
		appears  = "medical_certificates/2025/03/cert_0003.pdf"
	)
	docs := map[string]string{
		"900001": restored,
		"900002": kept,
		"900003": "medical_certificates/../" + restored,  // cleans to a file the backup holds
		"900004": "/" + restored,                         // what Paths would trim to the same file
		"900005": "../outside.pdf",                       // would land beside MEDIA_ROOT
		"900006": "patient_documents/never_uploaded.pdf", // not in the backup
		"900007": appears,
	}
	var inserts []string
	for id, file := range docs {
		inserts = append(inserts, `INSERT INTO file_uploads_patientdocument (id, patient_id, title, file, uploaded_at)
			VALUES (`+id+`, `+firstPatientWithChildren+`, 'scan', '`+file+`', now())`)
	}
	f := newFixture(t, inserts...)
	mres, err := backup.DumpMedia(ctx, backup.MediaOptions{BackupID: 2, Trigger: "cli", Root: root, Store: f.st, Keys: f.keys})
	require.NoError(t, err)
	want, err := os.ReadFile(filepath.Join(root, restored))
	require.NoError(t, err)

	// Since the backup: the patient and its documents were deleted, one file vanished from MEDIA_ROOT and
	// another was replaced by staff.
	id := f.patientWithChildren(t)
	f.deletePatient(t, id)
	require.NoError(t, os.Remove(filepath.Join(root, restored)))
	require.NoError(t, os.Remove(filepath.Join(root, appears)))
	require.NoError(t, os.WriteFile(filepath.Join(root, kept), []byte("staff's newer scan"), 0o644))

	o := f.opts
	o.Table, o.Keys, o.WithRelated = "patients_patient", []recordrecovery.Key{keyOf(t, "id="+itoa(id))}, true
	d, err := recordrecovery.Compare(ctx, o)
	require.NoError(t, err)
	p, err := recordrecovery.NewPlan(d, false)
	require.NoError(t, err)
	mp, err := p.Media(config.DefaultFileColumns, root, mres.Manifest)
	require.NoError(t, err)
	status := map[string]recordrecovery.MediaFile{}
	for _, mf := range mp.Files {
		require.Equal(t, "public.file_uploads_patientdocument", mf.Table)
		require.Equal(t, "file", mf.Column)
		status[strings.Trim(mf.Key, "[]")] = mf
	}
	require.Equal(t, recordrecovery.MediaRestore, status["900001"].Status)
	require.Equal(t, recordrecovery.MediaPresent, status["900002"].Status)
	for _, k := range []string{"900003", "900004", "900005"} {
		require.Equal(t, recordrecovery.MediaRefused, status[k].Status, k)
		require.Contains(t, status[k].Reason, "unsafe name", k)
	}
	require.Equal(t, recordrecovery.MediaAbsent, status["900006"].Status)
	require.Equal(t, recordrecovery.MediaRestore, status["900007"].Status)
	_, err = os.Stat(filepath.Join(root, restored))
	require.ErrorIs(t, err, os.ErrNotExist, "planning writes nothing")

	require.NoError(t, mp.Stage(ctx, backup.Artifact{Store: f.st, Key: mres.Key, Encrypted: true, Identities: f.keys.Identities}, t.TempDir()))
	// Someone uploads a file by the same name after the plan: it is theirs, and stays.
	require.NoError(t, os.WriteFile(filepath.Join(root, appears), []byte("uploaded meanwhile"), 0o644))
	placed, err := mp.Place()
	require.NoError(t, err)
	var paths []string
	for _, pf := range placed {
		paths = append(paths, pf.Path)
	}
	require.Contains(t, paths, restored)
	require.NotContains(t, paths, kept)
	require.NotContains(t, paths, appears)
	got, err := os.ReadFile(filepath.Join(root, restored))
	require.NoError(t, err)
	require.Equal(t, want, got, "restored byte for byte")
	got, err = os.ReadFile(filepath.Join(root, kept))
	require.NoError(t, err)
	require.Equal(t, "staff's newer scan", string(got), "an existing file is never overwritten")
	got, err = os.ReadFile(filepath.Join(root, appears))
	require.NoError(t, err)
	require.Equal(t, "uploaded meanwhile", string(got))
	_, err = os.Stat(filepath.Join(dir, "outside.pdf"))
	require.ErrorIs(t, err, os.ErrNotExist, "nothing lands outside MEDIA_ROOT")
	leftovers, err := filepath.Glob(filepath.Join(root, "medical_certificates", "2025", "03", ".pisbackup-recover-*"))
	require.NoError(t, err)
	require.Empty(t, leftovers, "no temporary files stay behind")

	// Undo: a restored file edited since stops it; unchanged, exactly the restored files go.
	require.NoError(t, os.WriteFile(filepath.Join(root, restored), []byte("annotated"), 0o644))
	_, err = recordrecovery.CheckRestored(root, placed)
	require.ErrorContains(t, err, "changed after the recovery restored it")
	require.NoError(t, os.WriteFile(filepath.Join(root, restored), want, 0o644))
	there, err := recordrecovery.CheckRestored(root, placed)
	require.NoError(t, err)
	n, err := recordrecovery.RemoveRestored(root, there)
	require.NoError(t, err)
	require.Equal(t, len(placed), n)
	_, err = os.Stat(filepath.Join(root, restored))
	require.ErrorIs(t, err, os.ErrNotExist)
	for _, still := range []string{kept, appears} {
		_, err = os.Stat(filepath.Join(root, still))
		require.NoError(t, err, still)
	}
}
