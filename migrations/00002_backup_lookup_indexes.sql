-- The dashboard, /api/v1/status and the monitor ask "newest backup of each kind" and "newest good backup of a
-- kind" on every request. With a long history (make bench uses 100,000 rows) those were a sort of the whole
-- table; these indexes make them a short index walk.

-- +goose Up
CREATE INDEX backups_kind_queued_idx ON backups (kind, queued_at DESC, id DESC);
CREATE INDEX backups_kind_good_idx ON backups (kind, finished_at DESC, id DESC)
    WHERE status IN ('succeeded', 'warning') AND pruned_at IS NULL;

-- +goose Down
DROP INDEX backups_kind_good_idx;
DROP INDEX backups_kind_queued_idx;
