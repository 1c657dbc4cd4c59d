package recovery

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/uscpis/pisbackup/internal/config"
	"github.com/uscpis/pisbackup/internal/mail"
	"github.com/uscpis/pisbackup/internal/schedule"
	"github.com/uscpis/pisbackup/internal/storage"
	"github.com/uscpis/pisbackup/queries"
)

// Inputs are what Evaluate reads. Store may be nil: storage use is then the health job's newest measurement
// (pages and probes must stay quick). Cfg may be nil (e-mail deliverability is then not checked).
type Inputs struct {
	Q     *queries.Queries
	Store storage.Store
	Cfg   *config.Config
	Now   time.Time
}

// Evaluate computes the State at in.Now. It needs no worker, so `monitor-backups` on Heroku Scheduler notices
// a dead worker and a dead scheduler too. Errors are the catalog's; a storage error becomes a problem.
func Evaluate(ctx context.Context, in Inputs) (State, error) {
	s := State{CheckedAt: in.Now, Kinds: map[string]KindState{}, Schedules: []ScheduleState{}, Problems: []Problem{}}
	for _, check := range []func(context.Context, Inputs, *State) error{
		kinds, stats, schedules, liveness, storageUse, email, mediaMigration,
	} {
		if err := check(ctx, in, &s); err != nil {
			return s, err
		}
	}
	s.finish()
	return s, nil
}

func (s *State) add(p Problem) { s.Problems = append(s.Problems, p) }

func ref(b queries.Backup, now time.Time) *BackupRef {
	at := Finished(b)
	return &BackupRef{ID: b.ID, Status: b.Status, At: at, ScheduleID: b.ScheduleID, AgeSeconds: max(0, now.Sub(at).Seconds())}
}

// Finished is a backup's restore point: when it finished (when it was queued, for rows that never did).
func Finished(b queries.Backup) time.Time {
	if b.FinishedAt != nil {
		return *b.FinishedAt
	}
	return b.QueuedAt
}

// kinds fills per-kind newest, newest good, newest proven and failed verifications, and raises backup_failed,
// verification_failed, backup_missing and backup_unproven.
func kinds(ctx context.Context, in Inputs, s *State) error {
	for _, k := range Kinds {
		s.Kinds[k] = KindState{Kind: k, FailedVerifications: []FailedVerification{}}
	}
	finals, err := in.Q.BackupLatestFinalByKind(ctx)
	if err != nil {
		return err
	}
	for _, b := range finals {
		ks := s.Kinds[b.Kind]
		ks.Newest = ref(b, in.Now)
		s.Kinds[b.Kind] = ks
		if b.Status == "failed" {
			name := ""
			if b.ScheduleID != nil {
				if sc, err := in.Q.ScheduleGet(ctx, *b.ScheduleID); err == nil {
					name = sc.Name
				}
			}
			s.add(BackupFailed(b, name))
		}
	}
	for _, k := range Kinds {
		ks := s.Kinds[k]
		if b, err := in.Q.BackupLatestGood(ctx, k); err == nil {
			ks.NewestGood = ref(b, in.Now)
		} else if !errors.Is(err, pgx.ErrNoRows) {
			return err
		}
		if p, err := in.Q.VerificationLatestDrillProven(ctx, k); err == nil {
			at := in.Now
			if p.BackupFinishedAt != nil {
				at = *p.BackupFinishedAt
			}
			ks.NewestProven = &BackupRef{ID: p.BackupID, Status: "succeeded", At: at, AgeSeconds: max(0, in.Now.Sub(at).Seconds())}
			ks.RTOMillis = p.RtoMs
		} else if !errors.Is(err, pgx.ErrNoRows) {
			return err
		}
		s.Kinds[k] = ks
	}
	failed, err := in.Q.BackupVerifyFailed(ctx)
	if err != nil {
		return err
	}
	for _, f := range failed {
		ks := s.Kinds[f.Kind]
		ks.FailedVerifications = append(ks.FailedVerifications, FailedVerification{BackupID: f.ID,
			VerificationID: f.VerificationID, Level: f.Level, Error: firstLine(f.Error)})
		s.Kinds[f.Kind] = ks
		s.add(verificationFailed(f, ks.NewestGood))
	}
	db := s.Kinds["database"]
	if db.NewestProven != nil {
		s.RPOSeconds, s.RTOMillis = &db.NewestProven.AgeSeconds, db.RTOMillis
	}
	switch {
	case db.NewestGood == nil:
		msg := "No good backup of the clinic database exists yet."
		if db.Newest != nil {
			msg = "No good backup of the clinic database exists: none has succeeded and passed its verifications."
		}
		s.add(Problem{Rule: RuleBackupMissing, Subject: "kind:database", Severity: StatusCritical, Link: "/backups",
			Message:        msg,
			Recommendation: "Take one now with Back up now, then run a drill on it to prove it restores."})
	case db.NewestProven == nil:
		g := db.NewestGood
		s.add(Problem{Rule: RuleBackupUnproven, Subject: "kind:database", Severity: StatusWarning,
			Link: "/backups/" + strconv.FormatInt(g.ID, 10),
			Message: fmt.Sprintf("The newest good database backup (#%d, %s ago) succeeded, but neither it nor any other backup has been restored in a drill: recovery is unproven.",
				g.ID, Dur(time.Duration(g.AgeSeconds*float64(time.Second)))),
			Recommendation: "Open the backup and run a drill (Verify → drill), or add a drill schedule."})
	}
	return nil
}

