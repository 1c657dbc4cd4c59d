-- One liveness mechanism for every kind of work (issue 17). A process holding work renews a lease here every
-- second: one row per River job it is working, and one per private queue a CLI process serves. Ages are judged
-- on the database's clock (now()), never a worker's, so a worker whose clock runs fast or slow is judged fairly.
-- The reconciler finalises River jobs whose lease went stale (their process died) and ends the rows they held.

-- +goose Up
CREATE TABLE job_leases (
    id                  bigserial   PRIMARY KEY,
    job_id              bigint      UNIQUE,          -- a River job being worked
    queue               text        UNIQUE,          -- or a CLI process's private queue
    kind                text        NOT NULL DEFAULT '',
    holder              text        NOT NULL,        -- host:pid of the process, for the operator
    acquired_at         timestamptz NOT NULL DEFAULT now(),
    heartbeat_at        timestamptz NOT NULL DEFAULT now(),
    -- What the work is waiting for, when it is (e.g. "a lock on public.patients_patient"); shown on its page.
    waiting_for         text        NOT NULL DEFAULT '',
    -- An operator asked to stop the work; the holder sees it at its next heartbeat and stops.
    cancel_requested_at timestamptz,
    cancel_requested_by text        NOT NULL DEFAULT '',
    CHECK ((job_id IS NULL) <> (queue IS NULL))
);

-- +goose Down
DROP TABLE job_leases;
