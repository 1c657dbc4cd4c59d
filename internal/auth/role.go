// Package auth holds roles, password hashing, API tokens and the request's principal.
package auth

import "fmt"

// Role is a user's or token's authority. Higher roles include everything lower ones may do.
type Role int

// The roles of SPEC section 1. Public marks routes anyone may reach (login, healthz).
const (
	Public Role = iota
	Viewer
	Operator
	Admin
)

func (r Role) String() string {
	switch r {
	case Viewer:
		return "viewer"
	case Operator:
		return "operator"
	case Admin:
		return "admin"
	}
	return "public"
}

// ParseRole reads a stored or user-given role name.
func ParseRole(s string) (Role, error) {
	switch s {
	case "viewer":
		return Viewer, nil
	case "operator":
		return Operator, nil
	case "admin":
		return Admin, nil
	}
	return Public, fmt.Errorf("unknown role %q (want viewer, operator or admin)", s)
}

// Allows reports whether r may do what needs min.
func (r Role) Allows(min Role) bool { return r >= min }
