-- The part of River's schema our queries read (rivermigrate creates the real tables). sqlc only needs to
-- know the shape; this file is never applied.
CREATE TYPE river_job_state AS ENUM ('available', 'cancelled', 'completed', 'discarded', 'pending', 'retryable',
    'running', 'scheduled');

CREATE TABLE river_job (
    id           bigserial PRIMARY KEY,
    state        river_job_state NOT NULL,
    attempt      smallint        NOT NULL,
    max_attempts smallint        NOT NULL,
    attempted_at timestamptz,
    created_at   timestamptz     NOT NULL,
    finalized_at timestamptz,
    scheduled_at timestamptz     NOT NULL,
    priority     smallint        NOT NULL,
    args         jsonb           NOT NULL,
    errors       jsonb[],
    kind         text            NOT NULL,
    metadata     jsonb           NOT NULL,
    queue        text            NOT NULL,
    tags         varchar(255)[]  NOT NULL
);

CREATE TABLE river_leader (
    elected_at timestamptz NOT NULL,
    expires_at timestamptz NOT NULL,
    leader_id  text        NOT NULL,
    name       text        PRIMARY KEY DEFAULT 'default'
);
