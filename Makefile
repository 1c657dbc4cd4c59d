# pisbackup: `make run` and `make test` are the two set-up commands (see README).
SHELL := /bin/bash
GO ?= go
# go.mod's toolchain line names the Go patch release to build with (the standard library's security fixes);
# auto lets the go command fetch it through the module proxy when the installed go is older. It beats the go env
# files (this machine's go.env and ~/.config/go/env say local); set with := so that a GOTOOLCHAIN=local in the
# environment cannot silently build with an older, vulnerable standard library either (correcting 70a0747's
# message: here "local" comes from those files, not the environment). `make GOTOOLCHAIN=local …` still opts out.
export GOTOOLCHAIN := auto
BIN := bin/pisbackup
export PATH := $(CURDIR)/bin:$(PATH)

.PHONY: run setup build static generate check-generated test test-go s3-server test-clean vet vulncheck bench faults screenshots staff-tasks clean

## run: build, create+migrate the catalog, seed the demo clinic, create the restore role drills and restores
## connect as (pisbackup_restore: CREATEDB only, never a superuser), serve on :8080 with workers
RUN_ADMIN_URL ?= postgres://postgres@/postgres?host=/var/run/postgresql
RUN_RESTORE_URL ?= postgres://pisbackup_restore@/postgres?host=/var/run/postgresql
run: setup build
	$(BIN) migrate --create-db
	$(BIN) demo-seed --if-missing
	$(BIN) bootstrap-admin
	@[ -n "$$RESTORE_DATABASE_URL" ] || echo "SELECT 'CREATE ROLE pisbackup_restore LOGIN NOSUPERUSER NOCREATEROLE CREATEDB' \
	  WHERE NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'pisbackup_restore') \gexec" | psql "$(RUN_ADMIN_URL)" -v ON_ERROR_STOP=1 -q
	RESTORE_DATABASE_URL="$${RESTORE_DATABASE_URL:-$(RUN_RESTORE_URL)}" $(BIN) serve

## setup: install what is missing (Debian packages, a running PostgreSQL the tests can sign in to); a no-op on a
## ready machine, needs root otherwise (.ci/setup)
setup:
	@bash .ci/setup

## build: the single binary, with static files (htmx from npm) embedded
build: static
	$(GO) build -o $(BIN) ./cmd/pisbackup

## static: htmx 2.x from npm (pinned in package.json) copied into static/vendor, and axe-core (a devDependency
## the accessibility browser test injects from node_modules); neither is committed
static: static/vendor/htmx.min.js node_modules/axe-core/axe.min.js

# npm ci installs exactly what package-lock.json pins; it writes node_modules/.package-lock.json, touched so the
# stamp is newer than the lock file it came from.
node_modules/.package-lock.json: package.json package-lock.json
	npm ci --no-audit --no-fund --loglevel=error
	touch $@

node_modules/axe-core/axe.min.js: node_modules/.package-lock.json
	@test -f $@ || { echo "npm ci did not install axe-core: is it in package.json's devDependencies (and NODE_ENV not production)?"; exit 1; }

static/vendor/htmx.min.js: node_modules/.package-lock.json
	cp node_modules/htmx.org/dist/htmx.min.js $@

## generate: regenerate sqlc and templ code (committed)
generate:
	$(GO) tool templ generate
	$(GO) tool sqlc generate

## check-generated: fail when committed generated code is stale
check-generated:
	$(GO) tool sqlc diff
	$(GO) tool templ generate
	git diff --exit-code -- '*_templ.go' queries/ || { echo "generated code is stale: run 'make generate' and commit"; exit 1; }

vet: static
	$(GO) vet ./...

## test: vet, the generated-code check, and every test against local Postgres and real pg_dump/pg_restore. The
## three run side by side (compiling sqlc for the check takes minutes on a cold cache); any failure fails test.
test: setup static
	@$(MAKE) --no-print-directory -j3 --output-sync=line vet check-generated test-go

## test-go: only the Go tests
test-go: static s3-server
	$(GO) test -count=1 -timeout 30m ./...

## s3-server: build the S3-compatible server the storage tests start (versitygw, from the Go module proxy) once
## into a cache outside the repository; the tests build it themselves when it is missing, this keeps that out
## of a test's time limit
S3_SERVER_CACHE ?= $(or $(PISBACKUP_S3_CACHE),$(HOME)/.cache/pisbackup-s3)
s3-server:
	@test -x "$(S3_SERVER_CACHE)/bin/versitygw" || { echo "building versitygw into $(S3_SERVER_CACHE)/bin"; \
	  cd /tmp && GOFLAGS=-mod=mod GOBIN="$(S3_SERVER_CACHE)/bin" $(GO) install github.com/versity/versitygw/cmd/versitygw@v1.8.0; }

## test-clean: drop everything `make test` keeps on the server: every database owned by the test roles (the cached
## templates testdb_tpl_* and databases of failed tests kept for inspection, owned by pisbackup_test_owner; drill
## scratch and restored databases, owned by pisbackup_test_restore), then the roles themselves, and the superuser
## login pisbackup_test older versions of the harness created
TEST_ADMIN_URL ?= postgres://postgres@127.0.0.1:5432/postgres?sslmode=disable
test-clean:
	psql "$(TEST_ADMIN_URL)" -v ON_ERROR_STOP=1 -Atc "SELECT format('ALTER DATABASE %I IS_TEMPLATE false; DROP DATABASE %I WITH (FORCE);', d.datname, d.datname) \
	  FROM pg_database d JOIN pg_roles r ON r.oid = d.datdba WHERE r.rolname IN ('pisbackup_test_owner', 'pisbackup_test_restore', 'pisbackup_test')" \
	  | psql "$(TEST_ADMIN_URL)" -v ON_ERROR_STOP=1 -q
	psql "$(TEST_ADMIN_URL)" -v ON_ERROR_STOP=1 -qc "DROP ROLE IF EXISTS pisbackup_test_owner" -c "DROP ROLE IF EXISTS pisbackup_test_restore" -c "DROP ROLE IF EXISTS pisbackup_test"

## vulncheck: govulncheck on every package against a database built from the golang.org/x/vulndb module
## (cached in var/vulndb/<version>); fails when our code reaches a known vulnerability
vulncheck:
	.ci/vulncheck

## bench: speed and memory against the stock tools in the same run (BENCH_GB=1 default; BENCH_GB=0.05 is quick)
bench: build
	$(GO) run ./cmd/pisbench

## faults: fault-injection tests (kill -9 of every job kind, full disk, PostgreSQL restart) on a throwaway cluster
## of their own (newest installed PostgreSQL, port FAULTS_PGPORT=5470), dropped afterwards; never the main cluster
faults: static
	internal/faults/run.sh

## screenshots: render the main pages to PNG at desktop (1280 px) and phone (360 px) width into docs/screenshots
screenshots: static
	SCREENSHOTS_DIR=$(CURDIR)/docs/screenshots $(GO) test -count=1 -run '^TestScreenshots$$' -v ./cmd/pisbackup/

## staff-tasks: the ten things staff come for (are we safe, back up now, drill, restore, change the nightly time,
## why did it fail, test e-mail, media dry run, download, add an operator), done in headless Chromium against a
## real server with workers; prints each one's wall time, clicks, typed fields and page loads (README "Staff tasks")
staff-tasks: static
	set -o pipefail; $(GO) test -count=1 -run '^TestStaffTasks$$' -v ./cmd/pisbackup/ 2>&1 | grep -v 'testdbconf:'

clean:
	rm -rf bin node_modules static/vendor/htmx.min.js
