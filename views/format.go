package views

import (
	"fmt"
	"strconv"
	"time"

	"github.com/uscpis/pisbackup/internal/alert"
	"github.com/uscpis/pisbackup/internal/recovery"
	"github.com/uscpis/pisbackup/queries"
)

// Bytes renders a size for people ("12.3 MiB").
func Bytes(n int64) string {
	const unit = 1024
	if n < unit {
		return strconv.FormatInt(n, 10) + " B"
	}
	div, exp := int64(unit), 0
	for m := n / unit; m >= unit; m /= unit {
		div *= unit
		exp++
	}
	return fmt.Sprintf("%.1f %ciB", float64(n)/float64(div), "KMGTPE"[exp])
}

// TimeLayout is how pages write a time: "2026-11-25 14:03", minutes, the zone named apart.
const TimeLayout = "2006-01-02 15:04"

// Time shows t in the clinic's zone, e.g. "2026-11-25 14:03". The zone is named once per page (the layout's
// footer) rather than abbreviated here: Go abbreviates Asia/Manila as "PST", easily read as US Pacific. Pages
// render times with When (an unbreakable <time>); Time is for attributes and plain text.
func (c Chrome) Time(t time.Time) string {
	if t.IsZero() {
		return "—"
	}
	return t.In(c.tz()).Format(TimeLayout)
}

// ZoneName is the display zone with its UTC offset, e.g. "Asia/Manila (UTC+08:00)".
func (c Chrome) ZoneName() string {
	now := c.Now
	if now.IsZero() {
		now = time.Now()
	}
	return c.tz().String() + " (UTC" + now.In(c.tz()).Format("-07:00") + ")"
}

// TimePtr is Time for nullable columns.
func (c Chrome) TimePtr(t *time.Time) string {
	if t == nil {
		return "—"
	}
	return c.Time(*t)
}

// Ago is the relative hint next to a time ("3 h ago").
func (c Chrome) Ago(t time.Time) string {
	if t.IsZero() {
		return ""
	}
	now := c.Now
	if now.IsZero() {
		now = time.Now()
	}
	return Ago(now.Sub(t))
}

// Ago renders a duration in the past coarsely, as staff read it.
func Ago(d time.Duration) string {
	switch {
	case d < 0:
		return "in " + Dur(-d)
	case d < time.Minute:
		return "just now"
	}
	return Dur(d) + " ago"
}

// Dur renders a duration coarsely: "41 s", "3 min", "5 h", "2 d" (the verdict's own wording).
func Dur(d time.Duration) string { return recovery.Dur(d) }

// Seconds turns a float second count (the recovery state's ages) into a duration.
func Seconds(s float64) time.Duration { return time.Duration(s * float64(time.Second)) }

// Millis turns a millisecond count into a duration.
func Millis(ms int64) time.Duration { return time.Duration(ms) * time.Millisecond }

// AlertLink is the page an alert is about.
func AlertLink(a queries.Alert) string { return alert.LinkOf(a.Subject, a.Details) }

// DurMS renders a nullable millisecond duration.
func DurMS(ms *int64) string {
	if ms == nil {
		return "—"
	}
	return Dur(time.Duration(*ms) * time.Millisecond)
}

func (c Chrome) tz() *time.Location {
	if c.TZ == nil {
		return time.UTC
	}
	return c.TZ
}

// Percent of a running backup's progress, capped below 100 until it finishes (the total is an estimate).
func Percent(b queries.Backup) int {
	switch {
	case b.Status == "succeeded" || b.Status == "warning":
		return 100
	case b.ProgressTotal <= 0:
		return 0
	}
	return int(min(99, 100*b.ProgressBytes/b.ProgressTotal))
}

// InFlight reports whether a backup is still queued or running.
func InFlight(status string) bool { return status == "queued" || status == "running" }

func itoa(n int64) string { return strconv.FormatInt(n, 10) }

func (c Chrome) agoPtr(t *time.Time) string {
	if t == nil {
		return ""
	}
	return c.Ago(*t)
}

// LiveFast and LiveIdle are how often a page's live region refreshes: while work is in flight, and otherwise
// (so facts changed by someone else, or by the scheduler at night, show without a reload).
const (
	LiveFast = 2 * time.Second
	LiveIdle = 10 * time.Second
)

// LiveTrigger is the hx-trigger of a page's live region: "every 2s" while work is in flight (busy), "every
// 10s" otherwise.
func LiveTrigger(busy bool) string {
	if busy {
		return "every " + strconv.Itoa(int(LiveFast/time.Second)) + "s"
	}
	return "every " + strconv.Itoa(int(LiveIdle/time.Second)) + "s"
}
