package handlers

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/PuerkitoBio/goquery"
	"github.com/stretchr/testify/require"

	"github.com/uscpis/pisbackup/internal/auth"
	"github.com/uscpis/pisbackup/internal/dbconn"
	"github.com/uscpis/pisbackup/internal/testdb"
	"github.com/uscpis/pisbackup/jobs"
)

// A schedule created through the API fires as the River periodic scheduler job, with the tick shortened to
// 100 ms and the web clock set a day back (so the slot it computes has already come), and produces a real
// backup with trigger "schedule"; a PUT moves the next run at once.
func TestAPIScheduleFiresThroughWorker(t *testing.T) {
	t.Parallel()
	// Our worker must be the only started River client: periodic jobs are enqueued by the elected leader.
	env := newAuthEnv(t, false)
	env.d.Cfg.Source = dbconn.MustParse(testdb.Source(t))
	ctx := context.Background()
	insertOnly, err := jobs.NewClient(env.d, jobs.InsertOnly, "")
	require.NoError(t, err)
	yesterday := func() time.Time { return time.Now().Add(-24 * time.Hour) }
	e := *env
	e.srv = httptest.NewServer(New(Deps{Pool: env.d.Pool, Q: env.d.Q, River: insertOnly, Cfg: env.d.Cfg, Store: env.d.Store,
		Keys: env.d.Keys, Log: env.d.Log, Now: yesterday}))
	t.Cleanup(e.srv.Close)

	body := `{"name":"Nightly","kind":"database","cadence":"daily","time_of_day":"02:00","keep_daily":7}`
	resp, text := e.req(t, nil, "POST", "/api/v1/schedules", e.tokens[auth.Viewer], body)
	require.Equal(t, http.StatusForbidden, resp.StatusCode, "viewers read schedules, they do not manage them")
	resp, text = e.req(t, nil, "POST", "/api/v1/schedules", e.tokens[auth.Operator], body)
	require.Equal(t, http.StatusCreated, resp.StatusCode, text)
	var s ScheduleJSON
	require.NoError(t, jsonUnmarshal(text, &s))
	require.True(t, s.Active, "active defaults to true")
	require.Equal(t, "Asia/Manila", s.Timezone)
	require.Len(t, s.NextRuns, 5)
	require.NotNil(t, s.NextRunAt)
	require.True(t, s.NextRuns[0].Equal(*s.NextRunAt))
	require.Equal(t, 2, s.NextRunAt.In(mustLoc(t, "Asia/Manila")).Hour())
	require.False(t, s.NextRunAt.After(time.Now()), "the slot after yesterday's clock has come")

	resp, text = e.req(t, nil, "GET", "/api/v1/schedules/"+idText(s.ID), e.tokens[auth.Viewer], "")
	require.Equal(t, http.StatusOK, resp.StatusCode, text)

	wd := *e.d
	wd.TickEvery = 100 * time.Millisecond
	worker, err := jobs.NewClient(&wd, jobs.Worker, "")
	require.NoError(t, err)
	require.NoError(t, worker.Start(ctx))
	t.Cleanup(func() {
		sctx, cancel := context.WithTimeout(ctx, 15*time.Second)
		defer cancel()
		_ = worker.Stop(sctx)
	})
	var got []int64
	require.Eventually(t, func() bool {
		rows, err := e.d.Q.BackupRetentionCandidates(ctx, &s.ID)
		require.NoError(t, err)
		got = got[:0]
		for _, r := range rows {
			if r.Status == "succeeded" && r.Trigger == "schedule" {
				got = append(got, r.ID)
			}
		}
		return len(got) == 1
	}, 90*time.Second, 100*time.Millisecond)
	row, err := e.d.Q.ScheduleGet(ctx, s.ID)
	require.NoError(t, err)
	require.True(t, row.NextRunAt.After(time.Now()), "moved past the slot it ran")
	require.Equal(t, 2, row.NextRunAt.In(mustLoc(t, "Asia/Manila")).Hour())

	// Edit through the API: weekly on Saturday at 05:30 UTC; the stored next run changes immediately.
	resp, text = e.req(t, nil, "PUT", "/api/v1/schedules/"+idText(s.ID), e.tokens[auth.Operator],
		`{"name":"Nightly","kind":"database","cadence":"weekly","weekday":6,"time_of_day":"05:30","timezone":"UTC","keep_daily":7}`)
	require.Equal(t, http.StatusOK, resp.StatusCode, text)
	require.NoError(t, jsonUnmarshal(text, &s))
	require.Equal(t, time.Saturday, s.NextRunAt.UTC().Weekday())
	require.Equal(t, "05:30", s.NextRunAt.UTC().Format("15:04"))
	require.Len(t, e.audit(t, "schedule.update"), 1)
}

