package main

import (
	"context"
	"fmt"
	"slices"
	"time"

	"github.com/uscpis/pisbackup/internal/recovery"
	"github.com/uscpis/pisbackup/internal/storage"
	"github.com/uscpis/pisbackup/jobs"
	"github.com/uscpis/pisbackup/queries"
)

// alertDeliveryWait bounds how long monitor-backups --send-alerts waits for SendGrid; what is still retrying
// then stays queued for the next run or a worker.
const alertDeliveryWait = time.Minute

// sendAlerts is monitor-backups --send-alerts: the worker's alert evaluation, run once in-process, with the
// resulting e-mail (and any e-mail still queued) delivered before it returns. delivered is false when some
// e-mail could not be sent. The summary goes to stderr so --json output stays one report.
func (a *app) sendAlerts(ctx context.Context, e *env, st storage.Store) (rep recovery.State, delivered bool, err error) {
	d := a.mailDeps()
	d.Store = st
	client, stop, err := a.emailClient(ctx, d)
	if err != nil {
		return rep, false, err
	}
	defer stop()
	rep, out, err := jobs.EvaluateAlerts(ctx, d, client, false)
	if err != nil {
		return rep, false, err
	}
	fmt.Fprintf(e.stderr, "alerts: %d opened, %d reminded, %d resolved; %d e-mail(s)\n",
		len(out.Opened), len(out.Reminded), len(out.Resolved), len(out.Emails))
	// E-mail queued earlier (say by create-backup's failure hook on a machine with no worker) goes out now too.
	recent, err := d.Q.EmailList(ctx, 100)
	if err != nil {
		return rep, false, err
	}
	rows := out.Emails
	for _, r := range recent {
		if r.Status == "queued" && !slices.ContainsFunc(rows, func(x queries.Email) bool { return x.ID == r.ID }) {
			rows = append(rows, r)
		}
	}
	rows, err = waitEmails(ctx, d.Q, rows, alertDeliveryWait)
	if err != nil {
		return rep, false, err
	}
	delivered = true
	for _, r := range rows {
		switch {
		case r.Provider == "outbox":
			fmt.Fprintf(e.stderr, "e-mail #%d %q kept in the development outbox (SENDGRID_API_KEY is not set)\n", r.ID, r.Subject)
		case r.Status == "sent":
			fmt.Fprintf(e.stderr, "e-mail #%d %q sent (attempts %d)\n", r.ID, r.Subject, r.Attempts)
		default:
			delivered = false
			fmt.Fprintf(e.stderr, "e-mail #%d %q %s after %d attempt(s): %s\n", r.ID, r.Subject, r.Status, r.Attempts, r.LastError)
		}
	}
	return rep, delivered, nil
}
