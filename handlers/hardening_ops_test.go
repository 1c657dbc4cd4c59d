package handlers

import (
	"bytes"
	"compress/gzip"
	"context"
	"encoding/json"
	"mime/multipart"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/uscpis/pisbackup/internal/auth"
)

// A password change or reset revokes the user's API tokens; common passwords are refused everywhere a
// password is chosen; wrong current passwords on /profile/password are throttled.
func TestCredentialRules(t *testing.T) {
	t.Parallel()
	e := newAuthEnvVars(t, false, nil, frozen())
	api := func(tok string) int {
		resp, _ := e.req(t, nil, "GET", "/api/v1/backups", tok, "")
		return resp.StatusCode
	}
	require.Equal(t, http.StatusOK, api(e.tokens[auth.Operator]))
	c, _ := e.login(t, "operator@clinic.test", testPassword)
	change := func(current, next string) (int, string) {
		resp, body := e.req(t, c, "POST", "/profile/password", "", url.Values{"current": {current}, "new": {next}}.Encode())
		return resp.StatusCode, body
	}
	for _, weak := range []string{"aaaaaaaaaa", "password12", "Password123", " qwertyuiop ", "abababababab"} {
		code, body := change(testPassword, weak)
		require.Equal(t, http.StatusUnprocessableEntity, code, weak)
		require.Regexp(t, "too common|too few different", body, weak)
	}
	code, body := change(testPassword, "a much better passphrase")
	require.Equal(t, http.StatusOK, code, body)
	require.Contains(t, body, "API token(s) were revoked")
	resp, text := e.req(t, nil, "GET", "/api/v1/backups", e.tokens[auth.Operator], "")
	require.Equal(t, http.StatusUnauthorized, resp.StatusCode, "a token outliving a password change")
	require.Contains(t, text, "revoked")

	// An admin's reset revokes the viewer's tokens too.
	require.Equal(t, http.StatusOK, api(e.tokens[auth.Viewer]))
	resp, body = e.req(t, nil, "POST", "/admin/users/"+idText(e.users[auth.Viewer].ID)+"/password", e.tokens[auth.Admin], "x=1")
	require.Equal(t, http.StatusOK, resp.StatusCode, body)
	require.Contains(t, body, "API token(s) were revoked")
	require.Equal(t, http.StatusUnauthorized, api(e.tokens[auth.Viewer]))
	reset := e.audit(t, "user.password_reset")
	require.Len(t, reset, 1)
	require.JSONEq(t, `{"tokens_revoked": 1}`, string(reset[0].Details))

	// Common passwords are refused when an admin creates a user, too.
	resp, body = e.req(t, nil, "POST", "/admin/users", e.tokens[auth.Admin],
		url.Values{"email": {"new@clinic.test"}, "role": {"viewer"}, "password": {"password12"}}.Encode())
	require.Equal(t, http.StatusUnprocessableEntity, resp.StatusCode)
	require.Contains(t, body, "too common")

	// Guessing the current password from a signed-in session: 5 tries, then even the right one waits.
	for range 5 {
		code, _ := change("not my password", "another good passphrase")
		require.Equal(t, http.StatusUnprocessableEntity, code)
	}
	code, body = change("a much better passphrase", "another good passphrase")
	require.Equal(t, http.StatusTooManyRequests, code, body)
	require.Contains(t, body, "Too many wrong current passwords")
	require.Len(t, e.audit(t, "profile.password_rate_limited"), 1)
}

// Restores are admin-only and so are their target databases: viewers and operators see that a restore
// happened, not where it went.
func TestRestoreTargetsShownToAdminsOnly(t *testing.T) {
	t.Parallel()
	e := newAuthEnv(t, false)
	id := seedBackup(t, e, "succeeded", "1 hour")
	_, err := e.d.Pool.Exec(context.Background(), `INSERT INTO restores (backup_id, target_kind, target, status, error)
		VALUES ($1, 'database', 'pis_secret_copy', 'failed', 'database "pis_secret_copy" already exists')`, id)
	require.NoError(t, err)
	for _, p := range []string{"/backups/" + idText(id), "/backups/" + idText(id) + "/activity"} {
		for _, who := range []auth.Role{auth.Viewer, auth.Operator} {
			_, body := e.req(t, nil, "GET", p, e.tokens[who], "")
			require.NotContains(t, body, "pis_secret_copy", "%s as %s", p, who)
			require.Contains(t, body, `data-testid="restore-target-hidden"`, "%s as %s", p, who)
		}
		_, body := e.req(t, nil, "GET", p, e.tokens[auth.Admin], "")
		require.Contains(t, body, "pis_secret_copy", p)
	}
}

