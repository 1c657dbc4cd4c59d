-- name: EmailGet :one
SELECT * FROM emails WHERE id = @id;

-- name: EmailList :many
SELECT * FROM emails ORDER BY created_at DESC, id DESC LIMIT @lim;

-- name: EmailInsert :one
-- Outbox rows are final at once (status sent); SendGrid rows wait for their delivery job.
INSERT INTO emails (to_addrs, subject, template, html_body, text_body, provider, status, alert_id, created_at, sent_at)
VALUES (@to_addrs, @subject, @template, @html_body, @text_body, @provider, @status, sqlc.narg(alert_id), @created_at,
        sqlc.narg(sent_at))
RETURNING *;

-- name: EmailAttempt :one
-- Counts a delivery attempt before it is made, so a crash mid-request still shows up in attempts.
UPDATE emails SET attempts = attempts + 1 WHERE id = @id AND status = 'queued' RETURNING *;

-- name: EmailSent :exec
UPDATE emails SET status = 'sent', provider_message_id = @provider_message_id, sent_at = @sent_at::timestamptz, last_error = ''
WHERE id = @id;

-- name: EmailFailed :exec
-- Final failure: the provider refused the message or every retry was used.
UPDATE emails SET status = 'failed', last_error = @last_error WHERE id = @id;

-- name: EmailRetrying :exec
-- A transient failure: the row stays queued and shows why the next attempt is needed.
UPDATE emails SET last_error = @last_error WHERE id = @id;

-- name: EmailListOutbox :many
SELECT * FROM emails WHERE provider = 'outbox' ORDER BY created_at DESC, id DESC LIMIT @lim;

-- name: EmailLatestFinal :one
-- The newest SendGrid message that reached a final state: whether delivery works right now.
SELECT * FROM emails WHERE provider = 'sendgrid' AND status IN ('sent', 'failed')
ORDER BY created_at DESC, id DESC LIMIT 1;

-- name: EmailCountsSince :one
SELECT count(*) FILTER (WHERE status = 'sent')   AS sent,
       count(*) FILTER (WHERE status = 'failed') AS failed,
       count(*) FILTER (WHERE status = 'queued') AS queued
FROM emails WHERE created_at >= @since;

-- name: EmailFailOrphaned :many
-- Queued SendGrid rows whose delivery job is gone or ended (cancelled in the job UI, discarded, never
-- inserted): nothing will ever send them, so they are marked failed instead of saying "queued" forever.
UPDATE emails e SET status = 'failed', last_error = 'the delivery job ended without sending this e-mail'
WHERE e.status = 'queued' AND e.provider = 'sendgrid' AND e.created_at < @before::timestamptz
  AND NOT EXISTS (SELECT 1 FROM river_job j
                  WHERE j.kind = 'email_send' AND (j.args ->> 'email_id')::bigint = e.id
                    AND j.state IN ('available', 'pending', 'running', 'retryable', 'scheduled'))
RETURNING e.id;

-- name: EmailLastSent :one
-- When SendGrid last accepted an e-mail (outbox messages were never sent anywhere).
SELECT sent_at FROM emails WHERE provider = 'sendgrid' AND status = 'sent' AND sent_at IS NOT NULL
ORDER BY sent_at DESC LIMIT 1;
