-- name: UserInsert :one
INSERT INTO users (email, name, role, password_hash) VALUES (@email, @name, @role, @password_hash) RETURNING *;

-- name: UserGet :one
SELECT * FROM users WHERE id = @id;

-- name: UserGetByEmail :one
SELECT * FROM users WHERE lower(email) = lower(@email);

-- name: UserList :many
SELECT * FROM users ORDER BY lower(email);

-- name: UserCount :one
SELECT count(*) FROM users;
