package auth

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

func TestNewTokenIsRandomAndHashed(t *testing.T) {
	t.Parallel()
	a, sumA, shown := NewToken()
	b, _, _ := NewToken()
	require.NotEqual(t, a, b)
	require.True(t, LooksLikeToken(a), a)
	require.Equal(t, HashToken(a), sumA)
	require.Len(t, sumA, 32)
	require.True(t, len(shown) < len(a)/4 && a[:len(shown)] == shown, "the display prefix reveals a small part only")
}

func TestTokenStateAndRoles(t *testing.T) {
	t.Parallel()
	now := time.Date(2026, 11, 25, 12, 0, 0, 0, time.UTC)
	past, future := now.Add(-time.Second), now.Add(time.Hour)
	require.Equal(t, "", TokenState(nil, nil, false, now))
	require.Equal(t, "", TokenState(nil, &future, false, now))
	require.Equal(t, "expired", TokenState(nil, &past, false, now))
	require.Equal(t, "expired", TokenState(nil, &now, false, now), "expiry is exclusive")
	require.Equal(t, "revoked", TokenState(&past, &future, false, now))
	require.Equal(t, "user disabled", TokenState(nil, nil, true, now))

	require.Equal(t, Viewer, EffectiveRole(Admin, Viewer), "a demoted user's token is demoted too")
	require.Equal(t, Operator, EffectiveRole(Operator, Admin))
	require.Error(t, CheckTokenRole(Admin, Operator))
	require.NoError(t, CheckTokenRole(Viewer, Operator))
}

func TestParseExpiry(t *testing.T) {
	t.Parallel()
	for in, want := range map[string]time.Duration{"": 0, "never": 0, "90d": 90 * 24 * time.Hour, "12h": 12 * time.Hour} {
		got, err := ParseExpiry(in)
		require.NoError(t, err, in)
		require.Equal(t, want, got, in)
	}
	for _, bad := range []string{"0d", "-1h", "soon", "99999d", "d"} {
		_, err := ParseExpiry(bad)
		require.Error(t, err, bad)
	}
}

func TestPasswords(t *testing.T) {
	t.Parallel()
	h, err := HashPassword("long enough pw")
	require.NoError(t, err)
	require.NoError(t, VerifyPassword(h, "long enough pw"))
	require.ErrorIs(t, VerifyPassword(h, "long enough pW"), ErrWrongPassword)
	require.ErrorIs(t, VerifyPassword("", "anything at all"), ErrWrongPassword, "unknown user never matches")
	_, err = HashPassword("short")
	require.Error(t, err)
	_, err = HashPassword(string(make([]byte, MaxPasswordLen+1)))
	require.Error(t, err)
	require.NotEqual(t, GeneratePassword(), GeneratePassword())
	require.NoError(t, CheckPasswordPolicy(GeneratePassword()))
}
