package alert

import (
	"context"
	"strings"
	"time"

	"github.com/uscpis/pisbackup/internal/config"
	"github.com/uscpis/pisbackup/internal/mail"
	"github.com/uscpis/pisbackup/queries"
	"github.com/uscpis/pisbackup/views/emails"
)

// TestMessage is the test e-mail: the same template and real numbers as an alert, so a test proves what an
// alert will look like. subject may be empty.
func TestMessage(ctx context.Context, q *queries.Queries, cfg *config.Config, to, subject string, now time.Time) (mail.Message, error) {
	vm, err := Base(ctx, q, cfg, now, false)
	if err != nil {
		return mail.Message{}, err
	}
	vm.Kind = emails.KindTest
	vm.Headline = strings.TrimSpace(subject)
	if vm.Headline == "" {
		vm.Headline = "Test e-mail from pisbackup"
	}
	text, html, err := emails.Render(ctx, vm)
	if err != nil {
		return mail.Message{}, err
	}
	return mail.Message{To: []string{to}, Subject: vm.Headline, Text: text, HTML: html}, nil
}
