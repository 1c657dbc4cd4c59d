package secret

import (
	"errors"
	"log/slog"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

func TestScrubEverySpelling(t *testing.T) {
	pw := `p@ss:w/rd 'q\`
	for _, spelled := range Spellings(pw) {
		got := Scrub("pg said: "+spelled+" and again "+spelled, pw)
		require.Equal(t, "pg said: xxxxx and again xxxxx", got, spelled)
	}
	require.Equal(t, "key xxxxx", Scrub("key a%2fb", "a/b"), "lower-case percent escapes")
	require.Equal(t, "xxxxx", Scrub("abcdef", "abc", "abcdef"), "longest first: no tail left behind")
	require.Equal(t, "unchanged", Scrub("unchanged", ""), "an empty secret scrubs nothing")
}

func TestSet(t *testing.T) {
	s := NewSet("SG.key", "", "tok")
	s.Add("aws")
	require.Equal(t, "xxxxx xxxxx xxxxx", s.Error(errors.New("SG.key tok aws")))
	require.Equal(t, "", s.Error(nil))
	var nilSet *Set
	require.Equal(t, "x", nilSet.Scrub("x"))
	require.Len(t, s.Values(), 3)
}

func TestHandlerScrubsEveryAttribute(t *testing.T) {
	var buf strings.Builder
	set := NewSet("KvSecret42")
	log := slog.New(Handler(slog.NewJSONHandler(&buf, nil), set)).With("src", "password=KvSecret42")
	log.Warn("failed with KvSecret42", "error", errors.New("pg: KvSecret42"), "n", 3,
		slog.Group("g", "x", "KvSecret42"), "s", struct{ A string }{"KvSecret42"}, "ok", struct{ B int }{1})
	require.NotContains(t, buf.String(), "KvSecret42")
	require.Contains(t, buf.String(), `"n":3`)
	require.Contains(t, buf.String(), `"ok":{"B":1}`)
	require.Equal(t, 5, strings.Count(buf.String(), "xxxxx"), buf.String()) // msg, src, error, g.x, s
}
