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
		"/\\evil.example": "/%5Cevil.example", "/login?next=/x": "/", "backups": "/",
		// Browsers drop tabs and newlines and read "\\" as "/": each of these would leave the site.
		"/\t/evil.example/": "/", "/\n/evil.example": "/", "///evil.example": "/", "/\\/evil.example": "/%5C/evil.example",
		"https:evil.example": "/", "javascript:alert(1)": "/", "http://evil.example/x": "/", "//user@evil.example": "/",
		"/%2F/evil.example": "/", " /x": "/", "/logout": "/", "/./login": "/",
	} {
		require.Equal(t, want, safeNext(in), in)
	}
}
