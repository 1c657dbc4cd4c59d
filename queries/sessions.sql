-- name: SessionCount :one
-- Sessions themselves are read and written by scs's pgxstore; these queries are for housekeeping and tests.
SELECT count(*) FROM sessions WHERE expiry > now();

-- name: SessionDeleteExpired :execrows
DELETE FROM sessions WHERE expiry <= now();
