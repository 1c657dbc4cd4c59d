package mail_test

import (
	"context"
	"errors"
	"net/http"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/uscpis/pisbackup/internal/config"
	"github.com/uscpis/pisbackup/internal/mail"
	"github.com/uscpis/pisbackup/internal/mail/mailtest"
)

func client(t *testing.T, key, url string) *mail.Client {
	cfg, err := config.Load(func(k string) string {
		return map[string]string{"SENDGRID_API_KEY": key, "SENDGRID_API_URL": url, "DEFAULT_FROM_EMAIL": "backups@clinic.example"}[k]
	})
	require.NoError(t, err)
	return mail.NewClient(cfg)
}

// Each status class maps to delivered, retry or final, because sendgrid-go itself reports none of them as errors.
func TestSendClassifiesStatuses(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		status    int
		retryable bool
	}{{202, false}, {429, true}, {500, true}, {503, true}, {400, false}, {413, false}} {
		f := mailtest.NewSendGrid(t, "SG.k", func(int) int { return tc.status })
		id, err := client(t, "SG.k", f.URL).Send(context.Background(),
			mail.Message{To: []string{"a@clinic.example"}, Subject: "s", Text: "t", HTML: "<b>h</b>"})
		if tc.status == 202 {
			require.NoError(t, err)
			require.Equal(t, "msg-1", id)
			continue
		}
		var se *mail.SendError
		require.True(t, errors.As(err, &se), "status %d: %v", tc.status, err)
		require.Equal(t, tc.status, se.Status)
		require.Equal(t, tc.retryable, se.Retryable, "status %d", tc.status)
	}
}

// A wrong key is SendGrid's 401: final, and the message names the problem without echoing the key.
func TestSendWrongKeyIsFinalAndDoesNotEchoKey(t *testing.T) {
	t.Parallel()
	f := mailtest.NewSendGrid(t, "SG.right", func(int) int { return 202 })
	_, err := client(t, "SG.wrong-secret", f.URL).Send(context.Background(),
		mail.Message{To: []string{"a@clinic.example"}, Subject: "s", Text: "t", HTML: "h"})
	var se *mail.SendError
	require.True(t, errors.As(err, &se))
	require.Equal(t, 401, se.Status)
	require.False(t, se.Retryable)
	require.Contains(t, err.Error(), "authorization grant is invalid")
	require.NotContains(t, err.Error(), "SG.wrong-secret")
	require.Empty(t, f.Requests())
}

// An unreachable SendGrid is a network error worth retrying.
func TestSendUnreachableIsRetryable(t *testing.T) {
	t.Parallel()
	_, err := client(t, "SG.k", "http://127.0.0.1:1").Send(context.Background(),
		mail.Message{To: []string{"a@clinic.example"}, Subject: "s", Text: "t", HTML: "h"})
	var se *mail.SendError
	require.True(t, errors.As(err, &se))
	require.True(t, se.Retryable)
	require.Zero(t, se.Status)
}

func TestCheckAddress(t *testing.T) {
	t.Parallel()
	for _, ok := range []string{"a@clinic.example", " staff.name+tag@usc.edu.ph "} {
		_, err := mail.CheckAddress(ok)
		require.NoError(t, err, ok)
	}
	for _, bad := range []string{"", "nobody", "a@b", "Name <a@clinic.example>", "a@clinic.example, b@clinic.example"} {
		_, err := mail.CheckAddress(bad)
		require.Error(t, err, bad)
	}
}

// Display names go in SendGrid's "name" fields: "email" takes a bare address, and the strict fake (like
// SendGrid) answers 400 to "Name <addr>" there.
func TestSendSplitsDisplayNames(t *testing.T) {
	t.Parallel()
	f := mailtest.NewSendGrid(t, "SG.k", func(int) int { return 202 })
	f.Verify("noreply@clinic.example")
	cfg, err := config.Load(func(k string) string {
		return map[string]string{"SENDGRID_API_KEY": "SG.k", "SENDGRID_API_URL": f.URL,
			"DEFAULT_FROM_EMAIL": "USC-PIS Clinic <noreply@clinic.example>", "BACKUP_ALERT_EMAIL": "Clinic Head <head@clinic.example>"}[k]
	})
	require.NoError(t, err)
	_, err = mail.NewClient(cfg).Send(context.Background(),
		mail.Message{To: cfg.AlertEmails, Subject: "s", Text: "t", HTML: "h"})
	require.NoError(t, err, "refused: %+v", f.Refused())
	got := f.Delivered()[0].Body
	require.Equal(t, mailtest.Address{Email: "noreply@clinic.example", Name: "USC-PIS Clinic"}, got.From)
	require.Equal(t, []mailtest.Address{{Email: "head@clinic.example", Name: "Clinic Head"}}, got.Personalizations[0].To)
}

