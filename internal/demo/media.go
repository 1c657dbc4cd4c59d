package demo

import (
	"fmt"
	"hash/fnv"
	"math/rand/v2"
	"os"
	"path"
	"path/filepath"
	"slices"
)

// Media paths that SeedMedia writes and Seed references. Seed assigns them
// round-robin (row i gets list[i % len]), so the first len(list) rows of each
// file column name distinct files, and every later row reuses one of them
// (except the rows documented on MissingFiles).
var (
	documentFiles = []string{
		"patient_documents/2025/03/lab_result_0001.pdf",
		"patient_documents/2025/03/xray_report_0002.pdf",
		"patient_documents/2025/03/cbc_0003.pdf",
		"patient_documents/2025/03/urinalysis_0004.pdf",
		// A space in the name catches tools that split or quote paths badly.
		"patient_documents/2025/03/medical clearance 0005.pdf",
		"patient_documents/2025/03/prescription_0006.pdf",
		"patient_documents/2025/03/consent_form_0007.pdf",
		"patient_documents/2025/04/dental_xray_0008.pdf",
		"patient_documents/2025/04/lab_result_0009.pdf",
	}
	certificateFiles = []string{
		"medical_certificates/2025/03/cert_0001.pdf",
		"medical_certificates/2025/03/cert_0002.pdf",
		"medical_certificates/2025/03/cert_0003.pdf",
		"medical_certificates/2025/04/cert_0004.pdf",
	}
	bannerFiles = []string{
		"campaigns/banners/dengue_awareness.png",
		"campaigns/banners/mental_health_week.png",
		"campaigns/banners/blood_drive_2025.png",
	}
	pubmatFiles = []string{
		"campaigns/pubmats/dengue_pubmat.png",
		"campaigns/pubmats/blood_drive_pubmat.png",
	}
	healthInfoImages = []string{
		"health_info/handwashing.jpg",
		"health_info/hypertension.jpg",
		"health_info/dengue_prevention.jpg",
		"health_info/healthy_diet.jpg",
	}
	profilePictures = []string{
		"profile_pictures/avatar_0001.jpg",
		"profile_pictures/avatar_0002.jpg",
		"profile_pictures/avatar_0003.jpg",
	}
	// Exported reports, referenced by reports_generatedreport.file_path (raw storage in the app).
	reportFiles = []string{
		"reports/monthly_consultations_2025_03.csv",
		"reports/feedback_summary_2025_q1.csv",
	}
	// Clutter that backup tools are expected to skip.
	junkFiles = []string{".DS_Store", "patient_documents/.DS_Store", "exports/.gitkeep"}
)

// mediaPaths returns every path SeedMedia writes, sorted.
func mediaPaths() []string {
	all := slices.Concat(documentFiles, certificateFiles, bannerFiles, pubmatFiles,
		healthInfoImages, profilePictures, reportFiles, junkFiles)
	slices.Sort(all)
	return all
}

// SeedMedia writes the demo media tree (about 30 small files, a few KB each)
// under dir, creating directories as needed, and returns the slash-separated
// paths it wrote relative to dir (MediaMark included), sorted. It writes only
// into a missing or empty folder or one holding MediaMark (anything else is
// refused with an error wrapping ErrNotDemo, nothing written); there it only
// overwrites its own files, so calling it again is harmless, and the same seed
// gives identical bytes.
func SeedMedia(dir string, seed int64) ([]string, error) {
	if seed == 0 {
		seed = 1 // match Options' default so Seed and SeedMedia pair up
	}
	if err := checkMediaDir(dir); err != nil {
		return nil, err
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, fmt.Errorf("demo: %w", err)
	}
	// Writes go through os.Root: a symbolic link inside the folder cannot lead a demo file out of it.
	root, err := os.OpenRoot(dir)
	if err != nil {
		return nil, fmt.Errorf("demo: %w", err)
	}
	defer root.Close()
	if err := root.WriteFile(MediaMark, []byte("Demo media written by `pisbackup demo-seed`; it may rewrite this folder.\n"), 0o644); err != nil {
		return nil, fmt.Errorf("demo: mark %s: %w", dir, err)
	}
	paths := mediaPaths()
	for _, rel := range paths {
		// Each file gets its own stream keyed by its path, so adding a file
		// never changes the bytes of the others.
		h := fnv.New64a()
		h.Write([]byte(rel))
		r := rand.New(rand.NewPCG(uint64(seed), h.Sum64()))
		data, err := mediaContent(rel, r)
		if err != nil {
			return nil, fmt.Errorf("demo: render %s: %w", rel, err)
		}
		full := filepath.FromSlash(rel)
		if err := root.MkdirAll(filepath.Dir(full), 0o755); err != nil {
			return nil, fmt.Errorf("demo: %w", err)
		}
		if err := root.WriteFile(full, data, 0o644); err != nil {
			return nil, fmt.Errorf("demo: %w", err)
		}
	}
	paths = append(paths, MediaMark)
	slices.Sort(paths)
	return paths, nil
}

// mediaContent renders a file whose bytes match its extension, so tools that
// sniff content types see real PNG/JPEG/PDF-looking data.
func mediaContent(rel string, r *rand.Rand) ([]byte, error) {
	switch base := path.Base(rel); {
	case base == ".gitkeep":
		return nil, nil
	case base == ".DS_Store":
		return fakeDSStore(r), nil
	}
	switch path.Ext(rel) {
	case ".pdf":
		return fakePDF(path.Base(rel), 30+r.IntN(30), r), nil
	case ".png":
		return fakeImage(r, true)
	case ".jpg":
		return fakeImage(r, false)
	case ".csv":
		return fakeCSV(r), nil
	}
	return nil, fmt.Errorf("no generator for %q", rel)
}
