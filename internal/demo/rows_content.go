package demo

import (
	"math/rand/v2"
	"path"
	"time"
)

// Health information and campaigns are editorial content: a fixed, small
// number of rows regardless of Patients, as on the real portal.
var healthTopics = []string{
	"Proper handwashing", "Managing hypertension", "Dengue prevention: 4S strategy",
	"Eating a balanced baon", "Staying hydrated during exams", "Mental health first aid",
	"Dental care for students", "Recognizing heat exhaustion", "Safe use of antibiotics",
	"Sleep and academic performance", "Preventing leptospirosis after floods", "Vaccination schedule for adults",
}

func healthInformation() loader {
	return loader{
		table:   "health_info_healthinformation",
		columns: []string{"id", "title", "content", "created_at"},
		n:       int64(len(healthTopics)),
		row: func(r *rand.Rand, id int64) []any {
			title := healthTopics[id-1]
			content := title + ". The University Health Services reminds all students and employees: " +
				pick(r, treatments) + ". Visit the clinic at the Talamban campus for questions."
			return []any{id, title, content, ago(r, 2*365)}
		},
	}
}

// healthInformationImages gives every health topic one image (the app's HealthInformationImage rows).
func healthInformationImages() loader {
	return loader{
		table:   "health_info_healthinformationimage",
		columns: []string{"id", "health_info_id", "image", "caption", "order", "uploaded_at"},
		n:       int64(len(healthTopics)),
		row: func(r *rand.Rand, id int64) []any {
			return []any{id, id, healthInfoImages[(id-1)%int64(len(healthInfoImages))], healthTopics[id-1], int32(0), ago(r, 2*365)}
		},
	}
}

// generatedReports are the clinic's exported reports (reports.GeneratedReport.file_path, which the app stores
// with RawMediaCloudinaryStorage); the last one failed and has no file.
func generatedReports() loader {
	return loader{
		table:   "reports_generatedreport",
		columns: []string{"id", "title", "export_format", "status", "file_path", "created_at"},
		n:       int64(len(reportFiles)) + 1,
		row: func(r *rand.Rand, id int64) []any {
			if id > int64(len(reportFiles)) {
				return []any{id, "Monthly consultations", "PDF", "FAILED", nil, ago(r, 90)}
			}
			return []any{id, path.Base(reportFiles[id-1]), "CSV", "COMPLETED", reportFiles[id-1], ago(r, 90)}
		},
	}
}

var campaignTitles = []string{
	"Dengue Awareness Month", "Mental Health Week", "Bloodletting Drive 2025",
	"Anti-Smoking Campaign", "Free Dental Check-up Day", "Flu Vaccination Drive",
}

// campaigns: odd ids have a pubmat, even ids none (NULL), except the last
// row whose pubmat is deliberately missing on disk (see MissingFiles).
func campaigns() loader {
	return loader{
		table:   "health_info_healthcampaign",
		columns: []string{"id", "title", "description", "banner_image", "pubmat_image", "start_date", "end_date", "created_at"},
		n:       int64(len(campaignTitles)),
		row: func(r *rand.Rand, id int64) []any {
			var pubmat any
			switch {
			case id == int64(len(campaignTitles)):
				pubmat = missingPubmat
			case id%2 == 1:
				pubmat = pubmatFiles[(id/2)%int64(len(pubmatFiles))]
			}
			created := ago(r, 365)
			start := day(created.AddDate(0, 0, 7))
			return []any{id, campaignTitles[id-1], "Join the clinic's " + campaignTitles[id-1] + ".",
				bannerFiles[(id-1)%int64(len(bannerFiles))], pubmat, start, start.Add(14 * 24 * time.Hour), created}
		},
	}
}
