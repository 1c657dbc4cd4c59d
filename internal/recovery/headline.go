package recovery

import (
	"fmt"
	"sort"
	"strings"
	"time"
)

// Level is the traffic-light colour of a Status; pages always show it with words too, never colour alone.
type Level string

// The three levels: green is ok, amber is warning, red is critical. There is no other mapping.
const (
	Green Level = "green"
	Amber Level = "amber"
	Red   Level = "red"
)

// LevelOf maps a status to its colour.
func LevelOf(status string) Level {
	switch status {
	case StatusOK:
		return Green
	case StatusWarning:
		return Amber
	}
	return Red
}

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

func rank(sev string) int {
	switch sev {
	case StatusCritical:
		return 2
	case StatusWarning:
		return 1
	}
	return 0
}

func ruleOrder(rule string) int {
	for i, r := range Rules {
		if r == rule {
			return i
		}
	}
	return len(Rules)
}

// finish orders the problems (worst first, then by rule) and derives status, level, label and headline from
// them, so no output can pair a heading with a sentence of another level.
func (s *State) finish() {
	sort.SliceStable(s.Problems, func(i, j int) bool {
		a, b := s.Problems[i], s.Problems[j]
		if rank(a.Severity) != rank(b.Severity) {
			return rank(a.Severity) > rank(b.Severity)
		}
		return ruleOrder(a.Rule) < ruleOrder(b.Rule)
	})
	s.Status = StatusOK
	if len(s.Problems) > 0 {
		s.Status = s.Problems[0].Severity
	}
	s.Level = LevelOf(s.Status)
	s.Label = s.Level.Label()
	proven := "No backup has been proven by a restore drill yet."
	if s.RPOSeconds != nil {
		proven = fmt.Sprintf("Last proven restore point %s ago", Dur(time.Duration(*s.RPOSeconds*float64(time.Second))))
		if s.RTOMillis != nil {
			proven += fmt.Sprintf(" (drill took %s)", Dur(time.Duration(*s.RTOMillis)*time.Millisecond))
		}
		proven += "."
	}
	if len(s.Problems) == 0 {
		s.Headline = "Every schedule is on time and the newest restore point is proven. " + proven
		return
	}
	s.Headline = endSentence(s.Problems[0].Message)
	if s.Problems[0].Rule != RuleBackupMissing && s.Problems[0].Rule != RuleBackupUnproven {
		s.Headline += " " + proven
	}
	if n := len(s.Problems) - 1; n > 0 {
		s.Headline += fmt.Sprintf(" %d more problem%s below.", n, plural(n))
	}
}

// endSentence ends s with a full stop unless it already ends a sentence, so the next sentence of the headline
// does not run on from a message that ends in quoted error text.
func endSentence(s string) string {
	s = strings.TrimSpace(s)
	if s == "" || strings.HasSuffix(s, ".") || strings.HasSuffix(s, "!") || strings.HasSuffix(s, "?") || strings.HasSuffix(s, "…") {
		return s
	}
	return s + "."
}

// Dur renders a duration coarsely, as staff read it: "41 s", "3 min", "5 h", "2 d".
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
