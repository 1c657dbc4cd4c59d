-- Drills and restores show how far they are (issue 17): bytes restored of the backup's total, from which the
-- pages derive the elapsed time and an estimate of what is left.

-- +goose Up
ALTER TABLE verifications ADD COLUMN progress_bytes bigint NOT NULL DEFAULT 0,
                          ADD COLUMN progress_total bigint NOT NULL DEFAULT 0;
ALTER TABLE restores ADD COLUMN progress_total bigint NOT NULL DEFAULT 0;

-- +goose Down
ALTER TABLE restores DROP COLUMN progress_total;
ALTER TABLE verifications DROP COLUMN progress_total, DROP COLUMN progress_bytes;
