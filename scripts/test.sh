#!/usr/bin/env bash
# Runs everything CI runs, on a fresh machine too: set-up, lint, Rust tests, build, the JS suite
# once per backend plus the parity suite, all against a private PostgreSQL cluster.
set -euo pipefail
source "$(dirname "$0")/env.sh"
cd "$REPO_ROOT"

step() { printf '\n== %s\n' "$*"; }

# Every runner's output is also kept, so the last line can total all of them.
LOG=$(mktemp)
run() { "$@" 2>&1 | tee -a "$LOG"; return "${PIPESTATUS[0]}"; }

step "set-up"
scripts/setup.sh
# The reference packages, for the upgrade test (installed once, under aliases).
scripts/reference.sh js-tests/.ref

step "Prisma client for the tests"
# `generate` never runs the schema engine; naming an existing file as its binary stops the CLI
# from downloading one (no network here), and telemetry stays off.
PRISMA_SCHEMA_ENGINE_BINARY=/bin/true CHECKPOINT_DISABLE=1 PRISMA_HIDE_UPDATE_MESSAGE=1 \
  node_modules/.bin/prisma generate --schema js-tests/prisma/schema.prisma

step "format and lint"
cargo fmt --all -- --check
cargo clippy --workspace --all-targets -- -D warnings
cargo clippy -p usebetter-wasm --target wasm32-unknown-unknown -- -D warnings
node_modules/.bin/tsc -p npm/core/tsconfig.json
node_modules/.bin/tsc -p npm/tenant-cli/tsconfig.json

step "Rust tests"
run cargo test --workspace --all-features

step "build addon and wasm"
scripts/build.sh
# The release addon the platform package ships (its prepack, run again by the pack test, then
# finds it built): LTO, stripped.
scripts/build.sh --platform-package

step "type tests (a typed app under --strict --exactOptionalPropertyTypes --noUncheckedIndexedAccess)"
node_modules/.bin/tsc -p js-tests/types/tsconfig.json

step "PostgreSQL"
trap '"$REPO_ROOT/scripts/pgbouncer.sh" down; "$REPO_ROOT/scripts/pg.sh" down' EXIT
eval "$(scripts/pg.sh up)"

step "JS tests (native, then wasm)"
cd js-tests
for backend in native wasm; do
  echo "-- backend: $backend"
  USEBETTER_BINDING=$backend run node --test --test-concurrency=1 --test-timeout=300000 core.test.mjs rls.test.mjs audit-query.test.mjs audit-console.test.mjs audit.test.mjs audit-middleware.test.mjs audit-proxy.test.mjs audit-prisma.test.mjs audit-compat.test.mjs audit-diff.test.mjs audit-schema.test.mjs upgrade.test.mjs audit-scale.test.mjs tenant-audit.test.mjs audit-rls.test.mjs tenant-core.test.mjs tenant-http.test.mjs tenant-adapters.test.mjs
done
echo "-- parity, loader and package files"
run node --test --test-concurrency=1 --test-timeout=300000 parity.test.mjs loader.test.mjs package-files.test.mjs
echo "-- edge: the edge wasm in workerd"
run node --test --test-concurrency=1 --test-timeout=300000 edge.test.mjs
echo "-- the demo's scenario (examples/saas; exits non-zero if an expectation fails)"
node ../examples/saas/demo.mjs
echo "-- packed tarballs installed without Rust, native and wasm"
run node --test --test-concurrency=1 --test-timeout=300000 pack.test.mjs
echo "-- tenant concurrency: 10,000 requests per framework"
run node --test --test-concurrency=1 --test-timeout=300000 tenant-concurrency.test.mjs
echo "-- better-tenant CLI (native addon)"
run node --test --test-concurrency=1 --test-timeout=300000 cli-files.test.mjs cli-db.test.mjs
echo "-- how both CLIs connect: TLS (sslmode), connection errors, terminated connections"
run node --test --test-concurrency=1 --test-timeout=300000 cli-tls.test.mjs
echo "-- better-audit CLI (native addon)"
run node --test --test-concurrency=1 --test-timeout=300000 audit-cli.test.mjs audit-check.test.mjs
echo "-- faults: server restarts, terminated connections, bounded waits (restarts the private cluster)"
run node --test --test-concurrency=1 --test-timeout=300000 faults.test.mjs

step "Cross-built linux-arm64-gnu addon loads under qemu-user"
"$REPO_ROOT/scripts/cross.sh"

step "Isolation and concurrency again, through PgBouncer in transaction mode"
(
  eval "$("$REPO_ROOT/scripts/pgbouncer.sh" up)"
  run node --test --test-concurrency=1 --test-timeout=300000 rls.test.mjs tenant-core.test.mjs tenant-http.test.mjs tenant-concurrency.test.mjs
)

# cargo: "test result: ok. N passed; M failed"; node: "# pass N" / "# fail M".
passed=$(awk '/^test result:/ {p+=$4} /^# pass / {p+=$3} END {print p+0}' "$LOG")
failed=$(awk '/^test result:/ {f+=$6} /^# fail / {f+=$3} END {print f+0}' "$LOG")
rm -f "$LOG"
echo
echo "$passed passed, $failed failed"