// BackupFailed is the problem a failed backup is: the moment it fails (the backup hook) and for as long as it
// is the newest finished backup of its kind (Evaluate). scheduleName may be empty.
func BackupFailed(b queries.Backup, scheduleName string) Problem {
	by := ""
	if scheduleName != "" {
		by = fmt.Sprintf(", schedule %q", scheduleName)
	}
	return Problem{Rule: RuleBackupFailed, Subject: "kind:" + b.Kind, Severity: StatusCritical,
		Link: "/backups/" + strconv.FormatInt(b.ID, 10), Event: strconv.FormatInt(b.ID, 10),
		Message:        fmt.Sprintf("The newest %s backup (#%d%s) failed: %s", b.Kind, b.ID, by, firstLine(b.Error)),
		Recommendation: fmt.Sprintf("Open the backup's page for the full error, fix the cause, then use Back up now: the next good %s backup clears this alert.", b.Kind)}
}

func verificationFailed(f queries.BackupVerifyFailedRow, newestGood *BackupRef) Problem {
	sev, tail := StatusWarning, "An older good backup is not affected."
	if newestGood == nil || (f.FinishedAt != nil && f.FinishedAt.After(newestGood.At)) {
		sev, tail = StatusCritical, fmt.Sprintf("It was the newest %s backup; it no longer counts as good.", f.Kind)
	}
	what := f.Level + " verification"
	if f.Level == "drill" {
		what = "restore drill"
	}
	return Problem{Rule: RuleVerificationFailed, Subject: "backup:" + strconv.FormatInt(f.ID, 10), Severity: sev,
		Link: "/backups/" + strconv.FormatInt(f.ID, 10), Event: strconv.FormatInt(f.VerificationID, 10),
		Message: fmt.Sprintf("%s backup #%d failed its %s: %s. %s", upper(f.Kind), f.ID, what, firstLine(f.Error), tail),
		Recommendation: "If the cause was temporary, verify the backup again; if it is damaged, delete it and take a new backup. " +
			"This alert stays open until one of those."}
}

// VerificationProblem is the verification_failed problem of one backup right now, or nil when it has none
// (it passed on re-verification, was deleted or pruned, or is an upload). The verification hook uses it.
func VerificationProblem(ctx context.Context, q *queries.Queries, backupID int64) (*Problem, error) {
	rows, err := q.BackupVerifyFailed(ctx)
	if err != nil {
		return nil, err
	}
	for _, f := range rows {
		if f.ID != backupID {
			continue
		}
		var good *BackupRef
		if b, err := q.BackupLatestGood(ctx, f.Kind); err == nil {
			good = ref(b, time.Now())
		} else if !errors.Is(err, pgx.ErrNoRows) {
			return nil, err
		}
		p := verificationFailed(f, good)
		return &p, nil
	}
	return nil, nil
}

