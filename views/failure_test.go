package views

import (
	"testing"

	"github.com/stretchr/testify/require"
)

// A permission error names the object the way people write it, whether PostgreSQL quoted it, qualified it with
// its schema, or neither; the advice names that schema.
func TestExplainFailureNamesWhatWasDenied(t *testing.T) {
	for raw, want := range map[string][2]string{
		`permission denied for table "public"."authentication_user": the backup role cannot read it; as the table's owner run GRANT SELECT ON "public"."authentication_user" TO "backup"`: {
			"the table public.authentication_user,", "IN SCHEMA public "},
		`pg_dump: error: query failed: ERROR:  permission denied for table patients_patient`: {
			"the table patients_patient,", "IN SCHEMA public "},
		`pg_dump: error: query failed: ERROR:  permission denied for table clinic.visits`: {
			"the table clinic.visits,", "IN SCHEMA clinic "},
		`pg_dump: error: query failed: ERROR:  permission denied for sequence "Billing"."Invoice_id_seq"`: {
			"the sequence Billing.Invoice_id_seq,", "IN SCHEMA Billing "},
		`pg_dump: error: query failed: ERROR:  permission denied for schema audit`: {
			"the schema audit,", "IN SCHEMA audit "},
	} {
		f := ExplainFailure(raw)
		require.Contains(t, f.What, want[0], raw)
		require.Contains(t, f.Check, want[1], raw)
	}
}