// One drill per backup at a time, a bound on what operators can queue, and a bound on schedules.
func TestOperatorLoadIsBounded(t *testing.T) {
	t.Parallel()
	e := newAuthEnv(t, false)
	ctx := context.Background()
	var ids []int64
	for range 5 {
		id := seedBackup(t, e, "succeeded", "1 hour")
		_, err := e.d.Pool.Exec(ctx, "UPDATE backups SET storage_key = 'database/x' || id WHERE id = $1", id)
		require.NoError(t, err)
		ids = append(ids, id)
	}
	drill := func(tok string, id int64) (int, string) {
		resp, body := e.req(t, nil, "POST", "/api/v1/backups/"+idText(id)+"/verify", tok, `{"level":"drill"}`)
		return resp.StatusCode, body
	}
	code, body := drill(e.tokens[auth.Operator], ids[0])
	require.Equal(t, http.StatusAccepted, code, body)
	code, body = drill(e.tokens[auth.Operator], ids[0])
	require.Equal(t, http.StatusConflict, code, body)
	require.Contains(t, body, "already queued")
	// The schedule's "Run now" and the page's button join the drill in flight rather than queue another.
	code, body = drill(e.tokens[auth.Admin], ids[0])
	require.Equal(t, http.StatusConflict, code, body)

	// Concurrent requests for one backup: exactly one drill is queued.
	var wg sync.WaitGroup
	codes := make(chan int, 6)
	for range 6 {
		wg.Go(func() {
			c, _ := drill(e.tokens[auth.Admin], ids[4])
			codes <- c
		})
	}
	wg.Wait()
	close(codes)
	accepted := 0
	for c := range codes {
		if c == http.StatusAccepted {
			accepted++
		} else {
			require.Equal(t, http.StatusConflict, c)
		}
	}
	require.Equal(t, 1, accepted)

	// Operators: at most MaxLiveDrillsBelowAdmin drills (asked for by people) queued or running at once.
	code, body = drill(e.tokens[auth.Operator], ids[2])
	require.Equal(t, http.StatusAccepted, code, body)
	code, body = drill(e.tokens[auth.Operator], ids[1])
	require.Equal(t, http.StatusTooManyRequests, code, "3 live drills already (one by an admin): %s", body)
	code, body = drill(e.tokens[auth.Admin], ids[1])
	require.Equal(t, http.StatusAccepted, code, body, "admins are not limited")
	var live int
	require.NoError(t, e.d.Pool.QueryRow(ctx, "SELECT count(*) FROM verifications WHERE level = 'drill' AND status = 'queued'").Scan(&live))
	require.Equal(t, 4, live)

	// Schedules: at most MaxSchedules.
	_, err := e.d.Pool.Exec(ctx, `INSERT INTO schedules (name, kind, cadence) SELECT 'bulk ' || i, 'database', 'manual' FROM generate_series(1, $1) i`, MaxSchedules)
	require.NoError(t, err)
	resp, body := e.req(t, nil, "POST", "/api/v1/schedules", e.tokens[auth.Operator],
		`{"name":"Minutely","kind":"database","cadence":"cron","cron_expr":"* * * * *","keep_last":1}`)
	require.Equal(t, http.StatusConflict, resp.StatusCode, body)
	require.Contains(t, body, "50 schedules")
}

// An uploaded decompression bomb is refused with a message that names the limit.
func TestUploadedLegacyBombRefused(t *testing.T) {
	t.Parallel()
	e := newAuthEnv(t, false)
	// Gzip members concatenate: one 1 MiB member repeated makes a 510 KB file holding a 512 MiB string.
	member := func(s string) []byte {
		var b bytes.Buffer
		zw, _ := gzip.NewWriterLevel(&b, gzip.BestCompression)
		_, _ = zw.Write([]byte(s))
		_ = zw.Close()
		return b.Bytes()
	}
	var file bytes.Buffer
	file.Write(member(`[{"model": "patients.note", "pk": 1, "fields": {"text": "`))
	a := member(strings.Repeat("A", 1<<20))
	for range 512 {
		file.Write(a)
	}
	file.Write(member(`"}}]`))
	body, ctype := legacyUploadBody(t, file.Bytes())
	r, err := http.NewRequest("POST", e.srv.URL+"/api/v1/backups/upload", body)
	require.NoError(t, err)
	r.Header.Set("Content-Type", ctype)
	r.Header.Set("Authorization", "Bearer "+e.tokens[auth.Admin])
	res, err := http.DefaultClient.Do(r)
	require.NoError(t, err)
	defer res.Body.Close()
	var out struct {
		Error struct{ Message string } `json:"error"`
	}
	require.NoError(t, json.NewDecoder(res.Body).Decode(&out))
	require.Equal(t, http.StatusUnprocessableEntity, res.StatusCode, out.Error.Message)
	require.Contains(t, out.Error.Message, "refused: one JSON value is larger than 32 MiB")
}

// legacyUploadBody is a multipart upload of gz as a legacy export, and its Content-Type.
func legacyUploadBody(t *testing.T, gz []byte) (*bytes.Buffer, string) {
	t.Helper()
	var body bytes.Buffer
	mw := multipart.NewWriter(&body)
	fw, err := mw.CreateFormFile("file", "database_backup_20260101_000000.json.gz")
	require.NoError(t, err)
	_, _ = fw.Write(gz)
	require.NoError(t, mw.Close())
	return &body, mw.FormDataContentType()
}