func stats(ctx context.Context, in Inputs, s *State) error {
	for _, w := range []struct {
		since       time.Duration
		total, good *int64
		rate        **float64
	}{{24 * time.Hour, &s.Stats.Finished24h, &s.Stats.Good24h, &s.Stats.SuccessRate24h},
		{7 * 24 * time.Hour, &s.Stats.Finished7d, &s.Stats.Good7d, &s.Stats.SuccessRate7d}} {
		o, err := in.Q.BackupOutcomesSince(ctx, in.Now.Add(-w.since))
		if err != nil {
			return err
		}
		*w.total, *w.good = o.Total, o.Good
		if o.Total > 0 {
			r := float64(o.Good) / float64(o.Total)
			*w.rate = &r
		}
	}
	return nil
}

// Deadline is when a schedule's kind must next have a fresh good backup (or, for a drill schedule, a freshly
// proven one): the newest such plus the schedule's interval plus grace (an hour, or a quarter interval if
// longer), so a slow dump is not mistaken for a missed one. A schedule with none yet is measured from its
// creation. Manual and inactive schedules promise nothing.
func Deadline(s queries.Schedule, newest *time.Time, now time.Time) (time.Time, bool) {
	if !s.Active || s.Cadence == "manual" {
		return time.Time{}, false
	}
	c, err := schedule.Parse(schedule.FromRow(s).Spec)
	if err != nil {
		return time.Time{}, false
	}
	interval := c.Interval(now)
	from := s.CreatedAt
	if newest != nil && newest.After(from) {
		from = *newest
	}
	return from.Add(interval + max(time.Hour, interval/4)), true
}

func schedules(ctx context.Context, in Inputs, s *State) error {
	rows, err := in.Q.ScheduleListActive(ctx)
	if err != nil {
		return err
	}
	coversDB := false
	for _, sc := range rows {
		var newest *time.Time
		what := "good " + sc.Kind + " backup"
		if sc.Kind == "drill" {
			what = "drill-proven database backup"
			if p, err := in.Q.VerificationLatestDrillProven(ctx, "database"); err == nil {
				newest = p.DrilledAt
			} else if !errors.Is(err, pgx.ErrNoRows) {
				return err
			}
		} else if g := s.Kinds[sc.Kind].NewestGood; g != nil {
			newest = &g.At
		}
		deadline, ok := Deadline(sc, newest, in.Now)
		if !ok {
			continue
		}
		coversDB = coversDB || sc.Kind == "database" || sc.Kind == "full"
		st := ScheduleState{ID: sc.ID, Name: sc.Name, Kind: sc.Kind, Deadline: &deadline, Overdue: !in.Now.Before(deadline)}
		s.Schedules = append(s.Schedules, st)
		if !st.Overdue {
			continue
		}
		since := "there is none yet"
		if newest != nil {
			since = fmt.Sprintf("the newest is from %s (%s ago)", newest.UTC().Format(time.RFC3339), Dur(in.Now.Sub(*newest)))
		}
		p := Problem{Rule: RuleBackupStale, Subject: fmt.Sprintf("schedule:%d", sc.ID), Severity: StatusCritical,
			Link:           fmt.Sprintf("/schedules/%d", sc.ID),
			Message:        fmt.Sprintf("Schedule %q is overdue: it needs a %s by %s and %s.", sc.Name, what, deadline.UTC().Format(time.RFC3339), since),
			Recommendation: "Check that the worker is running (pisbackup worker) and look at the schedule's recent backups."}
		if sc.Kind == "drill" {
			p.Rule, p.Severity = RuleDrillOverdue, StatusWarning
			p.Recommendation = "Check that the worker is running and look at the schedule's recent drills; a failing drill is its own alert."
		}
		s.add(p)
	}
	if !coversDB {
		s.add(Problem{Rule: RuleBackupStale, Subject: "kind:database", Severity: StatusWarning, Link: "/schedules",
			Message:        "No active schedule backs up the clinic database: nothing makes sure a fresh backup exists.",
			Recommendation: "Create a daily database schedule on the schedules page (or run pisbackup setup-schedules)."})
	}
	return nil
}

