#!/usr/bin/env bash
# Runs everything CI runs, on a fresh machine too: set-up, lint, Rust tests, build, the JS suite
# once per backend plus the parity suite, all against a private PostgreSQL cluster.
set -euo pipefail
source "$(dirname "$0")/env.sh"
cd "$REPO_ROOT"

step() { printf '\n== %s\n' "$*"; }

step "set-up"
scripts/setup.sh

step "format and lint"
cargo fmt --all -- --check
cargo clippy --workspace --all-targets -- -D warnings
cargo clippy -p usebetter-wasm --target wasm32-unknown-unknown -- -D warnings
node_modules/.bin/tsc -p npm/core/tsconfig.json

step "Rust tests"
cargo test --workspace --all-features

step "build addon and wasm"
scripts/build.sh

step "PostgreSQL"
scripts/pg.sh up >/dev/null
trap '"$REPO_ROOT/scripts/pg.sh" down' EXIT
source "$USEBETTER_CACHE/pg/env"

step "JS tests (native, then wasm)"
cd js-tests
for backend in native wasm; do
  echo "-- backend: $backend"
  USEBETTER_BINDING=$backend node --test --test-concurrency=1 core.test.mjs rls.test.mjs
done
echo "-- parity: native vs wasm"
node --test parity.test.mjs
