package schedule

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

func manila(t *testing.T, s string) time.Time {
	t.Helper()
	loc, err := time.LoadLocation("Asia/Manila")
	require.NoError(t, err)
	v, err := time.ParseInLocation("2006-01-02 15:04", s, loc)
	require.NoError(t, err)
	return v
}

func TestCadenceNext(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name  string
		spec  Spec
		after string
		want  []string
	}{
		{"daily before today's slot", Spec{Cadence: "daily", TimeOfDay: "02:00"}, "2026-11-25 01:59",
			[]string{"2026-11-25 02:00", "2026-11-26 02:00", "2026-11-27 02:00"}},
		{"daily exactly at the slot moves on", Spec{Cadence: "daily", TimeOfDay: "02:00"}, "2026-11-25 02:00",
			[]string{"2026-11-26 02:00"}},
		{"weekly on Sunday from a Wednesday", Spec{Cadence: "weekly", TimeOfDay: "03:30", Weekday: 0}, "2026-11-25 12:00",
			[]string{"2026-11-29 03:30", "2026-12-06 03:30"}},
		{"monthly on the 31st clamps to short months", Spec{Cadence: "monthly", TimeOfDay: "01:00", DayOfMonth: 31}, "2027-01-31 02:00",
			[]string{"2027-02-28 01:00", "2027-03-31 01:00", "2027-04-30 01:00"}},
		{"cron every six hours", Spec{Cadence: "cron", CronExpr: "0 */6 * * *"}, "2026-11-25 13:10",
			[]string{"2026-11-25 18:00", "2026-11-26 00:00"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			c, err := Parse(tc.spec)
			require.NoError(t, err)
			got := c.NextN(manila(t, tc.after), len(tc.want))
			require.Len(t, got, len(tc.want))
			for i, w := range tc.want {
				require.True(t, manila(t, w).Equal(got[i]), "run %d: want %s, got %s", i, w, got[i].In(c.Location()))
			}
		})
	}
}

func TestCadenceOtherZoneAndManual(t *testing.T) {
	t.Parallel()
	c, err := Parse(Spec{Cadence: "daily", TimeOfDay: "02:00", Timezone: "UTC"})
	require.NoError(t, err)
	// 02:00 UTC is 10:00 in Manila.
	require.True(t, manila(t, "2026-11-25 10:00").Equal(c.Next(manila(t, "2026-11-25 09:00"))))
	require.Equal(t, 24*time.Hour, c.Interval(manila(t, "2026-11-25 09:00")))

	m, err := Parse(Spec{Cadence: "manual"})
	require.NoError(t, err)
	require.True(t, m.Next(time.Now()).IsZero(), "manual never fires")
	require.Empty(t, m.NextN(time.Now(), 5))
}

func TestParseNamesTheBadField(t *testing.T) {
	t.Parallel()
	cases := []struct {
		spec  Spec
		field string
	}{
		{Spec{Cadence: "cron", CronExpr: "61 * * * *"}, "cron_expr"},
		{Spec{Cadence: "cron", CronExpr: ""}, "cron_expr"},
		{Spec{Cadence: "cron", CronExpr: "TZ=UTC 0 2 * * *"}, "cron_expr"},
		{Spec{Cadence: "cron", CronExpr: "0 0 30 2 *"}, "cron_expr"}, // 30 February never comes
		{Spec{Cadence: "cron", CronExpr: "@every 5s"}, "cron_expr"},
		{Spec{Cadence: "daily", TimeOfDay: "25:00"}, "time_of_day"},
		{Spec{Cadence: "daily", TimeOfDay: "2pm"}, "time_of_day"},
		{Spec{Cadence: "daily", TimeOfDay: "02:00", Timezone: "Mars/Olympus"}, "timezone"},
		{Spec{Cadence: "daily", TimeOfDay: "02:00", Timezone: "Local"}, "timezone"},
		{Spec{Cadence: "weekly", TimeOfDay: "02:00", Weekday: 7}, "weekday"},
		{Spec{Cadence: "monthly", TimeOfDay: "02:00", DayOfMonth: 0}, "day_of_month"},
		{Spec{Cadence: "hourly"}, "cadence"},
	}
	for _, tc := range cases {
		_, err := Parse(tc.spec)
		var errs Errors
		require.ErrorAs(t, err, &errs, "%+v", tc.spec)
		require.NotEmpty(t, errs.Field(tc.field), "%+v: %v", tc.spec, err)
	}
	err := Policy{KeepDaily: -1}.Validate()
	var errs Errors
	require.ErrorAs(t, err, &errs)
	require.Contains(t, errs.Field("keep_daily"), "0 or more")
}

// FuzzParse feeds arbitrary cadences to the parser: it must never panic, and whatever it accepts must produce
// strictly increasing run times.
func FuzzParse(f *testing.F) {
	f.Add("cron", "0 2 * * *", "02:00", "Asia/Manila", 0, 1)
	f.Add("cron", "TZ=", "", "", 0, 1)
	f.Add("cron", "CRON_TZ=x", "", "", 0, 1)
	f.Add("cron", "@every 1h", "", "UTC", 0, 1)
	f.Add("cron", "*/0 * * * *", "", "", 0, 1)
	f.Add("weekly", "", "23:59", "America/New_York", 6, 1)
	f.Add("monthly", "", "0:00", "Europe/London", 0, 31)
	f.Add("daily", "", "24:00", "", 0, 1)
	f.Fuzz(func(t *testing.T, cadence, expr, tod, tz string, weekday, dom int) {
		c, err := Parse(Spec{Cadence: cadence, CronExpr: expr, TimeOfDay: tod, Timezone: tz, Weekday: weekday, DayOfMonth: dom})
		if err != nil {
			var errs Errors
			require.ErrorAs(t, err, &errs)
			require.NotEmpty(t, errs[0].Field)
			return
		}
		start := time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC)
		prev := start
		for _, r := range c.NextN(start, 5) {
			require.True(t, r.After(prev), "%v after %v", r, prev)
			prev = r
		}
	})
}
