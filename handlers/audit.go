package handlers

import (
	"encoding/json"
	"net"
	"net/http"
	"strings"

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
	actor := p.actor()
	_, err := h.Q.AuditInsert(r.Context(), queries.AuditInsertParams{
		ActorUserID: p.UserID, ActorTokenID: p.TokenID, Actor: actor, Action: action, Target: target,
		Ip: clientIP(r), UserAgent: r.UserAgent(), Details: raw,
	})
	if err != nil {
		h.Log.Error("audit event NOT recorded", "action", action, "target", target, "error", err)
	}
}

// clientIP is the peer address. Behind Heroku's router the client is the LAST X-Forwarded-For entry: the
// router appends the address it saw, while earlier entries are whatever the client sent, and trusting those
// would let anyone dodge the per-address login throttle or forge the audit log's "from".
func clientIP(r *http.Request) string {
	if f := r.Header.Get("X-Forwarded-For"); f != "" {
		if i := strings.LastIndexByte(f, ','); i >= 0 {
			f = f[i+1:]
		}
		return strings.TrimSpace(f)
	}
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		return r.RemoteAddr
	}
	return host
}
