package handlers

import (
	"encoding/json"
	"net"
	"net/http"

	"github.com/uscpis/pisbackup/queries"
)

// audit records who did what to which target, from where. Every state change, download, restore and login
// calls it. A failure to audit is logged loudly but does not undo the action already taken.
func (h *Handlers) audit(r *http.Request, action, target string, details any) {
	p := principalFrom(r.Context())
	var raw json.RawMessage
	if details != nil {
		raw, _ = json.Marshal(details)
	}
	actor := p.Name
	if actor == "" {
		actor = "anonymous"
	}
	_, err := h.Q.AuditInsert(r.Context(), queries.AuditInsertParams{
		ActorUserID: p.UserID, ActorTokenID: p.TokenID, Actor: actor, Action: action, Target: target,
		Ip: clientIP(r), UserAgent: r.UserAgent(), Details: raw,
	})
	if err != nil {
		h.Log.Error("audit event NOT recorded", "action", action, "target", target, "error", err)
	}
}

// clientIP is the peer address; behind Heroku's router the first X-Forwarded-For hop is the client.
func clientIP(r *http.Request) string {
	if f := r.Header.Get("X-Forwarded-For"); f != "" {
		for i := 0; i < len(f); i++ {
			if f[i] == ',' {
				return f[:i]
			}
		}
		return f
	}
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		return r.RemoteAddr
	}
	return host
}
