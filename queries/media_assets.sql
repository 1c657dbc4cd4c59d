-- name: MediaAssetGetByPath :one
SELECT * FROM media_assets WHERE rel_path = @rel_path;

-- name: MediaAssetCountByStatus :many
SELECT status, count(*) AS n FROM media_assets GROUP BY status ORDER BY status;

-- name: MediaAssetUpsertPending :one
-- A file about to be uploaded: its current size and hashes replace whatever an earlier run recorded.
INSERT INTO media_assets (rel_path, size, sha256, md5, status, run_id)
VALUES (@rel_path, @size, @sha256, @md5, 'pending', @run_id)
ON CONFLICT (rel_path) DO UPDATE
SET size = EXCLUDED.size, sha256 = EXCLUDED.sha256, md5 = EXCLUDED.md5, status = 'pending', error = '',
    run_id = EXCLUDED.run_id, updated_at = now()
RETURNING *;

-- name: MediaAssetRecordUpload :one
-- What Cloudinary returned; status is 'verified' only when bytes and etag matched the local file.
UPDATE media_assets
SET status = @status, public_id = @public_id, resource_type = @resource_type, version = @version,
    secure_url = @secure_url, bytes = @bytes, etag = @etag, error = @error, updated_at = now()
WHERE rel_path = @rel_path
RETURNING *;

-- name: MediaAssetFail :exec
UPDATE media_assets SET status = 'failed', error = @error, run_id = @run_id, updated_at = now()
WHERE rel_path = @rel_path;

-- name: MediaAssetMarkDeleted :exec
-- The local copy was removed after verification; the Cloudinary copy is what remains.
UPDATE media_assets SET status = 'deleted', updated_at = now() WHERE rel_path = @rel_path AND status = 'verified';

-- name: MediaAssetListMapped :many
-- Every file safely in Cloudinary: the mapping the clinic's app needs.
SELECT * FROM media_assets WHERE status IN ('verified', 'deleted') ORDER BY rel_path;

-- name: MediaAssetListFailedByRun :many
SELECT * FROM media_assets WHERE run_id = @run_id AND status = 'failed' ORDER BY rel_path LIMIT @lim;

-- name: MediaAssetListByPaths :many
-- The ledger rows of the given paths (the values the clinic's FileField columns hold).
SELECT * FROM media_assets WHERE rel_path = ANY(@paths::text[]) ORDER BY rel_path;