func mustLoc(t *testing.T, name string) *time.Location {
	loc, err := time.LoadLocation(name)
	require.NoError(t, err)
	return loc
}

// Bad cron, time zone or retention get 422 naming the field; nothing is stored.
func TestAPIScheduleFieldErrors(t *testing.T) {
	t.Parallel()
	e := newAuthEnv(t, false)
	for field, body := range map[string]string{
		"cron_expr":    `{"name":"x","kind":"database","cadence":"cron","cron_expr":"every night"}`,
		"timezone":     `{"name":"x","kind":"database","cadence":"daily","time_of_day":"02:00","timezone":"Manila"}`,
		"keep_daily":   `{"name":"x","kind":"database","cadence":"daily","time_of_day":"02:00","keep_daily":-1}`,
		"time_of_day":  `{"name":"x","kind":"database","cadence":"daily","time_of_day":"2am"}`,
		"cadence":      `{"name":"x","kind":"database","cadence":"hourly"}`,
		"max_age_days": `{"name":"x","kind":"database","cadence":"manual","max_age_days":-5}`,
	} {
		resp, text := e.req(t, nil, "POST", "/api/v1/schedules", e.tokens[auth.Operator], body)
		require.Equal(t, http.StatusUnprocessableEntity, resp.StatusCode, text)
		var v struct {
			Error struct{ Code, Field, Message string } `json:"error"`
		}
		require.NoError(t, jsonUnmarshal(text, &v))
		require.Equal(t, field, v.Error.Field, text)
	}
	resp, text := e.req(t, nil, "POST", "/api/v1/schedules", e.tokens[auth.Operator], `{"name":"x","kind":"database","cadence":"daily","bogus":1}`)
	require.Equal(t, http.StatusBadRequest, resp.StatusCode, text)
	rows, err := e.d.Q.ScheduleList(context.Background())
	require.NoError(t, err)
	require.Empty(t, rows)
}

