package handlers

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/uscpis/pisbackup/internal/auth"
	"github.com/uscpis/pisbackup/queries"
)

// FuzzAPIRequestBodies sends one body to EVERY API operation that takes JSON (the routes with a Request example,
// so operations added later are fuzzed without touching this test), as an admin, against a catalog holding a
// backup #1 and a schedule #1 so the path lookups succeed and the body is what gets decoded. No body may cause
// a 5xx or a panic, and every refusal is the JSON error envelope with a message.
func FuzzAPIRequestBodies(f *testing.F) {
	e := newAuthEnv(f, false)
	ctx := context.Background()
	b, err := e.d.Q.BackupInsert(ctx, queries.BackupInsertParams{Kind: "database", Trigger: "manual", Encrypted: true, Format: "x"})
	require.NoError(f, err)
	_, err = e.d.Pool.Exec(ctx, "UPDATE backups SET status = 'succeeded', finished_at = now() WHERE id = $1", b.ID)
	require.NoError(f, err)
	resp, text := e.req(f, nil, "POST", "/api/v1/schedules", e.tokens[auth.Admin], `{"name":"Fuzz target","kind":"database","cadence":"manual"}`)
	require.Equal(f, http.StatusCreated, resp.StatusCode, text)

	var ops []Route
	for _, rt := range (&Handlers{}).Routes() {
		if rt.Request == nil {
			continue
		}
		ops = append(ops, rt)
		example, err := json.Marshal(rt.Request)
		require.NoError(f, err)
		f.Add(string(example))
	}
	require.NotEmpty(f, ops)
	for _, seed := range []string{
		``, `{}`, `null`, `[]`, `"x"`, `0`, `{`, `{}{}`, `{} trailing`, `{"a":1}`, `{"type":null}`,
		`{"type":"database","type":"media"}`, `{"type":1e999}`, `{"level":["checksum"]}`, `{"target_db":"x\u0000y"}`,
		`{"concurrency":-1}`, `{"concurrency":9223372036854775808}`, `{"name":"` + strings.Repeat("é", 300) + `"}`,
		`{"cadence":"cron","cron":"* * * * * * * *"}`, `{"cadence":"daily","time_of_day":"25:61","timezone":"Mars/Base"}`,
		`{"policy":{"keep_last":-5}}`, `{"email":"not an address"}`, `{"kind":"../../etc"}`, "\xff\xfe{}",
		`[` + strings.Repeat(`[`, 20000) + `]`,
	} {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, body string) {
		for _, rt := range ops {
			method, path := routeRequest(rt.Pattern)
			resp, text := e.req(t, nil, method, path, e.tokens[auth.Admin], body, "Content-Type", "application/json")
			what := fmt.Sprintf("%s with body %.200q", rt.Pattern, body)
			require.Less(t, resp.StatusCode, 500, "%s: %s", what, text)
			if resp.StatusCode >= 400 {
				var env struct {
					Error struct{ Code, Message string } `json:"error"`
				}
				require.NoError(t, json.Unmarshal([]byte(text), &env), "%s: refusal is not JSON: %s", what, text)
				require.NotEmpty(t, env.Error.Code, what)
				require.NotEmpty(t, env.Error.Message, what)
			}
		}
	})
}
