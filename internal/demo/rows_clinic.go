package demo

import (
	"fmt"
	"math/rand/v2"
	"strings"
)

// patient picks any patient id; visits and documents cluster on nobody in
// particular, which is good enough for backup sizing.
func (p plan) patient(r *rand.Rand) int64 { return 1 + r.Int64N(p.patients) }

func (p plan) medicalRecords() loader {
	return loader{
		table: "patients_medicalrecord",
		columns: []string{"id", "patient_id", "visit_date", "chief_complaint", "diagnosis",
			"treatment", "vital_signs", "attending_id", "created_at"},
		n: p.records,
		row: func(r *rand.Rand, id int64) []any {
			visit := ago(r, 3*365)
			vitals := fmt.Sprintf(`{"bp": "%d/%d", "temp_c": %.1f, "pulse": %d, "resp_rate": %d, "weight_kg": %.1f, "height_cm": %d}`,
				100+r.IntN(45), 60+r.IntN(30), 36.0+r.Float64()*2.5, 60+r.IntN(45), 12+r.IntN(10),
				42+r.Float64()*50, 145+r.IntN(40))
			return []any{id, p.patient(r), day(visit), pick(r, complaints), pick(r, diagnoses),
				pick(r, treatments), vitals, p.clinician(r, pick(r, []string{"DOCTOR", "NURSE"})), visit}
		},
	}
}

func (p plan) dentalRecords() loader {
	return loader{
		table:   "patients_dentalrecord",
		columns: []string{"id", "patient_id", "visit_date", "tooth_chart", "procedure_performed", "notes", "created_at"},
		n:       p.patients,
		row: func(r *rand.Rand, id int64) []any {
			// FDI tooth numbers: quadrant 1-4, tooth 1-8.
			var chart strings.Builder
			chart.WriteString(`{"notation": "FDI", "teeth": {`)
			for i := range 2 + r.IntN(6) {
				if i > 0 {
					chart.WriteString(", ")
				}
				fmt.Fprintf(&chart, `"%d%d": %q`, 1+r.IntN(4), 1+r.IntN(8), pick(r, toothStates))
			}
			fmt.Fprintf(&chart, `}, "oral_hygiene": %q}`, pick(r, []string{"good", "fair", "poor"}))
			visit := ago(r, 3*365)
			return []any{id, p.patient(r), day(visit), chart.String(), pick(r, dentalProcedures),
				pick(r, dentalNotes), visit}
		},
	}
}

func (p plan) documents() loader {
	titles := []string{"Laboratory result", "Chest X-ray report", "Complete blood count", "Urinalysis", "Medical clearance", "Prescription", "Consent form"}
	return loader{
		table:   "file_uploads_patientdocument",
		columns: []string{"id", "patient_id", "title", "file", "uploaded_at"},
		n:       p.patients,
		row: func(r *rand.Rand, id int64) []any {
			file := documentFiles[(id-1)%int64(len(documentFiles))]
			if id == p.patients {
				file = missingDocument // see MissingFiles
			}
			return []any{id, p.patient(r), pick(r, titles), file, ago(r, 2*365)}
		},
	}
}

func (p plan) certificates() loader {
	return loader{
		table:   "medical_certificates_medicalcertificate",
		columns: []string{"id", "patient_id", "issued_by_id", "purpose", "status", "pdf", "signature", "file", "created_at"},
		n:       p.certs,
		row: func(r *rand.Rand, id int64) []any {
			pid := p.patient(r)
			who := p.personFor(p.clinicians + pid)
			status := pick(r, certStatus)
			var signature any
			if status == "approved" || status == "issued" {
				signature = fakeSignature(r)
			}
			pdf := fakePDF("Medical Certificate - "+who.first+" "+who.last, 2+r.IntN(4), r)
			return []any{id, pid, p.clinician(r, "DOCTOR"), pick(r, certPurpose), status, pdf, signature,
				certificateFiles[(id-1)%int64(len(certificateFiles))], ago(r, 2*365)}
		},
	}
}

func (p plan) feedbackRows() loader {
	return loader{
		table:   "feedback_feedback",
		columns: []string{"id", "patient_id", "rating", "comments", "created_at"},
		n:       p.feedback,
		row: func(r *rand.Rand, id int64) []any {
			rating := int16(pick(r, []int{5, 5, 5, 4, 4, 4, 3, 2, 1})) // clinics skew positive
			return []any{id, p.patient(r), rating, pick(r, feedbackMsg), ago(r, 2*365)}
		},
	}
}

func (p plan) notificationRows() loader {
	kinds := []string{"appointment_reminder", "certificate_ready", "health_campaign", "feedback_request"}
	return loader{
		table:   "notifications_notification",
		columns: []string{"id", "user_id", "title", "message", "is_read", "payload", "created_at"},
		n:       p.notifications,
		row: func(r *rand.Rand, id int64) []any {
			kind := pick(r, kinds)
			ref := 1 + r.Int64N(p.patients)
			payload := fmt.Sprintf(`{"type": %q, "object_id": %d, "url": "/%s/%d/"}`,
				kind, ref, strings.ReplaceAll(kind, "_", "-"), ref)
			title := strings.ToUpper(kind[:1]) + strings.ReplaceAll(kind[1:], "_", " ")
			return []any{id, 1 + r.Int64N(p.users), title,
				"Please check the USC clinic portal for details.", r.IntN(3) != 0, payload, ago(r, 365)}
		},
	}
}
