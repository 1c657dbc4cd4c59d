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

-- name: UserCountActiveAdmins :one
-- Guards the last admin: nobody may demote or disable the only admin who can still sign in.
SELECT count(*) FROM users WHERE role = 'admin' AND NOT disabled;

-- name: UserSetRole :one
UPDATE users SET role = @role, updated_at = now() WHERE id = @id RETURNING *;

-- name: UserSetDisabled :one
UPDATE users SET disabled = @disabled, updated_at = now() WHERE id = @id RETURNING *;

-- name: UserSetPassword :one
UPDATE users SET password_hash = @password_hash, updated_at = now() WHERE id = @id RETURNING *;

-- name: UserSetAlertOptIn :one
UPDATE users SET alert_opt_in = @alert_opt_in, updated_at = now() WHERE id = @id RETURNING *;

-- name: UserTouchLogin :exec
UPDATE users SET last_login_at = now() WHERE id = @id;

-- name: UserAlertRecipients :many
-- Admins who asked for alert e-mail on their profile; disabled accounts get nothing.
SELECT email FROM users WHERE role = 'admin' AND alert_opt_in AND NOT disabled ORDER BY lower(email);