func liveness(ctx context.Context, in Inputs, s *State) error {
	at, err := in.Q.HealthMetricLatestAt(ctx, MetricName)
	if err != nil && !errors.Is(err, pgx.ErrNoRows) {
		return err
	}
	if err == nil {
		s.Worker.LastAt = &at
		s.Worker.Alive = in.Now.Sub(at) <= 2*Interval
	}
	if !s.Worker.Alive {
		msg := "The worker's health job has never run."
		if s.Worker.LastAt != nil {
			msg = fmt.Sprintf("The worker's health job last ran %s ago.", Dur(in.Now.Sub(at)))
		}
		s.add(Problem{Rule: RuleWorkerNotRunning, Subject: "worker", Severity: StatusCritical, Link: "/health",
			Message:        msg + " Backups, verifications and alert e-mail are not being processed.",
			Recommendation: "Start the worker (pisbackup worker, or the Heroku worker dyno) and check its logs."})
	}
	tick, err := in.Q.RiverLastCompleted(ctx, "schedule_tick")
	if err != nil && !errors.Is(err, pgx.ErrNoRows) {
		return err
	}
	s.Scheduler.LastAt = tick
	s.Scheduler.Alive = tick != nil && in.Now.Sub(*tick) <= SchedulerGrace
	if !s.Scheduler.Alive {
		msg := "The scheduler has not completed a pass in the last " + Dur(SchedulerGrace) + "."
		if tick != nil {
			msg = fmt.Sprintf("The scheduler last completed a pass %s ago.", Dur(in.Now.Sub(*tick)))
		}
		s.add(Problem{Rule: RuleSchedulerNotRunning, Subject: "scheduler", Severity: StatusCritical, Link: "/schedules",
			Message:        msg + " No scheduled backup or drill will start.",
			Recommendation: "Start the worker (it runs the scheduler) and check its logs for schedule_tick errors."})
	}
	return nil
}

// storageUse measures storage when in.Store is given (the health job, monitor-backups) and otherwise reads the
// health job's newest measurement, so page loads never walk storage and every web output sees the same figures.
func storageUse(ctx context.Context, in Inputs, s *State) error {
	var u storage.Usage
	if in.Store != nil {
		var err error
		if u, err = in.Store.Usage(ctx); err != nil {
			s.add(Problem{Rule: RuleStorageFull, Subject: "storage", Severity: StatusWarning, Link: "/health",
				Message: "Backup storage usage could not be read: " + firstLine(err.Error()), Recommendation: "Check BACKUP_STORAGE."})
			return nil
		}
	} else {
		used, err := in.Q.HealthMetricLatestOf(ctx, "storage_used_bytes")
		if errors.Is(err, pgx.ErrNoRows) {
			return nil
		} else if err != nil {
			return err
		}
		u.UsedBytes = int64(used.Value)
		if free, err := in.Q.HealthMetricLatestOf(ctx, "storage_free_bytes"); err == nil {
			var d struct{ Total int64 }
			if json.Unmarshal(free.Details, &d) == nil {
				u.FreeBytes, u.TotalBytes = int64(free.Value), d.Total
			}
		} else if !errors.Is(err, pgx.ErrNoRows) {
			return err
		}
	}
	s.Stats.StorageRead = true
	s.Stats.StorageUsedBytes, s.Stats.StorageFreeBytes, s.Stats.StorageTotalBytes = u.UsedBytes, u.FreeBytes, u.TotalBytes
	if u.TotalBytes <= 0 {
		return nil // unknown capacity (object stores)
	}
	free := float64(u.FreeBytes) / float64(u.TotalBytes)
	if free >= 0.10 {
		return nil
	}
	sev := StatusWarning
	if free < 0.05 {
		sev = StatusCritical
	}
	s.add(Problem{Rule: RuleStorageFull, Subject: "storage", Severity: sev, Link: "/health",
		Message:        fmt.Sprintf("Backup storage is %.0f%% full (%d MiB free).", 100*(1-free), u.FreeBytes>>20),
		Recommendation: "Tighten retention on the schedules page or give the backup volume more space."})
	return nil
}

