package dbconn

import (
	"context"
	"errors"
	"io"
	"net"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
)

// Unreachable reports whether err means the database could not be reached or dropped the connection (server
// down, restarting, network gone), as opposed to the database answering with an error of its own. Such an
// error is worth retrying once the server is back; any other is not. Server errors in SQLSTATE class 08
// (connection exception) and 57P01–57P03 (admin shutdown, crash shutdown, cannot connect now: a restart in
// progress) count as unreachable, as PostgreSQL's documentation describes them.
func Unreachable(err error) bool {
	if err == nil || errors.Is(err, pgx.ErrNoRows) || errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
		return false
	}
	var pg *pgconn.PgError
	if errors.As(err, &pg) {
		return len(pg.Code) == 5 && (pg.Code[:2] == "08" || pg.Code == "57P01" || pg.Code == "57P02" || pg.Code == "57P03")
	}
	var ce *pgconn.ConnectError
	var ne net.Error
	return errors.As(err, &ce) || errors.As(err, &ne) || errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) ||
		pgconn.SafeToRetry(err) || pgconn.Timeout(err) || isClosedConn(err)
}

func isClosedConn(err error) bool {
	for e := err; e != nil; e = errors.Unwrap(e) {
		switch e.Error() {
		case "conn closed", "closed pool", "unexpected EOF":
			return true
		}
	}
	return false
}

// Retry calls write until it succeeds, fails with an error that is not Unreachable, or until (the earlier of
// ctx's deadline and) limit has passed, waiting 250 ms doubling to 5 s between tries while the database is
// unreachable. It ignores ctx's cancellation (a final write must land even when the work was cancelled or
// its worker is stopping) but not its deadline, beyond which it still tries for a minute. It is how workers record an outcome across a catalog outage.
func Retry(ctx context.Context, limit time.Duration, write func(context.Context) error) error {
	deadline := time.Now().Add(limit)
	if d, ok := ctx.Deadline(); ok && d.Before(deadline) {
		deadline = d
		if least := time.Now().Add(time.Minute); deadline.Before(least) {
			deadline = least // a timed-out job still gets a minute to record it
		}
	}
	wctx := context.WithoutCancel(ctx)
	wait := 250 * time.Millisecond
	for {
		err := write(wctx)
		if !Unreachable(err) || time.Now().Add(wait).After(deadline) {
			return err
		}
		time.Sleep(wait)
		wait = min(wait*2, 5*time.Second)
	}
}
