package handlers

import (
	"context"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/PuerkitoBio/goquery"
	"github.com/stretchr/testify/require"

	"github.com/uscpis/pisbackup/internal/alert"
	"github.com/uscpis/pisbackup/internal/auth"
	"github.com/uscpis/pisbackup/internal/mail/mailtest"
	"github.com/uscpis/pisbackup/internal/recovery"
	"github.com/uscpis/pisbackup/jobs"
)

// Without a SendGrid key: the test e-mail goes to the outbox, which renders it sandboxed; status says so.
func TestTestEmailOutboxPageAndAPI(t *testing.T) {
	t.Parallel()
	e := newAuthEnv(t, false)
	op, view := e.tokens[auth.Operator], e.tokens[auth.Viewer]

	resp, body := e.req(t, nil, "POST", "/api/v1/email/test", view, `{"email":"nurse@clinic.example"}`)
	require.Equal(t, http.StatusForbidden, resp.StatusCode, body)
	resp, body = e.req(t, nil, "POST", "/api/v1/email/test", op, `{"email":"nurse"}`)
	require.Equal(t, http.StatusUnprocessableEntity, resp.StatusCode, body)
	require.Contains(t, body, `"field":"email"`)
	resp, body = e.req(t, nil, "POST", "/api/v1/email/test", op, `{"email":"nurse@clinic.example","cc":"x"}`)
	require.Equal(t, http.StatusBadRequest, resp.StatusCode, body)
	resp, body = e.req(t, nil, "POST", "/api/v1/email/test", op, `{"email":"nurse@clinic.example"}`)
	require.Equal(t, http.StatusAccepted, resp.StatusCode, body)
	require.Contains(t, body, `"provider":"outbox"`)
	require.Len(t, e.audit(t, "email.test"), 1)

	resp, body = e.req(t, nil, "GET", "/api/v1/email/status", view, "")
	require.Equal(t, http.StatusOK, resp.StatusCode, body)
	var st recovery.EmailStatus
	require.NoError(t, jsonUnmarshal(body, &st))
	require.False(t, st.Configured)
	require.Equal(t, "outbox", st.Provider)
	require.EqualValues(t, 1, st.Sent24h)
	require.Contains(t, st.Problem(), "not configured")

	// Viewers may read the outbox: the dashboard links it, and alert e-mail holds nothing they cannot see on /alerts.
	viewer, _ := e.login(t, "viewer@clinic.test", testPassword)
	resp, body = e.req(t, viewer, "GET", "/outbox", "", "")
	require.Equal(t, http.StatusOK, resp.StatusCode)
	doc, err := goquery.NewDocumentFromReader(strings.NewReader(body))
	require.NoError(t, err)
	frame := doc.Find(`[data-testid="outbox-message"] iframe`)
	require.Equal(t, "", frame.AttrOr("sandbox", "missing"), "the HTML body runs in an empty sandbox")
	require.Contains(t, frame.AttrOr("srcdoc", ""), "Overall status")
	require.Contains(t, doc.Find(`[data-testid="outbox-text"]`).Text(), "This is a test message from pisbackup")

	// The page's form (operators): a bad address re-renders with the message and sends nothing.
	c, _ := e.login(t, "operator@clinic.test", testPassword)
	resp, _ = e.req(t, viewer, "POST", "/alerts/test-email", "", url.Values{"email": {"doctor@clinic.example"}}.Encode())
	require.Equal(t, http.StatusForbidden, resp.StatusCode)
	resp, body = e.req(t, c, "POST", "/alerts/test-email", "", url.Values{"email": {"bad"}}.Encode())
	require.Equal(t, http.StatusUnprocessableEntity, resp.StatusCode)
	doc, err = goquery.NewDocumentFromReader(strings.NewReader(body))
	require.NoError(t, err)
	require.Contains(t, doc.Find(`[data-testid="form-error"]`).Text(), "not an e-mail address")
	resp, _ = e.req(t, c, "POST", "/alerts/test-email", "", url.Values{"email": {"doctor@clinic.example"}}.Encode())
	require.Equal(t, http.StatusSeeOther, resp.StatusCode)
	rows, err := e.d.Q.EmailList(context.Background(), 10)
	require.NoError(t, err)
	require.Len(t, rows, 2)
}

