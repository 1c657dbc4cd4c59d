package alert

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"

	"github.com/jackc/pgx/v5"

	"github.com/uscpis/pisbackup/queries"
)

type notice struct {
	kind  string // opened, reminder, recovered
	alert queries.Alert
}

// Apply brings the alerts in scope in line with what is firing and records the e-mails due.
func (e *Engine) Apply(ctx context.Context, scope Scope, firing []Condition) (Outcome, error) {
	return e.Evaluate(ctx, func(context.Context, *queries.Queries) (Scope, []Condition, error) { return scope, firing, nil })
}

// Evaluator decides what fires, reading through q (the evaluation's transaction).
type Evaluator func(ctx context.Context, q *queries.Queries) (Scope, []Condition, error)

// Evaluate runs eval and applies its result in one transaction serialised with every other evaluation. Reading
// inside the lock matters: the periodic monitor and a backup's hook can run at the same moment, and a verdict
// read before the other's commit would reopen an alert the other just resolved (a spurious e-mail).
func (e *Engine) Evaluate(ctx context.Context, eval Evaluator) (Outcome, error) {
	var out Outcome
	err := pgx.BeginFunc(ctx, e.Pool, func(tx pgx.Tx) error {
		out = Outcome{}
		q := queries.New(tx)
		if _, err := tx.Exec(ctx, "SELECT pg_advisory_xact_lock(hashtext('pisbackup.alerts'))"); err != nil {
			return err
		}
		scope, firing, err := eval(ctx, q)
		if err != nil {
			return err
		}
		open, err := q.AlertListOpen(ctx)
		if err != nil {
			return err
		}
		now := e.now()
		var notices []notice
		seen := map[[2]string]bool{}
		for _, c := range firing {
			key := [2]string{c.Rule, c.Subject}
			if seen[key] {
				continue
			}
			seen[key] = true
			n, err := e.fire(ctx, q, c, find(open, key), &out)
			if err != nil {
				return err
			}
			if n != nil {
				notices = append(notices, *n)
			}
		}
		for _, a := range open {
			if seen[[2]string{a.Rule, a.Subject}] || !scope(a.Rule, a.Subject) {
				continue
			}
			res, err := q.AlertResolve(ctx, queries.AlertResolveParams{ID: a.ID, Now: now})
			if err != nil {
				return err
			}
			out.Resolved = append(out.Resolved, res)
			// A recovery notice only follows an alert someone was told about.
			if !Silent(a.Rule) && a.LastNotifiedAt != nil {
				notices = append(notices, notice{kind: "recovered", alert: res})
			}
		}
		return e.notify(ctx, tx, q, notices, &out)
	})
	return out, err
}

// fire opens the alert for c or refreshes the open one, returning the e-mail it is due, if any.
func (e *Engine) fire(ctx context.Context, q *queries.Queries, c Condition, cur *queries.Alert, out *Outcome) (*notice, error) {
	now := e.now()
	if c.Severity == "" {
		c.Severity = "critical"
	}
	if c.Title == "" {
		c.Title = Title(c.Rule, c.Subject, "")
	}
	details, _ := json.Marshal(Details{Message: c.Message, Recommendation: c.Recommendation, Link: c.Link, Event: c.Event})
	if cur == nil {
		a, err := q.AlertOpen(ctx, queries.AlertOpenParams{Rule: c.Rule, Subject: c.Subject, Severity: c.Severity,
			Title: c.Title, Now: now, Details: details})
		if err != nil {
			return nil, fmt.Errorf("open alert %s/%s: %w", c.Rule, c.Subject, err)
		}
		out.Opened = append(out.Opened, a)
		if Silent(c.Rule) {
			return nil, nil
		}
		return &notice{kind: "opened", alert: a}, nil
	}
	prev := ParseDetails(cur.Details)
	if c.Event == "" {
		// The periodic monitor does not know events; keep the last one so the next hook compares correctly.
		details, _ = json.Marshal(Details{Message: c.Message, Recommendation: c.Recommendation, Link: c.Link, Event: prev.Event})
	}
	a, err := q.AlertSeen(ctx, queries.AlertSeenParams{ID: cur.ID, Now: now, Severity: c.Severity, Title: c.Title,
		Details: details, NewEvent: c.Event != "" && c.Event != prev.Event})
	if err != nil {
		return nil, err
	}
	last := a.OpenedAt
	if a.LastNotifiedAt != nil {
		last = *a.LastNotifiedAt
	}
	// An acknowledged alert stays open (the problem is real) but staff asked not to be reminded.
	if Silent(c.Rule) || a.AcknowledgedAt != nil || now.Sub(last) < e.Cfg.AlertRemindAfter {
		return nil, nil
	}
	out.Reminded = append(out.Reminded, a)
	return &notice{kind: "reminder", alert: a}, nil
}

func find(open []queries.Alert, key [2]string) *queries.Alert {
	for i := range open {
		if open[i].Rule == key[0] && open[i].Subject == key[1] {
			return &open[i]
		}
	}
	return nil
}

// errNoRecipients is logged, not returned: the alert must still be recorded and shown on the dashboard.
var errNoRecipients = errors.New("no alert recipients: set BACKUP_ALERT_EMAIL or let an administrator opt in")
