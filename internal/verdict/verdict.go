// Package verdict answers the one question staff open the dashboard for: can we get our data back right now?
// It turns the newest drill-proven backup, the newest backups, staleness and open alerts into a green, amber
// or red level and one plain-language sentence.
package verdict

import (
	"fmt"
	"time"
)

// Level is the traffic-light colour; pages always show it with words too, never colour alone.
type Level string

// The three levels.
const (
	Green Level = "green"
	Amber Level = "amber"
	Red   Level = "red"
)

// Label is the level in words, for people who cannot tell the colours apart.
func (l Level) Label() string {
	switch l {
	case Green:
		return "Recoverable"
	case Amber:
		return "Needs attention"
	}
	return "At risk"
}

// Inputs are the facts the verdict is derived from. Zero times mean "never".
type Inputs struct {
	Now time.Time
	// LastBackupAt/LastBackupStatus describe the newest database (or full) backup of any status.
	LastBackupAt     time.Time
	LastBackupStatus string
	LastBackupError  string
	// LastGoodAt is when the newest succeeded (or warning) database backup was taken.
	LastGoodAt time.Time
	// ProvenAt is when the newest drill-proven backup was taken (its restore point); ProvenRTO the drill's time.
	ProvenAt  time.Time
	ProvenRTO time.Duration
	// StaleAfter is how old the newest good backup may be before it is overdue (schedule interval + grace).
	StaleAfter time.Duration
	OpenAlerts int
}

// Verdict is the headline.
type Verdict struct {
	Level    Level
	Sentence string
	// RPO is the age of the newest proven restore point (what would be lost right now); zero if none.
	RPO time.Duration
	RTO time.Duration
}

// Compute derives the verdict. The order matters: a failure or staleness outranks an old success.
func Compute(in Inputs) Verdict {
	v := Verdict{RTO: in.ProvenRTO}
	if !in.ProvenAt.IsZero() {
		v.RPO = in.Now.Sub(in.ProvenAt)
	}
	switch {
	case in.LastBackupAt.IsZero():
		v.Level, v.Sentence = Red, "Not recoverable: no backup of the clinic database has been taken yet. Take one now and run a drill."
	case in.LastBackupStatus == "failed" || in.LastBackupStatus == "cancelled":
		v.Level = Red
		v.Sentence = fmt.Sprintf("At risk: the last database backup (%s ago) %s.", Ago(in.Now.Sub(in.LastBackupAt)), in.LastBackupStatus)
		if !in.ProvenAt.IsZero() {
			v.Level = Amber
			v.Sentence += fmt.Sprintf(" Last proven restore point %s ago (drill took %s).", Ago(v.RPO), Dur(in.ProvenRTO))
		}
	case in.LastGoodAt.IsZero():
		v.Level, v.Sentence = Red, "Not recoverable: no database backup has succeeded yet."
	case in.StaleAfter > 0 && in.Now.Sub(in.LastGoodAt) > in.StaleAfter:
		v.Level = Amber
		v.Sentence = fmt.Sprintf("Stale: the newest good backup is %s old, past its %s deadline.", Ago(in.Now.Sub(in.LastGoodAt)), Dur(in.StaleAfter))
		if in.ProvenAt.IsZero() {
			v.Level = Red
			v.Sentence += " No backup has been proven by a drill."
		}
	case in.ProvenAt.IsZero():
		v.Level = Amber
		v.Sentence = fmt.Sprintf("Unproven: the last backup (%s ago) succeeded, but no backup has been restored in a drill yet.", Ago(in.Now.Sub(in.LastGoodAt)))
	default:
		v.Level = Green
		v.Sentence = fmt.Sprintf("Recoverable: last proven restore point %s ago (drill took %s).", Ago(v.RPO), Dur(in.ProvenRTO))
	}
	if in.OpenAlerts > 0 {
		if v.Level == Green {
			v.Level = Amber
		}
		v.Sentence += fmt.Sprintf(" %d open alert%s.", in.OpenAlerts, plural(in.OpenAlerts))
	}
	return v
}

// Ago renders an age coarsely ("3 h"), as staff read it.
func Ago(d time.Duration) string { return Dur(d) }

// Dur renders a duration coarsely: "41 s", "3 min", "5 h", "2 d".
func Dur(d time.Duration) string {
	switch {
	case d < time.Second:
		return fmt.Sprintf("%d ms", d.Milliseconds())
	case d < time.Minute:
		return fmt.Sprintf("%d s", int(d.Seconds()))
	case d < time.Hour:
		return fmt.Sprintf("%d min", int(d.Minutes()))
	case d < 48*time.Hour:
		return fmt.Sprintf("%d h", int(d.Hours()))
	}
	return fmt.Sprintf("%d d", int(d.Hours()/24))
}

func plural(n int) string {
	if n == 1 {
		return ""
	}
	return "s"
}
