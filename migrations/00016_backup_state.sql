-- Issue 16: one truth about recoverability.
--
-- origin: where a backup came from. An upload ('upload') is a file somebody handed us; it can be verified and
-- restored by hand but never counts as the clinic's recovery point. Derived from trigger so the two can never
-- disagree.
--
-- verify_state: what the newest finished verification of each level says about the backup, maintained by the
-- database itself whenever a verification is recorded or finishes, so no code path (the verify job, the
-- reconciler, a test's INSERT) can leave it stale:
--   unverified  no verification finished yet
--   verified    the newest checksum/archive verifications passed, no drill passed
--   proven      the newest drill passed and no level's newest verification failed
--   failed      the newest verification of some level failed: the backup is NOT good
-- verify_failed_id names that failed verification.
--
-- alerts.acknowledged_*: staff said "we know"; reminders stop, the alert stays open until its cause is gone.

-- +goose Up
ALTER TABLE backups
    ADD COLUMN origin text NOT NULL GENERATED ALWAYS AS (CASE WHEN trigger = 'upload' THEN 'upload' ELSE 'pisbackup' END) STORED,
    ADD COLUMN verify_state text NOT NULL DEFAULT 'unverified'
        CHECK (verify_state IN ('unverified', 'verified', 'proven', 'failed')),
    ADD COLUMN verify_failed_id bigint;

-- +goose StatementBegin
CREATE FUNCTION backups_refresh_verify_state(bid bigint) RETURNS void LANGUAGE sql AS $$
    UPDATE backups b SET verify_state = s.state, verify_failed_id = s.failed_id
    FROM (
        SELECT CASE WHEN bool_or(n.status = 'failed') THEN 'failed'
                    WHEN bool_or(n.level = 'drill' AND n.status = 'succeeded') THEN 'proven'
                    WHEN count(*) > 0 THEN 'verified'
                    ELSE 'unverified' END AS state,
               max(n.id) FILTER (WHERE n.status = 'failed') AS failed_id
        FROM (SELECT DISTINCT ON (v.level) v.id, v.level, v.status FROM verifications v
              WHERE v.backup_id = bid AND v.status IN ('succeeded', 'failed')
              ORDER BY v.level, v.finished_at DESC NULLS LAST, v.id DESC) n
    ) s
    WHERE b.id = bid AND (b.verify_state, b.verify_failed_id) IS DISTINCT FROM (s.state, s.failed_id);
$$;
-- +goose StatementEnd

-- +goose StatementBegin
CREATE FUNCTION verifications_refresh_backup() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'DELETE' THEN
        PERFORM backups_refresh_verify_state(OLD.backup_id);
        RETURN OLD;
    END IF;
    PERFORM backups_refresh_verify_state(NEW.backup_id);
    RETURN NEW;
END $$;
-- +goose StatementEnd

CREATE TRIGGER verifications_refresh_backup
    AFTER INSERT OR DELETE OR UPDATE OF status, finished_at ON verifications
    FOR EACH ROW EXECUTE FUNCTION verifications_refresh_backup();

SELECT backups_refresh_verify_state(id) FROM backups;

-- "Newest good backup of a kind" (the verdict, retention's guard, scheduled drills) now also excludes uploads
-- and backups whose newest verification failed.
CREATE INDEX backups_kind_recovery_idx ON backups (kind, finished_at DESC, id DESC)
    WHERE status IN ('succeeded', 'warning') AND pruned_at IS NULL AND trigger <> 'upload';

ALTER TABLE alerts
    ADD COLUMN acknowledged_at timestamptz,
    ADD COLUMN acknowledged_by text NOT NULL DEFAULT '';

-- +goose Down
ALTER TABLE alerts DROP COLUMN acknowledged_by, DROP COLUMN acknowledged_at;
DROP INDEX backups_kind_recovery_idx;
DROP TRIGGER verifications_refresh_backup ON verifications;
DROP FUNCTION verifications_refresh_backup();
DROP FUNCTION backups_refresh_verify_state(bigint);
ALTER TABLE backups DROP COLUMN verify_failed_id, DROP COLUMN verify_state, DROP COLUMN origin;