func email(ctx context.Context, in Inputs, s *State) error {
	if in.Cfg == nil {
		return nil
	}
	st, err := Email(ctx, in.Q, in.Cfg, in.Now)
	if err != nil {
		return err
	}
	s.Email = &st
	p := Problem{Rule: RuleEmail, Severity: StatusWarning, Link: "/alerts", Message: st.Problem()}
	switch {
	case !st.Configured:
		p.Subject, p.Recommendation = "config", "Set SENDGRID_API_KEY and DEFAULT_FROM_EMAIL; until then alerts reach nobody."
	case st.Recipients == 0:
		p.Subject, p.Recommendation = "recipients", "Set BACKUP_ALERT_EMAIL or let an administrator opt in to alerts on their profile."
	case st.Failing && strings.Contains(st.LastError, mail.SenderNotVerified):
		// SendGrid's 403: a configuration problem that no retry fixes; the error names the sender.
		p.Subject, p.Event, p.Severity = "sendgrid", strconv.FormatInt(st.LastFailedID, 10), StatusCritical
		p.Message = "SendGrid refuses every alert e-mail because the sender is not verified: " + firstLineN(st.LastError, 600)
		p.Recommendation = "Verify the sender named above as a Sender Identity in SendGrid (Settings → Sender Authentication), or set DEFAULT_FROM_EMAIL to an address verified there; then send a test e-mail."
	case st.Failing:
		p.Subject, p.Event = "sendgrid", strconv.FormatInt(st.LastFailedID, 10)
		p.Recommendation = "Check SENDGRID_API_KEY, the sender's verification in SendGrid and DEFAULT_FROM_EMAIL; then send a test e-mail from the Alerts page."
	default:
		return nil
	}
	s.add(p)
	return nil
}

func mediaMigration(ctx context.Context, in Inputs, s *State) error {
	mm, err := in.Q.MediaMigrationLatestFinished(ctx)
	if errors.Is(err, pgx.ErrNoRows) {
		return nil
	} else if err != nil {
		return err
	}
	if mm.Status != "failed" && mm.Failed == 0 {
		return nil
	}
	s.add(MediaMigrationFailed(mm.ID, int(mm.Failed), mm.Error))
	return nil
}

// MediaMigrationFailed is the problem a migration run with failed files is, the moment it ends and until the
// next run ends clean.
func MediaMigrationFailed(runID int64, failed int, errText string) Problem {
	msg := fmt.Sprintf("Media migration #%d ended with %d file(s) not uploaded or not verified.", runID, failed)
	if errText != "" {
		msg += " " + firstLine(errText)
	}
	return Problem{Rule: RuleMediaMigration, Subject: "media_migration", Severity: StatusWarning, Link: "/media",
		Event: strconv.FormatInt(runID, 10), Message: msg,
		Recommendation: "See the media page for the failed files and re-run the migration; verified files are skipped."}
}

func firstLine(s string) string { return firstLineN(s, 300) }

// firstLineN is the first line of s, at most n bytes (cut on a rune boundary).
func firstLineN(s string, n int) string {
	s, _, _ = strings.Cut(strings.TrimSpace(s), "\n")
	if len(s) > n {
		s = strings.ToValidUTF8(s[:n], "") + "…"
	}
	if s == "" {
		return "no error text recorded"
	}
	return s
}

func upper(s string) string {
	if s == "" {
		return s
	}
	return strings.ToUpper(s[:1]) + s[1:]
}
