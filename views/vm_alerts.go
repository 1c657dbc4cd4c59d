package views

import (
	"github.com/uscpis/pisbackup/internal/alert"
	"github.com/uscpis/pisbackup/internal/recovery"
	"github.com/uscpis/pisbackup/queries"
)

// AlertsVM is the alerts page: open and resolved alerts, the e-mail log and the test e-mail form.
type AlertsVM struct {
	Chrome
	Alerts []AlertRowVM
	Emails []queries.Email
	Email  recovery.EmailStatus
	// TestTo and TestError re-render the test form after a bad address.
	TestTo, TestError string
}

// AlertRowVM is one alert with its details unpacked.
type AlertRowVM struct {
	queries.AlertListRow
	alert.Details
	// Link is the page of the backup or schedule the alert is about.
	Link string
	// Silent alerts are shown here and on the dashboard but never e-mailed.
	Silent bool
}

// OutboxVM is the development outbox: e-mail that would have been sent, rendered as the recipient would see it.
type OutboxVM struct {
	Chrome
	Emails     []queries.Email
	Configured bool
	// Selected is the message shown in full (nil: the newest, if any).
	Selected *queries.Email
}
