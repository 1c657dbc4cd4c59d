#!/bin/bash
# `make faults`: the fault-injection tests on a throwaway PostgreSQL cluster of their own (the newest installed
# version, port FAULTS_PGPORT, default 5470), so killing, filling or restarting PostgreSQL never disturbs the
# main cluster or anything else on the server. The cluster is dropped afterwards, pass or fail.
set -euo pipefail
cd "$(dirname "$0")/../.."
PORT="${FAULTS_PGPORT:-5470}"
NAME="pisbackup_faults_${PORT}"
if ! command -v pg_createcluster >/dev/null || [ "$(id -u)" != 0 ]; then
	echo "make faults needs root and postgresql-common (pg_createcluster) to run a throwaway cluster" >&2
	exit 2
fi
VERSION="$(ls /usr/lib/postgresql | sort -n | tail -1)"
BIN="/usr/lib/postgresql/${VERSION}/bin"
drop() { pg_dropcluster --stop "$VERSION" "$NAME" >/dev/null 2>&1 || true; }
trap drop EXIT
drop
pg_createcluster "$VERSION" "$NAME" -p "$PORT" -- --auth-local=trust --auth-host=trust >/dev/null
pg_ctlcluster "$VERSION" "$NAME" start
su postgres -c "psql -q -p $PORT -c \"ALTER USER postgres PASSWORD 'postgres'\""
echo "fault tests on throwaway cluster $VERSION/$NAME (port $PORT)"

# The cluster listens on localhost (pg_createcluster's default), so both host and port are set: a TESTDB_HOST
# pointing the other tests elsewhere must not follow the fault tests to a server that is not theirs.
PATH="$BIN:$PATH" TESTDB_HOST=127.0.0.1 TESTDB_PORT="$PORT" FAULTS_PG_VERSION="$VERSION" FAULTS_PG_CLUSTER="$NAME" \
	go test -tags faults -count=1 -p 1 -timeout 30m -v ./internal/faults/ "$@"
