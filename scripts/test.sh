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
# The core on its own, without optional features, builds too.
cargo clippy -p usebetter-core --no-default-features -- -D warnings
cargo clippy -p usebetter-wasm --target wasm32-unknown-unknown -- -D warnings
# The edge modules' feature sets (scripts/build.sh builds them).
cargo clippy -p usebetter-wasm --target wasm32-unknown-unknown --no-default-features --features suite -- -D warnings
cargo clippy -p usebetter-wasm --target wasm32-unknown-unknown --no-default-features --features email-mime,email-events -- -D warnings
cargo clippy -p usebetter-wasm --target wasm32-unknown-unknown --no-default-features --features webhooks-engine -- -D warnings
node_modules/.bin/tsc -p npm/core/tsconfig.json
# The core package's export lists agree with its declarations (their one source).
node scripts/core-exports.mjs --check
node_modules/.bin/tsc -p npm/tenant-cli/tsconfig.json

step "PostgreSQL"
# Before the Rust tests: cli/tests/webhooks_store.rs and email_store.rs run the stores against it.
trap '"$REPO_ROOT/scripts/pgbouncer.sh" down; "$REPO_ROOT/scripts/pg.sh" down' EXIT
eval "$(scripts/pg.sh up)"

step "Rust tests"
run cargo test --workspace --all-features

step "build addon and wasm"
scripts/build.sh
# The release addon the platform package ships (its prepack, run again by the pack test, then
# finds it built): LTO, stripped.
scripts/build.sh --platform-package

step "type tests (a typed app under --strict --exactOptionalPropertyTypes --noUncheckedIndexedAccess)"
node_modules/.bin/tsc -p js-tests/types/tsconfig.json

step "JS tests (native, then wasm)"
cd js-tests
# Every js-tests/*.test.mjs runs on each backend unless its header says `// suite: once` (run
# once, native) or `// suite: last` (after everything else); `// suite: pgbouncer` also runs it
# through PgBouncer below. A new suite is therefore never left out.
marked() { grep -l "^// suite: $1 " *.test.mjs; }
mapfile -t once < <(marked once)
mapfile -t last < <(marked last)
mapfile -t pooled < <(marked pgbouncer)
mapfile -t each < <(ls *.test.mjs | grep -vxF -f <(marked once; marked last))
suites() { run node --test --test-concurrency=1 --test-timeout=300000 "$@"; }
for backend in native wasm; do
  echo "-- backend: $backend"
  USEBETTER_BINDING=$backend suites "${each[@]}"
done
echo "-- once: ${once[*]}"
suites "${once[@]}"
echo "-- the demo's scenario (examples/saas; exits non-zero if an expectation fails)"
node ../examples/saas/demo.mjs
echo "-- last: ${last[*]}"
suites "${last[@]}"

step "Cross-built linux-arm64-gnu addon loads under qemu-user"
"$REPO_ROOT/scripts/cross.sh"

step "Isolation and concurrency again, through PgBouncer in transaction mode"
(
  eval "$("$REPO_ROOT/scripts/pgbouncer.sh" up)"
  suites "${pooled[@]}"
)

# cargo: "test result: ok. N passed; M failed"; node: "# pass N" / "# fail M".
passed=$(awk '/^test result:/ {p+=$4} /^# pass / {p+=$3} END {print p+0}' "$LOG")
failed=$(awk '/^test result:/ {f+=$6} /^# fail / {f+=$3} END {print f+0}' "$LOG")
rm -f "$LOG"
echo
echo "$passed passed, $failed failed"
