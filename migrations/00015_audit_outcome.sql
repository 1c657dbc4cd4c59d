-- Issue 15 (an audit log that can't be dodged). Every state-changing request writes its audit row before the
-- handler acts ('started'); the handler's record completes it ('done'), an error ends it as 'failed', and a
-- request that changed nothing (a form shown again with a field error) ends as 'no_change'. A row still
-- 'started' is a request that was cut off mid-way. Rows written before this migration were written after
-- their action, so they are 'done'.

-- +goose Up
ALTER TABLE audit_events ADD COLUMN outcome text NOT NULL DEFAULT 'done'
    CHECK (outcome IN ('started', 'done', 'failed', 'no_change'));

-- +goose Down
ALTER TABLE audit_events DROP COLUMN outcome;
