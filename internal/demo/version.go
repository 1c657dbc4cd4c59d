package demo

import (
	"context"

	"github.com/uscpis/pisbackup/internal/dbconn"
)

// Version names the shape of the demo data; test templates are rebuilt when it changes.
const Version = "2" // 2: the clinic app's real FileField tables (file_uploads_*, health_info_healthcampaign, reports_generatedreport)

// HasData reports whether the database db already holds demo patients, so `make run` can keep a demo
// database (and its backups' meaning) across restarts.
func HasData(ctx context.Context, db *dbconn.Settings) bool {
	conn, err := db.Connect(ctx)
	if err != nil {
		return false
	}
	defer conn.Close(ctx)
	var n int64
	err = conn.QueryRow(ctx, `SELECT CASE WHEN to_regclass('public.patients_patient') IS NULL THEN 0
		ELSE (SELECT count(*) FROM public.patients_patient) END`).Scan(&n)
	return err == nil && n > 0
}
