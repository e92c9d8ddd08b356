#!/usr/bin/env bash
# Runs edp's checks and tests. CI runs this same script (see .ci/run).
# With EDP_TEST_POSTGRES set (an admin DSN; .ci/run sets one) the metadata
# database tests run against PostgreSQL as well as SQLite; with EDP_TEST_S3
# (.ci/run starts versitygw) the S3 runs use that server instead of an
# in-process one.
set -euo pipefail
cd "$(dirname "$0")"
go vet ./...
go test -count=1 -timeout 30m ./...
# The storage suites again with the warehouse on S3 (the server in
# EDP_TEST_S3, else one in process) and with the catalog on PostgreSQL:
# {local, S3} x {SQLite, PostgreSQL}.
storage_suites="./internal/lake/ ./internal/query/ ./internal/ingest/ ./internal/maintain/ ./internal/stream/"
EDP_TEST_WAREHOUSE=s3 go test -count=1 -timeout 30m $storage_suites
if [ -n "${EDP_TEST_POSTGRES:-}" ] || [ -n "${CI:-}" ]; then
  EDP_TEST_CATALOG=postgres go test -count=1 -timeout 30m $storage_suites
  EDP_TEST_CATALOG=postgres EDP_TEST_WAREHOUSE=s3 go test -count=1 -timeout 30m $storage_suites
fi
# The packages where requests, jobs, commits, maintenance and audit appends
# run concurrently, again under the race detector.
go test -race -count=1 -timeout 30m ./internal/api/ ./internal/audit/ ./internal/jobs/ \
  ./internal/auth/... ./internal/telemetry/... ./internal/resilience/ ./internal/server/ \
  ./internal/lake/ ./internal/maintain/ ./internal/backup/ ./internal/catalogcopy/ \
  ./internal/metadb/... ./internal/filecache/ ./internal/restcatalog/ ./internal/stream/ ./internal/kafka/...
