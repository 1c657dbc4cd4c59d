package dbconn

import (
	"slices"
	"strings"

	"github.com/jackc/pgx/v5/pgxpool"
)

// PoolConfig is a pgxpool configuration for s, honouring pgxpool's own keys (pool_max_conns, …) if the
// string had them. Its error, if any, never quotes the setting.
func (s *Settings) PoolConfig() (*pgxpool.Config, error) {
	keys := make([]string, 0, len(s.pool))
	for k := range s.pool {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	var kv []string
	q := strings.NewReplacer(`\`, `\\`, `'`, `\'`)
	for _, k := range keys {
		kv = append(kv, k+"='"+q.Replace(s.pool[k])+"'")
	}
	pc, err := pgxpool.ParseConfig(strings.Join(kv, " "))
	if err != nil {
		return nil, &ParseError{Reason: "invalid pool setting (" + parseReason(err) + ")"}
	}
	pc.ConnConfig = s.ConnConfig()
	return pc, nil
}
