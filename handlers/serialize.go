package handlers

import (
	"context"
	"fmt"
	"hash/fnv"

	"github.com/jackc/pgx/v5"

	"github.com/uscpis/pisbackup/queries"
)

// serialized runs fn in a transaction that first takes PostgreSQL's transaction-level advisory lock named
// name (pg_advisory_xact_lock on a key hashed from it; see "Advisory Locks" in the PostgreSQL manual), so a
// check and the write it guards (count the schedules, then insert one) cannot interleave with the same pair
// in another request or process. fn must do both through q or tx: the lock is held until the transaction
// commits (fn returned nil) or rolls back, on that one connection, so waiting requests never need a second one.
func (h *Handlers) serialized(ctx context.Context, name string, fn func(tx pgx.Tx, q *queries.Queries) error) error {
	f := fnv.New64a()
	_, _ = f.Write([]byte("pisbackup:" + name))
	key := int64(f.Sum64())
	return pgx.BeginFunc(ctx, h.Pool, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, "SELECT pg_advisory_xact_lock($1)", key); err != nil {
			return fmt.Errorf("wait for %s: %w", name, err)
		}
		return fn(tx, h.Q.WithTx(tx))
	})
}
