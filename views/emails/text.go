package emails

import (
	"context"
	"fmt"
	"io"
	"strings"

	"github.com/a-h/templ"
)

// AlertText is the plain-text body: the same content as AlertHTML. It is a templ component written in Go
// because templ's markup escapes text for HTML, which would put "&amp;" into a plain-text mail.
func AlertText(vm AlertVM) templ.Component {
	return templ.ComponentFunc(func(_ context.Context, w io.Writer) error {
		var b strings.Builder
		fmt.Fprintf(&b, "%s\n%s\n\n%s\n\nOverall status: %s\n", vm.Headline, strings.Repeat("=", len(vm.Headline)), vm.intro(), vm.Status)
		if vm.Verdict != "" {
			fmt.Fprintf(&b, "%s\n", vm.Verdict)
		}
		if vm.About != nil {
			b.WriteString("\nThis alert\n----------\n")
			textIssue(&b, *vm.About)
		}
		h := vm.openHeading()
		fmt.Fprintf(&b, "\n%s\n%s\n", h, strings.Repeat("-", len(h)))
		if len(vm.Open) == 0 {
			b.WriteString("None.\n")
		}
		for _, i := range vm.Open {
			textIssue(&b, i)
		}
		fmt.Fprintf(&b, "\nBackups\n-------\nLast 24 hours: %s\nLast 7 days:   %s\nNewest good database backup: %s\nNewest drill-proven database backup: %s\n",
			Rate(vm.Stats.Good24h, vm.Stats.Total24h), Rate(vm.Stats.Good7d, vm.Stats.Total7d), vm.Stats.LastGood(), vm.Stats.LastProven())
		fmt.Fprintf(&b, "\nDashboard: %s\nAlerts and e-mail log: %s\n\nSent by pisbackup at %s.\n", vm.DashboardURL, vm.AlertsURL, vm.When)
		_, err := io.WriteString(w, b.String())
		return err
	})
}

func textIssue(b *strings.Builder, i Issue) {
	fmt.Fprintf(b, "* [%s] %s\n", strings.ToUpper(i.Severity), i.Title)
	if i.Message != "" {
		fmt.Fprintf(b, "  %s\n", i.Message)
	}
	if i.Recommendation != "" {
		fmt.Fprintf(b, "  Recommended: %s\n", i.Recommendation)
	}
	if i.Link != "" {
		fmt.Fprintf(b, "  About: %s\n", i.Link)
	}
	if i.Since != "" {
		fmt.Fprintf(b, "  Open since %s%s\n", i.Since, occurrences(i))
	}
}

func occurrences(i Issue) string {
	if i.Occurrences > 1 {
		return fmt.Sprintf(", seen %d times", i.Occurrences)
	}
	return ""
}

// statusStyle colours a status word; the word itself is always there, so colour is never the only signal.
func statusStyle(s string) string {
	switch s {
	case "critical":
		return "color:#b00020"
	case "warning":
		return "color:#8a5a00"
	}
	return "color:#1b6e20"
}

// Render produces both bodies.
func Render(ctx context.Context, vm AlertVM) (text, html string, err error) {
	var t, h strings.Builder
	if err := AlertText(vm).Render(ctx, &t); err != nil {
		return "", "", err
	}
	if err := AlertHTML(vm).Render(ctx, &h); err != nil {
		return "", "", err
	}
	return t.String(), h.String(), nil
}
