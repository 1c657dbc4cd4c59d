-- Issue 21 (recover records). A record recovery restores a few tables of a backup into a scratch database
-- (purpose 'recovery', dropped afterwards like a drill's) and compares the chosen rows with the clinic
-- database. recoveries records each one: who asked, which backup, which rows (keys and per-table counts, never
-- column values: those stay in the encrypted undo artifact), and for an applied recovery where its undo
-- artifact is stored and the SHA-256 of every row as it wrote it, which undo checks before reversing anything.

-- +goose Up
ALTER TABLE pisbackup_owned_databases DROP CONSTRAINT pisbackup_owned_databases_purpose_check;
ALTER TABLE pisbackup_owned_databases ADD CONSTRAINT pisbackup_owned_databases_purpose_check
    CHECK (purpose IN ('drill', 'restore', 'recovery'));

CREATE TABLE recoveries (
    id           bigserial PRIMARY KEY,
    backup_id    bigint REFERENCES backups (id) ON DELETE SET NULL,
    requested_by text NOT NULL,
    mode         text NOT NULL CHECK (mode IN ('dry_run', 'sql', 'apply')),
    table_name   text NOT NULL,
    selection    jsonb NOT NULL,
    status       text NOT NULL DEFAULT 'running' CHECK (status IN ('running', 'succeeded', 'failed', 'undone')),
    summary      jsonb NOT NULL DEFAULT '{}',
    undo_key     text,
    undo_sha256  text,
    undo_bytes   bigint,
    error        text,
    created_at   timestamptz NOT NULL DEFAULT now(),
    finished_at  timestamptz,
    undone_at    timestamptz,
    undone_by    text
);
CREATE INDEX recoveries_backup_idx ON recoveries (backup_id, id DESC);

-- +goose Down
DROP TABLE recoveries;
DELETE FROM pisbackup_owned_databases WHERE purpose = 'recovery';
ALTER TABLE pisbackup_owned_databases DROP CONSTRAINT pisbackup_owned_databases_purpose_check;
ALTER TABLE pisbackup_owned_databases ADD CONSTRAINT pisbackup_owned_databases_purpose_check
    CHECK (purpose IN ('drill', 'restore'));
