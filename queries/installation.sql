-- name: InstallationGet :one
SELECT * FROM pisbackup_installation;

-- name: InstallationSet :exec
-- Mints (or re-mints, for a copied catalog) the installation id bound to this catalog database. A row already
-- bound to this database is kept: of two processes minting at once, the first one's id stands.
INSERT INTO pisbackup_installation (singleton, id, catalog_sysid, catalog_oid)
VALUES (true, @id, @catalog_sysid, @catalog_oid)
ON CONFLICT (singleton) DO UPDATE SET id = EXCLUDED.id, catalog_sysid = EXCLUDED.catalog_sysid,
    catalog_oid = EXCLUDED.catalog_oid, created_at = now()
WHERE pisbackup_installation.catalog_sysid <> EXCLUDED.catalog_sysid OR pisbackup_installation.catalog_oid <> EXCLUDED.catalog_oid;

-- name: OwnedDatabaseRecord :one
-- Records a database pisbackup just created; a stale live row for the same name (dropped behind our back) is
-- closed first by OwnedDatabaseForget.
INSERT INTO pisbackup_owned_databases (server, datname, datoid, purpose)
VALUES (@server, @datname, @datoid, @purpose)
RETURNING *;

-- name: OwnedDatabaseGet :one
SELECT * FROM pisbackup_owned_databases WHERE server = @server AND datname = @datname AND dropped_at IS NULL;

-- name: OwnedDatabaseForget :exec
UPDATE pisbackup_owned_databases SET dropped_at = now()
WHERE server = @server AND datname = @datname AND dropped_at IS NULL;