// Issue 15: the operator drill cap and the schedule cap are checked and acted on under one lock. Before, the
// count and the insert were separate statements, so requests arriving together each saw room: ten operators'
// drills at once queued more than MaxLiveDrillsBelowAdmin, twenty creations at MaxSchedules-1 made several.
func TestCapsHoldUnderConcurrentRequests(t *testing.T) {
	t.Parallel()
	e := newAuthEnv(t, false)
	ctx := context.Background()
	var ids []int64
	for range 10 {
		id := seedBackup(t, e, "succeeded", "1 hour")
		_, err := e.d.Pool.Exec(ctx, "UPDATE backups SET storage_key = 'database/x' || id WHERE id = $1", id)
		require.NoError(t, err)
		ids = append(ids, id)
	}
	race := func(n int, do func(i int) int) map[int]int {
		var mu sync.Mutex
		codes := map[int]int{}
		var wg sync.WaitGroup
		start := make(chan struct{})
		for i := range n {
			wg.Go(func() {
				<-start
				c := do(i)
				mu.Lock()
				codes[c]++
				mu.Unlock()
			})
		}
		close(start)
		wg.Wait()
		return codes
	}
	codes := race(len(ids), func(i int) int {
		resp, _ := e.req(t, nil, "POST", "/api/v1/backups/"+idText(ids[i])+"/verify", e.tokens[auth.Operator], `{"level":"drill"}`)
		return resp.StatusCode
	})
	require.Equal(t, map[int]int{http.StatusAccepted: MaxLiveDrillsBelowAdmin, http.StatusTooManyRequests: len(ids) - MaxLiveDrillsBelowAdmin}, codes)

	_, err := e.d.Pool.Exec(ctx, `INSERT INTO schedules (name, kind, cadence) SELECT 'bulk ' || i, 'database', 'manual' FROM generate_series(1, $1) i`, MaxSchedules-1)
	require.NoError(t, err)
	codes = race(20, func(i int) int {
		resp, _ := e.req(t, nil, "POST", "/api/v1/schedules", e.tokens[auth.Operator],
			`{"name":"Racer `+idText(int64(i))+`","kind":"database","cadence":"manual","keep_last":1}`)
		return resp.StatusCode
	})
	require.Equal(t, map[int]int{http.StatusCreated: 1, http.StatusConflict: 19}, codes)
	var n int
	require.NoError(t, e.d.Pool.QueryRow(ctx, "SELECT count(*) FROM schedules").Scan(&n))
	require.Equal(t, MaxSchedules, n)
}

// "Run now" of a drill schedule queues a drill asked for by a person (created_by is set), so it counts
// against the operator drill cap and must respect it. Before, an operator at the cap got one more drill
// through the schedule's Run now, page or API.
func TestRunNowOfADrillScheduleRespectsTheOperatorCap(t *testing.T) {
	t.Parallel()
	e := newAuthEnv(t, false)
	ctx := context.Background()
	var ids []int64
	for range MaxLiveDrillsBelowAdmin + 1 {
		id := seedBackup(t, e, "succeeded", "1 hour")
		_, err := e.d.Pool.Exec(ctx, "UPDATE backups SET storage_key = 'database/x' || id WHERE id = $1", id)
		require.NoError(t, err)
		ids = append(ids, id)
	}
	for _, id := range ids[:MaxLiveDrillsBelowAdmin] { // the cap, reached the ordinary way
		resp, body := e.req(t, nil, "POST", "/api/v1/backups/"+idText(id)+"/verify", e.tokens[auth.Operator], `{"level":"drill"}`)
		require.Equal(t, http.StatusAccepted, resp.StatusCode, body)
	}
	resp, body := e.req(t, nil, "POST", "/api/v1/schedules", e.tokens[auth.Operator],
		`{"name":"Drill now","kind":"drill","cadence":"manual","keep_last":1}`)
	require.Equal(t, http.StatusCreated, resp.StatusCode, body)
	var s struct{ ID int64 }
	require.NoError(t, jsonUnmarshal(body, &s))
	for _, path := range []string{"/api/v1/schedules/" + idText(s.ID) + "/run", "/schedules/" + idText(s.ID) + "/run"} {
		resp, body = e.req(t, nil, "POST", path, e.tokens[auth.Operator], "")
		require.Equal(t, http.StatusTooManyRequests, resp.StatusCode, "%s: %s", path, body)
	}
	var n int
	require.NoError(t, e.d.Pool.QueryRow(ctx, "SELECT count(*) FROM verifications WHERE level = 'drill'").Scan(&n))
	require.Equal(t, MaxLiveDrillsBelowAdmin, n, "no drill past the cap was queued")
}
