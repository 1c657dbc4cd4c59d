-- name: AlertListOpen :many
SELECT * FROM alerts WHERE state = 'open' ORDER BY opened_at DESC;

-- name: AlertGet :one
SELECT * FROM alerts WHERE id = @id;

-- name: AlertGetOpen :one
SELECT * FROM alerts WHERE rule = @rule AND subject = @subject AND state = 'open';

-- name: AlertOpen :one
INSERT INTO alerts (rule, subject, severity, title, opened_at, last_seen_at, details)
VALUES (@rule, @subject, @severity, @title, @now, @now, @details)
RETURNING *;

-- name: AlertSeen :one
-- The condition still holds; occurrences counts distinct events (a second failed backup), not evaluations.
UPDATE alerts SET last_seen_at = @now, severity = @severity, title = @title, details = @details,
    occurrences = occurrences + CASE WHEN @new_event::boolean THEN 1 ELSE 0 END
WHERE id = @id
RETURNING *;

-- name: AlertNotified :exec
UPDATE alerts SET last_notified_at = @now::timestamptz WHERE id = @id;

-- name: AlertResolve :one
UPDATE alerts SET state = 'resolved', resolved_at = @now::timestamptz WHERE id = @id AND state = 'open' RETURNING *;

-- name: AlertList :many
-- Open alerts first, then the most recently resolved. last_emailed_at is when SendGrid last accepted an e-mail
-- about the alert (null when none was: no recipients, outbox only, or delivery failing).
SELECT alerts.*, m.sent_at AS last_emailed_at
FROM alerts
LEFT JOIN LATERAL (SELECT e.sent_at FROM emails e
                   WHERE e.alert_id = alerts.id AND e.provider = 'sendgrid' AND e.status = 'sent'
                   ORDER BY e.sent_at DESC NULLS LAST LIMIT 1) m ON true
WHERE (sqlc.narg(state)::text IS NULL OR state = sqlc.narg(state))
ORDER BY state = 'open' DESC, COALESCE(resolved_at, opened_at) DESC, id DESC
LIMIT @lim;

-- name: AlertAcknowledge :one
-- Staff know about it: reminders stop, the alert stays open until its cause is gone.
UPDATE alerts SET acknowledged_at = COALESCE(acknowledged_at, @now::timestamptz),
    acknowledged_by = CASE WHEN acknowledged_at IS NULL THEN @by::text ELSE acknowledged_by END
WHERE id = @id AND state = 'open'
RETURNING *;
