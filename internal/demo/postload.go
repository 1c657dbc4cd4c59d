package demo

import (
	"fmt"
	"strings"
)

// foreignKeys are "table.column -> parent" pairs. Django indexes every
// ForeignKey column and makes the constraint DEFERRABLE INITIALLY DEFERRED;
// reproducing that keeps restore-order behaviour of backup tools realistic.
var foreignKeys = [][3]string{
	{"patients_patient", "user_id", "authentication_user"},
	{"patients_medicalrecord", "patient_id", "patients_patient"},
	{"patients_medicalrecord", "attending_id", "authentication_user"},
	{"patients_dentalrecord", "patient_id", "patients_patient"},
	{"file_uploads_patientdocument", "patient_id", "patients_patient"},
	{"medical_certificates_medicalcertificate", "patient_id", "patients_patient"},
	{"medical_certificates_medicalcertificate", "issued_by_id", "authentication_user"},
	{"feedback_feedback", "patient_id", "patients_patient"},
	{"notifications_notification", "user_id", "authentication_user"},
	{"health_info_healthinformationimage", "health_info_id", "health_info_healthinformation"},
	{"health_info_campaignresource", "campaign_id", "health_info_healthcampaign"},
}

// touchTriggerSQL keeps patients_patient.updated_at current on every UPDATE
// (Django's auto_now does it in Python; a trigger makes the database itself
// carry logic that a schema-only backup must not lose).
const touchTriggerSQL = `
CREATE FUNCTION patients_patient_touch_updated_at() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
  NEW.updated_at := now();
  RETURN NEW;
END $$;
CREATE TRIGGER patients_patient_touch_updated_at
  BEFORE UPDATE ON patients_patient
  FOR EACH ROW EXECUTE FUNCTION patients_patient_touch_updated_at();
`

// postLoadSQL returns the constraints, indexes, trigger and sequence fixes
// that run after the COPY phase.
func postLoadSQL() string {
	var b strings.Builder
	b.WriteString(`
ALTER TABLE authentication_user ADD CONSTRAINT authentication_user_email_key UNIQUE (email);
ALTER TABLE patients_patient ADD CONSTRAINT patients_patient_user_id_key UNIQUE (user_id);
CREATE INDEX authentication_user_role_idx ON authentication_user (role);
CREATE INDEX patients_medicalrecord_visit_date_idx ON patients_medicalrecord (visit_date);
`)
	for _, fk := range foreignKeys {
		table, col, parent := fk[0], fk[1], fk[2]
		name := fmt.Sprintf("%s_%s_fk", table, col)
		fmt.Fprintf(&b, "ALTER TABLE %s ADD CONSTRAINT %s FOREIGN KEY (%s) REFERENCES %s (id) DEFERRABLE INITIALLY DEFERRED;\n",
			table, name, col, parent)
		// patients_patient.user_id is already covered by its UNIQUE index.
		if table != "patients_patient" {
			fmt.Fprintf(&b, "CREATE INDEX %s_%s_idx ON %s (%s);\n", table, col, table, col)
		}
	}
	b.WriteString(touchTriggerSQL)
	// Rows were copied with explicit ids, so move each identity sequence past
	// them; otherwise the next Django-style INSERT would collide.
	for _, t := range Tables {
		fmt.Fprintf(&b, "SELECT setval(pg_get_serial_sequence('%s', 'id'), COALESCE(max(id), 0) + 1, false) FROM %s;\n", t, t)
	}
	return b.String()
}