// With SendGrid: the API's test e-mail is queued with its job and delivered by the e-mail worker; the alerts page
// and API show alerts and the log.
func TestTestEmailThroughSendGridAndAlertsPage(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	e := newAuthEnv(t, false)
	f := mailtest.NewSendGrid(t, "SG.handler-key", func(int) int { return 202 })
	e.d.Cfg.SendGridAPIKey, e.d.Cfg.SendGridAPIURL, e.d.Cfg.DefaultFromEmail = "SG.handler-key", f.URL, mailtest.VerifiedSender
	e.d.Cfg.AlertEmails = []string{"oncall@clinic.example"}
	op, view := e.tokens[auth.Operator], e.tokens[auth.Viewer]

	resp, body := e.req(t, nil, "POST", "/api/v1/email/test", op, `{"email":"nurse@clinic.example","subject":"Checking"}`)
	require.Equal(t, http.StatusAccepted, resp.StatusCode, body)
	require.Contains(t, body, `"status":"queued"`)
	worker, err := jobs.NewClient(e.d, jobs.Private, jobs.QueueEmail)
	require.NoError(t, err)
	require.NoError(t, worker.Start(ctx))
	t.Cleanup(func() { _ = worker.Stop(context.Background()) })
	require.Eventually(t, func() bool { return len(f.Delivered()) == 1 }, 20*time.Second, 20*time.Millisecond)
	require.Equal(t, "[USC-PIS] Checking", f.Delivered()[0].Body.Subject)

	_, err = e.d.Alerts(worker).Raise(ctx, alert.Condition{Rule: alert.RuleStorageFull, Subject: "storage",
		Severity: "warning", Title: "Backup storage nearly full", Message: "3% free", Recommendation: "Prune"})
	require.NoError(t, err)
	resp, body = e.req(t, nil, "GET", "/api/v1/alerts?state=open", view, "")
	require.Equal(t, http.StatusOK, resp.StatusCode, body)
	var list struct{ Alerts []AlertJSON }
	require.NoError(t, jsonUnmarshal(body, &list))
	require.Len(t, list.Alerts, 1)
	require.Equal(t, "3% free", list.Alerts[0].Message)
	resp, body = e.req(t, nil, "GET", "/api/v1/alerts?state=closed", view, "")
	require.Equal(t, http.StatusUnprocessableEntity, resp.StatusCode, body)

	c, _ := e.login(t, "viewer@clinic.test", testPassword)
	require.Eventually(t, func() bool {
		_, body = e.req(t, c, "GET", "/alerts", "", "")
		return strings.Count(body, `data-testid="attempts"`) == 2 && !strings.Contains(body, ">queued<")
	}, 20*time.Second, 50*time.Millisecond, "both e-mails (test and alert) delivered")
	doc, err := goquery.NewDocumentFromReader(strings.NewReader(body))
	require.NoError(t, err)
	require.Equal(t, 1, doc.Find(`[data-testid="alerts"] tbody tr`).Length())
	require.Contains(t, doc.Find(`[data-testid="alerts"]`).Text(), "Backup storage nearly full")
	require.Zero(t, doc.Find(`[data-testid="test-email"]`).Length(), "viewers cannot send test e-mail")
	require.Zero(t, doc.Find(`[data-testid="email-problem"]`).Length(), doc.Find(`[data-testid="email-problem"]`).Text())
}

// Issue 16: with no recipients nothing is e-mailed, so /alerts must not say "Last e-mailed 18:14"; staff can
// acknowledge an alert (audited), which stops reminders but leaves it open; every alert links to its subject.
func TestAlertLastEmailedAckAndLink(t *testing.T) {
	t.Parallel()
	e := newAuthEnv(t, false)
	ctx := context.Background()
	out, err := e.d.Alerts(nil).Raise(ctx, alert.Condition{Rule: alert.RuleBackupStale, Subject: "schedule:7",
		Severity: "critical", Title: "Backup overdue", Message: "late", Link: "/schedules/7"})
	require.NoError(t, err)
	require.Len(t, out.Opened, 1)
	require.Empty(t, out.Emails, "no recipients: nothing sent")
	a := out.Opened[0]

	c, _ := e.login(t, "viewer@clinic.test", testPassword)
	_, body := e.req(t, c, "GET", "/alerts", "", "")
	doc, err := goquery.NewDocumentFromReader(strings.NewReader(body))
	require.NoError(t, err)
	row := doc.Find(`[data-testid="alert-` + strconv.FormatInt(a.ID, 10) + `"]`)
	require.Contains(t, row.Find(`[data-testid="last-emailed"]`).Text(), "never", "nothing was e-mailed")
	require.Equal(t, "/schedules/7", row.Find(`[data-testid="alert-link"]`).AttrOr("href", ""))
	require.Zero(t, row.Find(`[data-testid="acknowledge"]`).Length(), "viewers cannot acknowledge")

	path := "/api/v1/alerts/" + strconv.FormatInt(a.ID, 10) + "/acknowledge"
	resp, body := e.req(t, nil, "POST", path, e.tokens[auth.Viewer], "")
	require.Equal(t, http.StatusForbidden, resp.StatusCode, body)
	resp, body = e.req(t, nil, "POST", path, e.tokens[auth.Operator], "")
	require.Equal(t, http.StatusOK, resp.StatusCode, body)
	require.Len(t, e.audit(t, "alert.acknowledge"), 1)
	resp, body = e.req(t, nil, "GET", "/api/v1/alerts?state=open", e.tokens[auth.Viewer], "")
	require.Equal(t, http.StatusOK, resp.StatusCode, body)
	var list struct{ Alerts []AlertJSON }
	require.NoError(t, jsonUnmarshal(body, &list))
	require.Len(t, list.Alerts, 1, "still open")
	require.NotNil(t, list.Alerts[0].AcknowledgedAt)
	require.Nil(t, list.Alerts[0].LastEmailedAt)
	require.Equal(t, "/schedules/7", list.Alerts[0].Link)
	resp, _ = e.req(t, nil, "POST", "/api/v1/alerts/999999/acknowledge", e.tokens[auth.Operator], "")
	require.Equal(t, http.StatusNotFound, resp.StatusCode)
}
