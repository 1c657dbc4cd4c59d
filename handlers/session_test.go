package handlers

import (
	"io"
	"log/slog"
	"net/http"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/uscpis/pisbackup/internal/config"
)

func TestSessionCookieIsSecureBehindHTTPS(t *testing.T) {
	t.Parallel()
	for base, secure := range map[string]bool{"https://backups.clinic.example": true, "http://localhost:8080": false} {
		cfg, err := config.Load(func(k string) string { return map[string]string{"BASE_URL": base}[k] })
		require.NoError(t, err)
		sm := newSessions(Deps{Cfg: cfg, Log: slog.New(slog.NewTextHandler(io.Discard, nil))})
		require.Equal(t, secure, sm.Cookie.Secure, base)
		require.True(t, sm.Cookie.HttpOnly)
		require.Equal(t, http.SameSiteLaxMode, sm.Cookie.SameSite)
		require.True(t, sm.HashTokenInStore)
	}
}

func TestSafeNextStaysOnSite(t *testing.T) {
	t.Parallel()
	for in, want := range map[string]string{
		"/backups?kind=media": "/backups?kind=media", "": "/", "https://evil.example/": "/", "//evil.example": "/",
		"/\\evil.example": "/", "/login?next=/x": "/", "backups": "/",
	} {
		require.Equal(t, want, safeNext(in), in)
	}
}

func TestClientIPTrustsOnlyTheLastForwardedHop(t *testing.T) {
	t.Parallel()
	r, _ := http.NewRequest("GET", "/", nil)
	r.RemoteAddr = "10.0.0.1:5555"
	require.Equal(t, "10.0.0.1", clientIP(r))
	r.Header.Set("X-Forwarded-For", "6.6.6.6, 203.0.113.9")
	require.Equal(t, "203.0.113.9", clientIP(r), "the client-supplied first entry is ignored")
}
