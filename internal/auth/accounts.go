package auth

import (
	"context"
	"errors"
	"fmt"
	"net/mail"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/uscpis/pisbackup/queries"
)

// ErrEmailTaken is returned when another user already has the e-mail (compared case-insensitively).
var ErrEmailTaken = errors.New("a user with this e-mail already exists")

// NormalizeEmail checks an address is plausible and trims it; the database compares case-insensitively.
func NormalizeEmail(s string) (string, error) {
	s = strings.TrimSpace(s)
	a, err := mail.ParseAddress(s)
	if err != nil || a.Address != s || len(s) > 254 {
		return "", fmt.Errorf("%q is not an e-mail address", s)
	}
	return s, nil
}

// CreateUser adds a user with a password that must pass CheckPasswordPolicy. The CLI and the admin page
// both come through here, so the rules cannot drift apart.
func CreateUser(ctx context.Context, q *queries.Queries, email, name string, role Role, password string) (queries.User, error) {
	email, err := NormalizeEmail(email)
	if err != nil {
		return queries.User{}, err
	}
	if role == Public {
		return queries.User{}, errors.New("a user needs a role: viewer, operator or admin")
	}
	hash, err := HashPassword(password)
	if err != nil {
		return queries.User{}, err
	}
	u, err := q.UserInsert(ctx, queries.UserInsertParams{Email: email, Name: strings.TrimSpace(name), Role: role.String(), PasswordHash: hash})
	var pgErr *pgconn.PgError
	if errors.As(err, &pgErr) && pgErr.Code == "23505" {
		return u, ErrEmailTaken
	}
	return u, err
}

// CreateToken issues an API token for u. It returns the token itself, which exists nowhere else afterwards:
// only its SHA-256 is stored. ttl 0 means it never expires.
func CreateToken(ctx context.Context, q *queries.Queries, u queries.User, name string, role Role, ttl time.Duration, now time.Time) (string, queries.ApiToken, error) {
	name = strings.TrimSpace(name)
	if name == "" || len(name) > 100 {
		return "", queries.ApiToken{}, errors.New("a token needs a name of 1 to 100 characters (what uses it, e.g. \"uptime monitor\")")
	}
	if u.Disabled {
		return "", queries.ApiToken{}, fmt.Errorf("user %s is disabled", u.Email)
	}
	userRole, err := ParseRole(u.Role)
	if err != nil {
		return "", queries.ApiToken{}, err
	}
	if role == Public {
		role = userRole
	}
	if err := CheckTokenRole(role, userRole); err != nil {
		return "", queries.ApiToken{}, err
	}
	var expires *time.Time
	if ttl > 0 {
		t := now.Add(ttl)
		expires = &t
	}
	token, sum, display := NewToken()
	row, err := q.APITokenInsert(ctx, queries.APITokenInsertParams{UserID: u.ID, Name: name, Role: role.String(),
		TokenSha256: sum, Prefix: display, ExpiresAt: expires})
	return token, row, err
}

// SetPassword stores a new password hash for userID and revokes every live API token of that user, in one
// transaction, returning how many tokens it revoked. A password change (own, on /profile) or reset (by an
// admin) says the old credentials may be known to someone else, and tokens were issued under them; scripts
// need a new token afterwards. Sessions opened with the old password end too (see handlers' passwordVersion).
func SetPassword(ctx context.Context, db interface {
	Begin(context.Context) (pgx.Tx, error)
}, userID int64, hash string) (revoked int64, err error) {
	err = pgx.BeginFunc(ctx, db, func(tx pgx.Tx) error {
		q := queries.New(tx)
		if _, err := q.UserSetPassword(ctx, queries.UserSetPasswordParams{ID: userID, PasswordHash: hash}); err != nil {
			return err
		}
		revoked, err = q.APITokenRevokeForUser(ctx, userID)
		return err
	})
	return revoked, err
}
