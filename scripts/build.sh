#!/usr/bin/env bash
# Builds the native addon and the WebAssembly package into npm/core.
#   scripts/build.sh            debug addon (fast), optimised wasm
#   scripts/build.sh --release  release addon (LTO) as shipped
set -euo pipefail
source "$(dirname "$0")/env.sh"
cd "$REPO_ROOT"

profile=dev; outdir=debug
if [ "${1:-}" = "--release" ]; then profile=release; outdir=release; fi

cargo build -p usebetter-node --profile "$profile"
mkdir -p npm/core/native
triple="$(node -p 'process.platform + "-" + process.arch + (process.platform === "linux" ? (process.report.getReport().header.glibcVersionRuntime ? "-gnu" : "-musl") : "")')"
cp "$CARGO_TARGET_DIR/$outdir/libusebetter_node.so" "npm/core/native/usebetter.$triple.node"
# The per-platform package npm installs as an optional dependency of @usebetter-rs/core.
if [ -f "npm/core-$triple/package.json" ]; then
  cp "npm/core/native/usebetter.$triple.node" "npm/core-$triple/usebetter.$triple.node"
fi

# Two WebAssembly builds: the edge one (no SQL analyser, ES module initialised from a compiled
# module, for workerd / edge-light / browsers) and the full one for Node.
wasm="$CARGO_TARGET_DIR/wasm32-unknown-unknown/wasm-release/usebetter_wasm.wasm"
optimise() {
  # Debian's wasm-opt is too old and produces a module that fails at instantiation; use npm's.
  node_modules/.bin/wasm-opt -Oz --enable-bulk-memory --enable-nontrapping-float-to-int \
    --enable-sign-ext --enable-mutable-globals --enable-reference-types --enable-multivalue "$1" -o "$1"
}
cargo build -p usebetter-wasm --profile wasm-release --target wasm32-unknown-unknown --no-default-features
rm -rf npm/core/wasm-edge
wasm-bindgen --target web --out-dir npm/core/wasm-edge "$wasm"
optimise npm/core/wasm-edge/usebetter_wasm_bg.wasm
cargo build -p usebetter-wasm --profile wasm-release --target wasm32-unknown-unknown
rm -rf npm/core/wasm
wasm-bindgen --target nodejs --out-dir npm/core/wasm "$wasm"
optimise npm/core/wasm/usebetter_wasm_bg.wasm
# TypeScript packages (CommonJS + declarations; the ESM entries re-export them).
node_modules/.bin/tsc -p npm/tenant/tsconfig.json
node_modules/.bin/tsc -p npm/audit/tsconfig.json
echo "build: native $(stat -c %s npm/core/native/usebetter.$triple.node) B, wasm $(stat -c %s npm/core/wasm/usebetter_wasm_bg.wasm) B, edge wasm $(stat -c %s npm/core/wasm-edge/usebetter_wasm_bg.wasm) B"
