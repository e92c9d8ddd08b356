#!/usr/bin/env bash
# Runs edp's checks and tests. CI runs this same script (see .ci/run).
# With EDP_TEST_POSTGRES set (an admin DSN; .ci/run sets one) the metadata
# database tests run against PostgreSQL as well as SQLite.
set -euo pipefail
cd "$(dirname "$0")"
go vet ./...
go test -count=1 -timeout 30m ./...
# The packages where requests, jobs, commits, maintenance and audit appends
# run concurrently, again under the race detector.
go test -race -count=1 -timeout 30m ./internal/api/ ./internal/audit/ ./internal/jobs/ \
  ./internal/auth/... ./internal/telemetry/... ./internal/resilience/ ./internal/server/ \
  ./internal/lake/ ./internal/maintain/ ./internal/backup/ ./internal/catalogcopy/ \
  ./internal/metadb/... ./internal/filecache/ ./internal/stream/ ./internal/kafka/...
