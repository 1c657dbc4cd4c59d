-- The whole catalog in one migration: every table SPEC section 2 names. River's own tables come from
-- rivermigrate, not from here.

-- +goose Up
CREATE TABLE users (
    id             bigserial PRIMARY KEY,
    email          text        NOT NULL,
    name           text        NOT NULL DEFAULT '',
    role           text        NOT NULL CHECK (role IN ('viewer', 'operator', 'admin')),
    password_hash  text        NOT NULL,
    disabled       boolean     NOT NULL DEFAULT false,
    alert_opt_in   boolean     NOT NULL DEFAULT false,
    last_login_at  timestamptz,
    created_at     timestamptz NOT NULL DEFAULT now(),
    updated_at     timestamptz NOT NULL DEFAULT now()
);
-- E-mail is unique regardless of case, without needing the citext extension (not always allowed on Heroku).
CREATE UNIQUE INDEX users_email_lower_key ON users (lower(email));

-- Server-side sessions in the shape alexedwards/scs's pgxstore expects.
CREATE TABLE sessions (
    token  text        PRIMARY KEY,
    data   bytea       NOT NULL,
    expiry timestamptz NOT NULL
);
CREATE INDEX sessions_expiry_idx ON sessions (expiry);

CREATE TABLE api_tokens (
    id           bigserial PRIMARY KEY,
    user_id      bigint      NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    name         text        NOT NULL,
    role         text        NOT NULL CHECK (role IN ('viewer', 'operator', 'admin')),
    token_sha256 bytea       NOT NULL UNIQUE,
    prefix       text        NOT NULL,
    last_used_at timestamptz,
    expires_at   timestamptz,
    revoked_at   timestamptz,
    created_at   timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE schedules (
    id            bigserial PRIMARY KEY,
    name          text        NOT NULL UNIQUE,
    kind          text        NOT NULL CHECK (kind IN ('database', 'media', 'full', 'drill')),
    cadence       text        NOT NULL CHECK (cadence IN ('daily', 'weekly', 'monthly', 'cron', 'manual')),
    time_of_day   text        NOT NULL DEFAULT '02:00',
    weekday       integer     NOT NULL DEFAULT 0 CHECK (weekday BETWEEN 0 AND 6),
    day_of_month  integer     NOT NULL DEFAULT 1 CHECK (day_of_month BETWEEN 1 AND 31),
    cron_expr     text        NOT NULL DEFAULT '',
    timezone      text        NOT NULL DEFAULT 'Asia/Manila',
    active        boolean     NOT NULL DEFAULT true,
    keep_last     integer     NOT NULL DEFAULT 7 CHECK (keep_last >= 0),
    keep_daily    integer     NOT NULL DEFAULT 7 CHECK (keep_daily >= 0),
    keep_weekly   integer     NOT NULL DEFAULT 4 CHECK (keep_weekly >= 0),
    keep_monthly  integer     NOT NULL DEFAULT 6 CHECK (keep_monthly >= 0),
    max_age_days  integer     NOT NULL DEFAULT 0 CHECK (max_age_days >= 0),
    verify_level  text        NOT NULL DEFAULT 'checksum' CHECK (verify_level IN ('none', 'checksum', 'archive', 'drill')),
    last_run_at   timestamptz,
    next_run_at   timestamptz,
    created_at    timestamptz NOT NULL DEFAULT now(),
    updated_at    timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE backups (
    id                     bigserial PRIMARY KEY,
    kind                   text        NOT NULL CHECK (kind IN ('database', 'media', 'full')),
    status                 text        NOT NULL DEFAULT 'queued'
                           CHECK (status IN ('queued', 'running', 'succeeded', 'warning', 'failed', 'cancelled')),
    trigger                text        NOT NULL CHECK (trigger IN ('manual', 'schedule', 'api', 'cli', 'upload')),
    schedule_id            bigint      REFERENCES schedules (id) ON DELETE SET NULL,
    parent_id              bigint      REFERENCES backups (id) ON DELETE SET NULL,
    created_by             bigint      REFERENCES users (id) ON DELETE SET NULL,
    job_id                 bigint,
    queued_at              timestamptz NOT NULL DEFAULT now(),
    started_at             timestamptz,
    finished_at            timestamptz,
    heartbeat_at           timestamptz,
    duration_ms            bigint,
    bytes_read             bigint      NOT NULL DEFAULT 0,
    bytes_stored           bigint      NOT NULL DEFAULT 0,
    progress_bytes         bigint      NOT NULL DEFAULT 0,
    progress_total         bigint      NOT NULL DEFAULT 0,
    sha256                 text        NOT NULL DEFAULT '',
    storage_key            text        NOT NULL DEFAULT '',
    encrypted              boolean     NOT NULL DEFAULT true,
    recipients_fingerprint text        NOT NULL DEFAULT '',
    pg_dump_version        text        NOT NULL DEFAULT '',
    server_version         text        NOT NULL DEFAULT '',
    source_redacted        text        NOT NULL DEFAULT '',
    format                 text        NOT NULL DEFAULT '',
    manifest               jsonb,
    warnings               text[]      NOT NULL DEFAULT '{}',
    error                  text        NOT NULL DEFAULT '',
    pruned_at              timestamptz
);
-- Cursor pagination walks (queued_at, id) backwards; the filters narrow by kind and status first.
CREATE INDEX backups_queued_idx ON backups (queued_at DESC, id DESC);
CREATE INDEX backups_kind_status_idx ON backups (kind, status, queued_at DESC);
CREATE INDEX backups_schedule_idx ON backups (schedule_id, queued_at DESC);
CREATE INDEX backups_parent_idx ON backups (parent_id);

CREATE TABLE verifications (
    id          bigserial PRIMARY KEY,
    backup_id   bigint      NOT NULL REFERENCES backups (id) ON DELETE CASCADE,
    level       text        NOT NULL CHECK (level IN ('checksum', 'archive', 'drill')),
    status      text        NOT NULL DEFAULT 'queued'
                CHECK (status IN ('queued', 'running', 'succeeded', 'failed', 'cancelled')),
    job_id      bigint,
    created_by  bigint      REFERENCES users (id) ON DELETE SET NULL,
    queued_at   timestamptz NOT NULL DEFAULT now(),
    started_at  timestamptz,
    finished_at timestamptz,
    duration_ms bigint,
    rto_ms      bigint,
    details     jsonb,
    error       text        NOT NULL DEFAULT ''
);
CREATE INDEX verifications_backup_idx ON verifications (backup_id, queued_at DESC);
CREATE INDEX verifications_drill_ok_idx ON verifications (finished_at DESC) WHERE level = 'drill' AND status = 'succeeded';

CREATE TABLE restores (
    id           bigserial PRIMARY KEY,
    backup_id    bigint      NOT NULL REFERENCES backups (id) ON DELETE CASCADE,
    target_kind  text        NOT NULL CHECK (target_kind IN ('database', 'directory')),
    target       text        NOT NULL,
    dry_run      boolean     NOT NULL DEFAULT false,
    status       text        NOT NULL DEFAULT 'queued'
                 CHECK (status IN ('queued', 'running', 'succeeded', 'failed', 'cancelled')),
    job_id       bigint,
    requested_by bigint      REFERENCES users (id) ON DELETE SET NULL,
    queued_at    timestamptz NOT NULL DEFAULT now(),
    started_at   timestamptz,
    finished_at  timestamptz,
    progress_bytes bigint    NOT NULL DEFAULT 0,
    details      jsonb,
    error        text        NOT NULL DEFAULT ''
);
CREATE INDEX restores_backup_idx ON restores (backup_id, queued_at DESC);

CREATE TABLE health_metrics (
    id          bigserial PRIMARY KEY,
    metric      text             NOT NULL,
    value       double precision NOT NULL,
    unit        text             NOT NULL DEFAULT '',
    details     jsonb,
    recorded_at timestamptz      NOT NULL DEFAULT now()
);
CREATE INDEX health_metrics_metric_idx ON health_metrics (metric, recorded_at DESC);

CREATE TABLE alerts (
    id               bigserial PRIMARY KEY,
    rule             text        NOT NULL,
    subject          text        NOT NULL DEFAULT '',
    severity         text        NOT NULL DEFAULT 'critical' CHECK (severity IN ('info', 'warning', 'critical')),
    state            text        NOT NULL DEFAULT 'open' CHECK (state IN ('open', 'resolved')),
    title            text        NOT NULL DEFAULT '',
    opened_at        timestamptz NOT NULL DEFAULT now(),
    last_seen_at     timestamptz NOT NULL DEFAULT now(),
    last_notified_at timestamptz,
    resolved_at      timestamptz,
    occurrences      integer     NOT NULL DEFAULT 1,
    details          jsonb
);
-- One open alert per (rule, subject): the database enforces the de-duplication, not the code alone.
CREATE UNIQUE INDEX alerts_open_key ON alerts (rule, subject) WHERE state = 'open';
CREATE INDEX alerts_opened_idx ON alerts (opened_at DESC);

CREATE TABLE emails (
    id                  bigserial PRIMARY KEY,
    to_addrs            text[]      NOT NULL,
    subject             text        NOT NULL,
    template            text        NOT NULL,
    html_body           text        NOT NULL DEFAULT '',
    text_body           text        NOT NULL DEFAULT '',
    provider            text        NOT NULL DEFAULT 'sendgrid' CHECK (provider IN ('sendgrid', 'outbox')),
    status              text        NOT NULL DEFAULT 'queued' CHECK (status IN ('queued', 'sent', 'failed')),
    provider_message_id text        NOT NULL DEFAULT '',
    attempts            integer     NOT NULL DEFAULT 0,
    last_error          text        NOT NULL DEFAULT '',
    alert_id            bigint      REFERENCES alerts (id) ON DELETE SET NULL,
    created_at          timestamptz NOT NULL DEFAULT now(),
    sent_at             timestamptz
);
CREATE INDEX emails_created_idx ON emails (created_at DESC);

CREATE TABLE media_migrations (
    id           bigserial PRIMARY KEY,
    dry_run      boolean     NOT NULL DEFAULT false,
    backup_first boolean     NOT NULL DEFAULT false,
    delete_local boolean     NOT NULL DEFAULT false,
    backup_id    bigint      REFERENCES backups (id) ON DELETE SET NULL,
    status       text        NOT NULL DEFAULT 'queued'
                 CHECK (status IN ('queued', 'running', 'succeeded', 'warning', 'failed', 'cancelled')),
    total_files  integer     NOT NULL DEFAULT 0,
    total_bytes  bigint      NOT NULL DEFAULT 0,
    uploaded     integer     NOT NULL DEFAULT 0,
    verified     integer     NOT NULL DEFAULT 0,
    skipped      integer     NOT NULL DEFAULT 0,
    failed       integer     NOT NULL DEFAULT 0,
    deleted      integer     NOT NULL DEFAULT 0,
    job_id       bigint,
    created_by   bigint      REFERENCES users (id) ON DELETE SET NULL,
    queued_at    timestamptz NOT NULL DEFAULT now(),
    started_at   timestamptz,
    finished_at  timestamptz,
    details      jsonb,
    error        text        NOT NULL DEFAULT ''
);

CREATE TABLE media_assets (
    id            bigserial PRIMARY KEY,
    rel_path      text        NOT NULL UNIQUE,
    size          bigint      NOT NULL,
    sha256        text        NOT NULL,
    md5           text        NOT NULL,
    status        text        NOT NULL DEFAULT 'pending'
                  CHECK (status IN ('pending', 'uploaded', 'verified', 'failed', 'deleted')),
    public_id     text        NOT NULL DEFAULT '',
    resource_type text        NOT NULL DEFAULT '',
    version       bigint      NOT NULL DEFAULT 0,
    secure_url    text        NOT NULL DEFAULT '',
    bytes         bigint      NOT NULL DEFAULT 0,
    etag          text        NOT NULL DEFAULT '',
    error         text        NOT NULL DEFAULT '',
    run_id        bigint      REFERENCES media_migrations (id) ON DELETE SET NULL,
    updated_at    timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX media_assets_status_idx ON media_assets (status);

CREATE TABLE audit_events (
    id            bigserial PRIMARY KEY,
    actor_user_id bigint      REFERENCES users (id) ON DELETE SET NULL,
    actor_token_id bigint     REFERENCES api_tokens (id) ON DELETE SET NULL,
    actor         text        NOT NULL,
    action        text        NOT NULL,
    target        text        NOT NULL DEFAULT '',
    ip            text        NOT NULL DEFAULT '',
    user_agent    text        NOT NULL DEFAULT '',
    details       jsonb,
    created_at    timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX audit_events_created_idx ON audit_events (created_at DESC);
CREATE INDEX audit_events_action_idx ON audit_events (action, created_at DESC);

-- +goose Down
DROP TABLE audit_events, media_assets, media_migrations, emails, alerts, health_metrics, restores,
    verifications, backups, schedules, api_tokens, sessions, users;