// Run now while a backup of the kind is running returns that backup (200), not a second one.
func TestAPIScheduleRunNowWhileRunning(t *testing.T) {
	t.Parallel()
	e := newAuthEnv(t, false)
	ctx := context.Background()
	resp, text := e.req(t, nil, "POST", "/api/v1/schedules", e.tokens[auth.Operator], `{"name":"Manual DB","kind":"database","cadence":"manual"}`)
	require.Equal(t, http.StatusCreated, resp.StatusCode, text)
	var s ScheduleJSON
	require.NoError(t, jsonUnmarshal(text, &s))
	require.Empty(t, s.NextRuns, "manual never fires")

	resp, text = e.req(t, nil, "POST", "/api/v1/schedules/"+idText(s.ID)+"/run", e.tokens[auth.Operator], "")
	require.Equal(t, http.StatusAccepted, resp.StatusCode, text)
	var first struct {
		Backup struct {
			ID              int64
			Trigger, Status string
		} `json:"backup"`
		Existing bool `json:"existing"`
	}
	require.NoError(t, jsonUnmarshal(text, &first))
	require.Equal(t, "api", first.Backup.Trigger, "Run now is a manual run of the schedule; retention counts it apart")
	_, err := e.d.Q.BackupStart(ctx, first.Backup.ID)
	require.NoError(t, err)

	resp, text = e.req(t, nil, "POST", "/api/v1/schedules/"+idText(s.ID)+"/run", e.tokens[auth.Operator], "")
	require.Equal(t, http.StatusOK, resp.StatusCode, text)
	second := first
	require.NoError(t, jsonUnmarshal(text, &second))
	require.True(t, second.Existing)
	require.Equal(t, first.Backup.ID, second.Backup.ID)
	require.Equal(t, "running", second.Backup.Status)

	resp, _ = e.req(t, nil, "POST", "/api/v1/schedules/"+idText(s.ID)+"/toggle", e.tokens[auth.Operator], "")
	require.Equal(t, http.StatusOK, resp.StatusCode)
	resp, _ = e.req(t, nil, "DELETE", "/api/v1/schedules/"+idText(s.ID), e.tokens[auth.Operator], "")
	require.Equal(t, http.StatusNoContent, resp.StatusCode)
	resp, _ = e.req(t, nil, "GET", "/api/v1/schedules/"+idText(s.ID), e.tokens[auth.Viewer], "")
	require.Equal(t, http.StatusNotFound, resp.StatusCode)
}

// The form's preview lists the next five runs for what is typed, and a bad cron shows its message instead;
// saving a bad time zone re-renders the form with the message at the field and the input kept.
func TestSchedulePreviewAndFormErrors(t *testing.T) {
	t.Parallel()
	e := newAuthEnv(t, false)
	resp, text := e.req(t, nil, "GET", "/schedules/preview?cadence=cron&cron_expr=0+3+*+*+1&timezone=Asia/Manila&active=true", e.tokens[auth.Viewer], "")
	require.Equal(t, http.StatusOK, resp.StatusCode, text)
	doc, err := goquery.NewDocumentFromReader(strings.NewReader(text))
	require.NoError(t, err)
	runs := doc.Find(`[data-testid=preview-run]`)
	require.Equal(t, 5, runs.Length())
	runs.Each(func(_ int, s *goquery.Selection) { require.Contains(t, s.Text(), "Mon ") })

	_, text = e.req(t, nil, "GET", "/schedules/preview?cadence=cron&cron_expr=61+*+*+*+*&active=true", e.tokens[auth.Viewer], "")
	doc, err = goquery.NewDocumentFromReader(strings.NewReader(text))
	require.NoError(t, err)
	require.Contains(t, doc.Find(`[data-testid=preview-error]`).Text(), "cron_expr")

	form := "name=Nightly&kind=database&cadence=daily&time_of_day=02:00&timezone=Mars/Base&keep_daily=7&verify_level=checksum&active=true"
	resp, text = e.req(t, nil, "POST", "/schedules", e.tokens[auth.Operator], form)
	require.Equal(t, http.StatusUnprocessableEntity, resp.StatusCode)
	doc, err = goquery.NewDocumentFromReader(strings.NewReader(text))
	require.NoError(t, err)
	require.Contains(t, doc.Find(`[data-testid=error-timezone]`).Text(), "unknown time zone")
	val, _ := doc.Find(`input[name=timezone]`).Attr("value")
	require.Equal(t, "Mars/Base", val, "the input is kept")
	form = strings.Replace(form, "Mars/Base", "Asia/Manila", 1)
	resp, _ = e.req(t, nil, "POST", "/schedules", e.tokens[auth.Operator], form)
	require.Equal(t, http.StatusSeeOther, resp.StatusCode)
	_, text = e.req(t, nil, "GET", "/schedules", e.tokens[auth.Viewer], "")
	doc, err = goquery.NewDocumentFromReader(strings.NewReader(text))
	require.NoError(t, err)
	require.Equal(t, 1, doc.Find(`[data-testid=schedule-row]`).Length())
	id, _ := doc.Find(`[data-testid=schedule-row]`).Attr("data-id")
	resp, text = e.req(t, nil, "GET", "/schedules/"+id, e.tokens[auth.Viewer], "")
	require.Equal(t, http.StatusOK, resp.StatusCode, text)
	doc, err = goquery.NewDocumentFromReader(strings.NewReader(text))
	require.NoError(t, err)
	require.Equal(t, 5, doc.Find(`[data-testid=preview-run]`).Length(), "the edit form previews the next five runs")
	require.Equal(t, 1, doc.Find(`[data-testid=would-prune-none]`).Length())
	require.Equal(t, 0, doc.Find(`[data-testid=schedule-save]`).Length(), "viewers see no save button")
}

