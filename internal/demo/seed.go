package demo

import (
	"context"
	"fmt"
	"math/rand/v2"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/uscpis/pisbackup/internal/dbconn"
)

// epoch anchors every generated timestamp, so output never depends on the
// wall clock and two runs with the same seed are identical. It is a clinic
// closing time (17:00 UTC, treated as local for realism); ago walks back
// from it so generated visits fall between 08:00 and 17:00.
var epoch = time.Date(2025, 6, 30, 17, 0, 0, 0, time.UTC)

// loader streams one table's rows into COPY. row is called with ids 1..n in
// order and a random stream private to the table, so tables do not perturb
// each other's data when one of them changes.
type loader struct {
	table   string
	columns []string
	n       int64
	row     func(r *rand.Rand, id int64) []any
}

// plan fixes every table's size from Options. Counts are exact functions of
// Patients (not random) so callers and tests can predict them.
type plan struct {
	seed                    uint64
	patients, clinicians    int64
	users, records, certs   int64
	feedback, notifications int64
}

func newPlan(o Options) plan {
	p := int64(o.Patients)
	// Roughly one clinician per 200 patients, with a floor so even tiny
	// demos have every staff role.
	c := 12 + p/200
	return plan{
		seed: uint64(o.Seed), patients: p, clinicians: c, users: c + p,
		records: 3 * p, certs: p/2 + 1, feedback: p/2 + 1, notifications: 2 * (c + p),
	}
}

// Seed (re)creates the clinic schema and synthetic data in the database at
// connString, which must already exist (see EnsureDatabase). It writes only
// into an empty database or one it marked as demo data before (DatabaseMark;
// anything else is refused with an error wrapping ErrNotDemo and left
// untouched). It drops and recreates only its own tables (see Tables), inside
// one transaction, so a failed run leaves the previous data intact and
// running it twice gives the same result. It returns the number of rows
// loaded per table.
//
// Rows are streamed with COPY and constraints/indexes are added afterwards,
// so the default 200 patients take well under a second and 200,000 patients
// (a few hundred MB) remain practical for benchmarks.
func Seed(ctx context.Context, db *dbconn.Settings, opts Options) (map[string]int64, error) {
	opts, err := opts.withDefaults()
	if err != nil {
		return nil, err
	}
	conn, err := db.Connect(ctx)
	if err != nil {
		return nil, fmt.Errorf("demo: connect: %w", err)
	}
	defer conn.Close(context.WithoutCancel(ctx))

	tx, err := conn.Begin(ctx)
	if err != nil {
		return nil, fmt.Errorf("demo: begin: %w", err)
	}
	defer tx.Rollback(context.WithoutCancel(ctx)) // no-op after Commit

	if err := checkDatabase(ctx, tx); err != nil {
		return nil, err
	}
	if err := markDatabase(ctx, tx); err != nil {
		return nil, err
	}
	if _, err := tx.Exec(ctx, dropSQL+createSQL); err != nil {
		return nil, fmt.Errorf("demo: create schema: %w", err)
	}
	p := newPlan(opts)
	counts := make(map[string]int64, len(Tables))
	for i, l := range p.loaders() {
		r := rand.New(rand.NewPCG(p.seed, uint64(i+1)))
		var id int64
		src := pgx.CopyFromFunc(func() ([]any, error) {
			if id == l.n {
				return nil, nil
			}
			id++
			return l.row(r, id), nil
		})
		n, err := tx.CopyFrom(ctx, pgx.Identifier{l.table}, l.columns, src)
		if err != nil {
			return nil, fmt.Errorf("demo: copy %s: %w", l.table, err)
		}
		counts[l.table] = n
	}
	if _, err := tx.Exec(ctx, postLoadSQL()); err != nil {
		return nil, fmt.Errorf("demo: constraints and indexes: %w", err)
	}
	if err := tx.Commit(ctx); err != nil {
		return nil, fmt.Errorf("demo: commit: %w", err)
	}
	return counts, nil
}

// loaders lists the tables in Tables order.
func (p plan) loaders() []loader {
	return []loader{
		p.userRows(), p.patientRows(), p.medicalRecords(), p.dentalRecords(),
		p.documents(), p.certificates(), p.feedbackRows(), p.notificationRows(),
		healthInformation(), campaigns(), healthInformationImages(), generatedReports(),
		empty("file_uploads_uploadedfile"), empty("health_info_campaigntemplate"), empty("health_info_campaignresource"),
	}
}

// empty is a table the clinic app has but the demo leaves without rows, so the schema (and every FileField
// column a backup checks) matches the real one.
func empty(table string) loader {
	return loader{table: table, columns: []string{"id"}, row: func(*rand.Rand, int64) []any { return nil }}
}

// ago returns a time up to maxDays before epoch, during clinic hours, and
// never after epoch (callers derive later timestamps with since).
func ago(r *rand.Rand, maxDays int) time.Time {
	return epoch.AddDate(0, 0, -r.IntN(maxDays+1)).Add(-time.Duration(r.IntN(9*60)) * time.Minute)
}

// since returns a random time between t and epoch.
func since(r *rand.Rand, t time.Time) time.Time {
	return t.Add(time.Duration(r.Int64N(int64(max(epoch.Sub(t), 0)) + 1)))
}

// day truncates to a calendar date for DATE columns.
func day(t time.Time) time.Time {
	return time.Date(t.Year(), t.Month(), t.Day(), 0, 0, 0, 0, time.UTC)
}
