-- name: InstallationGet :one
SELECT * FROM pisbackup_installation;

-- name: InstallationSet :one
-- Mints (or re-mints, for a copied catalog) the installation id bound to this catalog database.
INSERT INTO pisbackup_installation (singleton, id, catalog_sysid, catalog_oid)
VALUES (true, @id, @catalog_sysid, @catalog_oid)
ON CONFLICT (singleton) DO UPDATE SET id = EXCLUDED.id, catalog_sysid = EXCLUDED.catalog_sysid,
    catalog_oid = EXCLUDED.catalog_oid, created_at = now()
RETURNING *;

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