// Before a policy is saved, the API's dry run and the form's live preview show what it would delete now; a
// dry run saves nothing, and a policy meaning "keep only the newest" is refused naming its field.
func TestRetentionPreviewBeforeSaving(t *testing.T) {
	t.Parallel()
	e := newAuthEnv(t, false)
	ctx := context.Background()
	body := `{"name":"Nightly","kind":"database","cadence":"daily","time_of_day":"02:00","keep_daily":7}`
	resp, text := e.req(t, nil, "POST", "/api/v1/schedules?dry_run=true", e.tokens[auth.Operator], body)
	require.Equal(t, http.StatusOK, resp.StatusCode, text)
	require.Contains(t, text, `"would_delete":[]`, "a new schedule has nothing to delete")
	resp, text = e.req(t, nil, "POST", "/api/v1/schedules", e.tokens[auth.Operator], body)
	require.Equal(t, http.StatusCreated, resp.StatusCode, text)
	var s ScheduleJSON
	require.NoError(t, jsonUnmarshal(text, &s))
	// Five nightly backups on the five days before now.
	var ids []int64
	for d := 1; d <= 5; d++ {
		var id int64
		require.NoError(t, e.d.Pool.QueryRow(ctx, `INSERT INTO backups (kind, status, trigger, schedule_id, queued_at, finished_at, storage_key)
			VALUES ('database', 'succeeded', 'schedule', $1, now() - $2 * interval '1 day', now() - $2 * interval '1 day', 'database/x' || $2)
			RETURNING id`, s.ID, d).Scan(&id))
		ids = append(ids, id)
	}

	put := strings.Replace(body, `"keep_daily":7`, `"keep_daily":2`, 1)
	resp, text = e.req(t, nil, "PUT", "/api/v1/schedules/"+idText(s.ID)+"?dry_run=true", e.tokens[auth.Operator], put)
	require.Equal(t, http.StatusOK, resp.StatusCode, text)
	var dry ScheduleDryRunJSON
	require.NoError(t, jsonUnmarshal(text, &dry))
	require.True(t, dry.DryRun)
	require.Len(t, dry.NextRuns, 5)
	require.Equal(t, 2, dry.Kept)
	var gone []int64
	for _, d := range dry.WouldDelete {
		gone = append(gone, d.ID)
	}
	require.ElementsMatch(t, ids[2:], gone, "the three oldest would go")
	got, err := e.d.Q.ScheduleGet(ctx, s.ID)
	require.NoError(t, err)
	require.EqualValues(t, 7, got.KeepDaily, "a dry run saves nothing")

	resp, text = e.req(t, nil, "PUT", "/api/v1/schedules/"+idText(s.ID)+"?dry_run=true", e.tokens[auth.Operator], strings.Replace(body, `"keep_daily":7`, `"keep_daily":1`, 1))
	require.Equal(t, http.StatusUnprocessableEntity, resp.StatusCode, text)
	require.Contains(t, text, `"field":"keep_daily"`)
	require.Contains(t, text, "keep_last: 1")
	resp, text = e.req(t, nil, "PUT", "/api/v1/schedules/"+idText(s.ID), e.tokens[auth.Operator], strings.Replace(body, `"keep_daily":7`, `"keep_daily":1`, 1))
	require.Equal(t, http.StatusUnprocessableEntity, resp.StatusCode, text)
	resp, text = e.req(t, nil, "PUT", "/api/v1/schedules/"+idText(s.ID)+"?dry_run=maybe", e.tokens[auth.Operator], put)
	require.Equal(t, http.StatusUnprocessableEntity, resp.StatusCode, text)
	require.Contains(t, text, `"field":"dry_run"`)

	// The form's partial, as the edit page requests it while typing.
	q := "/schedules/preview?id=" + idText(s.ID) + "&name=Nightly&kind=database&cadence=daily&time_of_day=02:00&timezone=Asia/Manila&active=true&keep_daily=2"
	resp, text = e.req(t, nil, "GET", q, e.tokens[auth.Viewer], "")
	require.Equal(t, http.StatusOK, resp.StatusCode, text)
	doc, err := goquery.NewDocumentFromReader(strings.NewReader(text))
	require.NoError(t, err)
	require.Equal(t, 3, doc.Find(`[data-testid=would-prune] li`).Length(), text)
	_, text = e.req(t, nil, "GET", strings.Replace(q, "keep_daily=2", "keep_weekly=1", 1), e.tokens[auth.Viewer], "")
	doc, err = goquery.NewDocumentFromReader(strings.NewReader(text))
	require.NoError(t, err)
	require.Contains(t, doc.Find(`[data-testid=would-prune-error]`).Text(), "keep_weekly")
	// The edit page itself carries the id, so its live preview covers the policy.
	_, text = e.req(t, nil, "GET", "/schedules/"+idText(s.ID), e.tokens[auth.Viewer], "")
	doc, err = goquery.NewDocumentFromReader(strings.NewReader(text))
	require.NoError(t, err)
	v, _ := doc.Find(`form input[name=id]`).Attr("value")
	require.Equal(t, idText(s.ID), v)
	require.Equal(t, 1, doc.Find(`[data-testid=would-prune-none]`).Length(), "keep_daily 7 keeps all five")
}

