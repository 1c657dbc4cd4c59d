package views

import (
	"github.com/uscpis/pisbackup/queries"
)

// LoginVM is the sign-in page. Error is deliberately the same text for every kind of failure.
type LoginVM struct {
	Chrome
	Email string
	Next  string
	Error string
}

// Secret is a password or token shown exactly once, right after it was made.
type Secret struct {
	Label string // what it is, e.g. "New password for a@b.c"
	Value string
}

// UsersVM is the admin users page.
type UsersVM struct {
	Chrome
	Users []queries.User
	// Me is the signed-in admin's user id: their own row's questions say what happens to them.
	Me     int64
	Secret *Secret
	// Form holds what was typed into "Add user" when it needs correcting.
	Form  UserForm
	Error string
	Field string
}

// DisableQuestion is what Disable asks before it acts.
func (vm UsersVM) DisableQuestion(u queries.User) string {
	if u.ID == vm.Me {
		return "Disable your own account? You are signed out at once and cannot sign in again until another admin enables you."
	}
	return "Disable " + u.Email + "? Their sessions end and their API tokens stop working at once."
}

// ResetQuestion is what Reset password asks before it acts.
func (vm UsersVM) ResetQuestion(u queries.User) string {
	if u.ID == vm.Me {
		return "Reset your own password? You are signed out at once and your API tokens are revoked; the new password is shown once, on the next page: copy it before you leave."
	}
	return "Reset the password of " + u.Email + "? Their current password stops working, their sessions end and their API tokens are revoked."
}

// UserForm is the "Add user" form.
type UserForm struct {
	Email, Name, Role string
}

// TokensVM is the admin API tokens page.
type TokensVM struct {
	Chrome
	Tokens []queries.APITokenListRow
	Users  []queries.User
	Secret *Secret
	Form   TokenForm
	Error  string
	Field  string
}

// TokenForm is the "Create token" form.
type TokenForm struct {
	UserID, Name, Role, Expires string
}

// AuditVM is the audit log page with its filters.
type AuditVM struct {
	Chrome
	Rows                    []queries.AuditEvent
	Actor, Action, From, To string
	NextURL, CSVURL         string
}

// ProfileVM is the signed-in user's own page.
type ProfileVM struct {
	Chrome
	User    queries.User
	Message string
	Error   string
}
