-- name: MediaAssetGetByPath :one
SELECT * FROM media_assets WHERE rel_path = @rel_path;

-- name: MediaAssetCountByStatus :many
SELECT status, count(*) AS n FROM media_assets GROUP BY status ORDER BY status;