// Issue 18: the API accepted a daily 00:30 America/Havana schedule and then hung computing its runs from the
// eve of the spring change. Now it answers at once with the run at 01:00 CDT, the first instant after the gap.
func TestAPIScheduleAcrossAMidnightGapAnswers(t *testing.T) {
	t.Parallel()
	env := newAuthEnv(t, false)
	havana := mustLoc(t, "America/Havana")
	eve := func() time.Time { return time.Date(2026, 3, 7, 23, 30, 0, 0, havana) }
	e := *env
	e.srv = httptest.NewServer(New(Deps{Pool: env.d.Pool, Q: env.d.Q, Cfg: env.d.Cfg, Store: env.d.Store, Keys: env.d.Keys, Log: env.d.Log, Now: eve}))
	t.Cleanup(e.srv.Close)
	done := make(chan struct{})
	var resp *http.Response
	var text string
	go func() {
		defer close(done)
		resp, text = e.req(t, nil, "POST", "/api/v1/schedules", e.tokens[auth.Operator],
			`{"name":"Havana","kind":"database","cadence":"daily","time_of_day":"00:30","timezone":"America/Havana","keep_daily":7}`)
	}()
	select {
	case <-done:
	case <-time.After(20 * time.Second):
		t.Fatal("POST /api/v1/schedules did not answer: computing the next run does not end")
	}
	require.Equal(t, http.StatusCreated, resp.StatusCode, text)
	var s ScheduleJSON
	require.NoError(t, jsonUnmarshal(text, &s))
	require.Len(t, s.NextRuns, 5)
	require.Equal(t, "2026-03-08 01:00 CDT", s.NextRuns[0].In(havana).Format("2006-01-02 15:04 MST"))
	require.Equal(t, "2026-03-09 00:30 CDT", s.NextRuns[1].In(havana).Format("2006-01-02 15:04 MST"))
}
