-- Issue 13 (do no harm). pisbackup_installation holds this catalog's installation id, which names its drill
-- scratch databases (pisbackup_drill_<installation>_<verification>), so two installations drilling on one
-- server never touch each other's databases. The id is bound to the catalog database it was minted in (server
-- system identifier + database oid): a copied or cloned catalog mints its own on first use (see
-- backup.Installation). Its distinctive name also marks "this database holds a pisbackup catalog", which no
-- restore may replace.
--
-- pisbackup_owned_databases records every database pisbackup created (drill scratch or restore target), by
-- server, name and oid. pisbackup drops or replaces a database only when it is recorded here with the same
-- oid it has now: a database someone else created under the same name later is never ours.

-- +goose Up
CREATE TABLE pisbackup_installation (
    singleton     boolean PRIMARY KEY DEFAULT true CHECK (singleton),
    id            text NOT NULL CHECK (id ~ '^[a-z0-9]{12}$'),
    catalog_sysid text NOT NULL,
    catalog_oid   bigint NOT NULL,
    created_at    timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE pisbackup_owned_databases (
    id         bigserial PRIMARY KEY,
    server     text NOT NULL,
    datname    text NOT NULL,
    datoid     bigint NOT NULL,
    purpose    text NOT NULL CHECK (purpose IN ('drill', 'restore')),
    created_at timestamptz NOT NULL DEFAULT now(),
    dropped_at timestamptz
);
CREATE UNIQUE INDEX pisbackup_owned_databases_live_idx ON pisbackup_owned_databases (server, datname)
    WHERE dropped_at IS NULL;

-- +goose Down
DROP TABLE pisbackup_owned_databases;
DROP TABLE pisbackup_installation;