// SendGrid's 403 for an unverified sender is final and names the address to verify.
func TestSendUnverifiedSenderSaysWhichToVerify(t *testing.T) {
	t.Parallel()
	f := mailtest.NewSendGrid(t, "SG.k", func(int) int { return 202 })
	cfg, err := config.Load(func(k string) string {
		return map[string]string{"SENDGRID_API_KEY": "SG.k", "SENDGRID_API_URL": f.URL, "DEFAULT_FROM_EMAIL": "noreply@usc-pis.herokuapp.com"}[k]
	})
	require.NoError(t, err)
	_, err = mail.NewClient(cfg).Send(context.Background(), mail.Message{To: []string{"a@clinic.example"}, Subject: "s", Text: "t", HTML: "h"})
	var se *mail.SendError
	require.ErrorAs(t, err, &se)
	require.Equal(t, 403, se.Status)
	require.False(t, se.Retryable)
	require.Contains(t, se.Msg, mail.SenderNotVerified)
	require.Contains(t, se.Msg, "verify noreply@usc-pis.herokuapp.com as a Sender Identity")
}

// The fake refuses what SendGrid documents as invalid, so a bad payload fails a test instead of passing.
func TestSendGridFakeRefusesWhatSendGridRefuses(t *testing.T) {
	t.Parallel()
	f := mailtest.NewSendGrid(t, "SG.k", func(int) int { return 202 })
	ok := `{"personalizations":[{"to":[{"email":"a@clinic.example"}]}],"from":{"email":"backups@clinic.example"},"subject":"s","content":[{"type":"text/plain","value":"t"}]}`
	for body, want := range map[string]int{
		ok: 202,
		`{"personalizations":[{}],"from":{"email":"backups@clinic.example"},"subject":"s","content":[{"type":"text/plain","value":"t"}]}`:                                             400,
		`{"personalizations":[],"from":{"email":"backups@clinic.example"},"subject":"s","content":[{"type":"text/plain","value":"t"}]}`:                                               400,
		`{"personalizations":[{"to":[{"email":"a@clinic.example"}]}],"from":{"email":"backups@clinic.example"},"content":[{"type":"text/plain","value":"t"}]}`:                        400,
		`{"personalizations":[{"to":[{"email":"a@clinic.example"}]}],"from":{"email":"backups@clinic.example"},"subject":"s","content":[{"type":"text/plain","value":""}]}`:           400,
		`{"personalizations":[{"to":[{"email":"a@clinic.example"}]}],"from":{"email":"backups@clinic.example"},"subject":"s"}`:                                                        400,
		`{"personalizations":[{"to":[{"email":"Head <a@clinic.example>"}]}],"from":{"email":"backups@clinic.example"},"subject":"s","content":[{"type":"text/plain","value":"t"}]}`:   400,
		`{"personalizations":[{"to":[{"email":"a@clinic.example"}]}],"from":{"email":"Clinic <backups@clinic.example>"},"subject":"s","content":[{"type":"text/plain","value":"t"}]}`: 400,
		`{"personalizations":[{"to":[{"email":"a@clinic.example"}]}],"from":{"email":"other@clinic.example"},"subject":"s","content":[{"type":"text/plain","value":"t"}]}`:            403,
	} {
		req, err := http.NewRequest("POST", f.URL+"/v3/mail/send", strings.NewReader(body))
		require.NoError(t, err)
		req.Header.Set("Authorization", "Bearer SG.k")
		resp, err := http.DefaultClient.Do(req)
		require.NoError(t, err)
		resp.Body.Close()
		require.Equal(t, want, resp.StatusCode, body)
	}
	req, _ := http.NewRequest("POST", f.URL+"/v3/mail/send", strings.NewReader(ok))
	req.Header.Set("Authorization", "Bearer SG.wrong")
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	resp.Body.Close()
	require.Equal(t, 401, resp.StatusCode)
}
