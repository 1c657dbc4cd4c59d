// Package emails renders alert and test e-mails, each as an HTML and a plain-text templ component from the
// same view model. Bodies carry counts, times and rule names only: never secrets, never patient data.
package emails

import "fmt"

// Kinds of message.
const (
	KindOpened    = "opened"
	KindReminder  = "reminder"
	KindRecovered = "recovered"
	KindTest      = "test"
)

// AlertVM is everything an alert or test e-mail shows.
type AlertVM struct {
	Kind     string
	Headline string // what this message is about, also the subject after the prefix
	// Status is the recoverability state after this change (ok, warning or critical) and Verdict its label and
	// headline: the same words the dashboard, /health and monitor-backups show.
	Status  string
	Verdict string
	// About is the alert that changed (nil for a test message).
	About *Issue
	// Open lists the other issues still open (not About), worst first.
	Open         []Issue
	Stats        Stats
	DashboardURL string
	AlertsURL    string
	// When is the time of the message in the clinic's zone, already formatted.
	When string
}

// Issue is one open problem as staff read it.
type Issue struct {
	AlertID        int64
	Severity       string // info, warning, critical
	Title          string
	Message        string
	Recommendation string
	Since          string // formatted opening time
	Occurrences    int32
	// Link is the absolute URL of the backup or schedule the alert is about.
	Link string
}

// Stats are the numbers the earlier system's alert promised and never filled in.
type Stats struct {
	Good24h, Total24h int64
	Good7d, Total7d   int64
	// LastGoodDatabase is the age of the newest good database backup ("5 h"), or "" when there is none.
	LastGoodDatabase string
	// LastProvenDatabase is the age of the newest drill-proven database backup, or "" when there is none.
	LastProvenDatabase string
}

// Rate formats good/total as a percentage, or "no backups" when nothing finished in the window.
func Rate(good, total int64) string {
	if total == 0 {
		return "no backups finished"
	}
	return fmt.Sprintf("%d of %d succeeded (%.0f%%)", good, total, 100*float64(good)/float64(total))
}

// LastGood says how old the newest good database backup is, loudly when there is none.
func (s Stats) LastGood() string {
	if s.LastGoodDatabase == "" {
		return "none on record"
	}
	return s.LastGoodDatabase + " ago"
}

// LastProven says how old the newest drill-proven database backup is, loudly when there is none.
func (s Stats) LastProven() string {
	if s.LastProvenDatabase == "" {
		return "none: no backup has been restored in a drill"
	}
	return s.LastProvenDatabase + " ago"
}

// openHeading titles the list of open issues, "other" ones when the message is about one of them.
func (vm AlertVM) openHeading() string {
	if vm.About != nil {
		return fmt.Sprintf("Other open issues (%d)", len(vm.Open))
	}
	return fmt.Sprintf("Open issues (%d)", len(vm.Open))
}

// intro is the first sentence, by kind.
func (vm AlertVM) intro() string {
	switch vm.Kind {
	case KindReminder:
		return "Reminder: this problem is still open."
	case KindRecovered:
		return "Recovered: this problem has cleared and the alert is resolved."
	case KindTest:
		return "This is a test message from pisbackup. If you can read it, alert e-mail works."
	}
	return "A new problem needs attention."
}
