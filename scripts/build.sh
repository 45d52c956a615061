#!/usr/bin/env bash
# Builds the native addon and the WebAssembly package into npm/core.
#   scripts/build.sh                   debug addon (fast, for the tests), optimised wasm
#   scripts/build.sh --release         release addon (LTO, stripped) as shipped, optimised wasm
#   scripts/build.sh --platform-package  only the release addons, into this platform's packages
#                                      (their `prepack`: what `npm pack` ships is never a debug build)
# Two addons: the library's (usebetter-node: @usebetter-rs/core-<platform>) and the command-line
# tools' (usebetter-cli-node, with their PostgreSQL client: @usebetter-rs/cli-<platform>).
set -euo pipefail
source "$(dirname "$0")/env.sh"
cd "$REPO_ROOT"

profile=dev; outdir=debug; package_only=
case "${1:-}" in
  --release) profile=release; outdir=release ;;
  --platform-package) profile=release; outdir=release; package_only=1 ;;
  "") ;;
  *) echo "build.sh: unknown option $1 (use --release or --platform-package)" >&2; exit 1 ;;
esac

cargo build -p usebetter-node -p usebetter-cli-node --profile "$profile"
triple="$(node -p 'process.platform + "-" + process.arch + (process.platform === "linux" ? (process.report.getReport().header.glibcVersionRuntime ? "-gnu" : "-musl") : "")')"
addon="$CARGO_TARGET_DIR/$outdir/libusebetter_node.so"
cli_addon="$CARGO_TARGET_DIR/$outdir/libusebetter_cli_node.so"
case "${npm_package_name:-}" in
  "" | "@usebetter-rs/core-$triple" | "@usebetter-rs/cli-$triple") ;;
  *) if [ -n "$package_only" ]; then
       echo "build.sh: this machine builds @usebetter-rs/core-$triple and @usebetter-rs/cli-$triple, not $npm_package_name (arm64: scripts/cross.sh --release)" >&2
       exit 1
     fi ;;
esac
# The per-platform packages npm installs as optional dependencies get release builds only (the
# debug ones are ~100 MB of debug info); the loaders prefer the local builds in npm/core/native,
# so a stale copy there never shadows what the tests build.
if [ "$profile" = release ]; then
  [ -f "npm/core-$triple/package.json" ] && cp "$addon" "npm/core-$triple/usebetter.$triple.node"
  [ -f "npm/cli-$triple/package.json" ] && cp "$cli_addon" "npm/cli-$triple/usebetter-cli.$triple.node"
fi
if [ -n "$package_only" ]; then
  for pkg in "core-$triple/usebetter" "cli-$triple/usebetter-cli"; do
    [ -f "npm/${pkg%/*}/package.json" ] || { echo "build.sh: no package npm/${pkg%/*}" >&2; exit 1; }
    echo "build: npm/$pkg.$triple.node $(stat -c %s "npm/$pkg.$triple.node") B (release)" >&2
  done
  exit 0
fi
mkdir -p npm/core/native
cp "$addon" "npm/core/native/usebetter.$triple.node"
cp "$cli_addon" "npm/core/native/usebetter-cli.$triple.node"
USEBETTER_BINDING=native node scripts/cli-help.mjs

# Four WebAssembly builds: the edge one (no SQL analyser, ES module initialised from a compiled
# module, for workerd / edge-light / browsers), the email and webhooks packages' edge modules, and
# the full one for Node.
wasm="$CARGO_TARGET_DIR/wasm32-unknown-unknown/wasm-release/usebetter_wasm.wasm"
optimise() {
  # Debian's wasm-opt is too old and produces a module that fails at instantiation; use npm's.
  node_modules/.bin/wasm-opt -Oz --enable-bulk-memory --enable-nontrapping-float-to-int \
    --enable-sign-ext --enable-mutable-globals --enable-reference-types --enable-multivalue "$1" -o "$1"
}
cargo build -p usebetter-wasm --profile wasm-release --target wasm32-unknown-unknown --no-default-features --features suite
rm -rf npm/core/wasm-edge
wasm-bindgen --target web --out-dir npm/core/wasm-edge "$wasm"
optimise npm/core/wasm-edge/usebetter_wasm_bg.wasm
# The email package's edge module (`@usebetter-rs/core/email-binding` under the edge conditions): the
# email product without the analyser, DKIM and the webhooks engine, in a module of its own.
cargo build -p usebetter-wasm --profile wasm-release --target wasm32-unknown-unknown --no-default-features --features email-mime,email-events
rm -rf npm/core/wasm-email
wasm-bindgen --target web --out-name usebetter_email --out-dir npm/core/wasm-email "$wasm"
optimise npm/core/wasm-email/usebetter_email_bg.wasm
# The webhooks package's edge module (`@usebetter-rs/core/webhooks-binding`): the delivery
# engine and the receiver, without tenant, audit and email.
cargo build -p usebetter-wasm --profile wasm-release --target wasm32-unknown-unknown --no-default-features --features webhooks-engine
rm -rf npm/core/wasm-webhooks
wasm-bindgen --target web --out-name usebetter_webhooks --out-dir npm/core/wasm-webhooks "$wasm"
optimise npm/core/wasm-webhooks/usebetter_webhooks_bg.wasm
cargo build -p usebetter-wasm --profile wasm-release --target wasm32-unknown-unknown
rm -rf npm/core/wasm
wasm-bindgen --target nodejs --out-dir npm/core/wasm "$wasm"
optimise npm/core/wasm/usebetter_wasm_bg.wasm
# TypeScript packages (CommonJS + declarations; the ESM entries re-export them).
node_modules/.bin/tsc -p npm/tenant/tsconfig.json
node_modules/.bin/tsc -p npm/audit/tsconfig.json
node_modules/.bin/tsc -p npm/webhooks/tsconfig.json
node_modules/.bin/tsc -p npm/email/tsconfig.json
echo "build: native $(stat -c %s npm/core/native/usebetter.$triple.node) B (tools $(stat -c %s npm/core/native/usebetter-cli.$triple.node) B), wasm $(stat -c %s npm/core/wasm/usebetter_wasm_bg.wasm) B, edge wasm $(stat -c %s npm/core/wasm-edge/usebetter_wasm_bg.wasm) B, email edge wasm $(stat -c %s npm/core/wasm-email/usebetter_email_bg.wasm) B, webhooks edge wasm $(stat -c %s npm/core/wasm-webhooks/usebetter_webhooks_bg.wasm) B"
