#!/usr/bin/env bash
# Installs what a fresh machine lacks: the wasm target, the pinned wasm-bindgen CLI, the
# Python checkers the tests use, and the npm dependencies. Idempotent and quick when everything is present.
set -euo pipefail
source "$(dirname "$0")/env.sh"
cd "$REPO_ROOT"

command -v cargo >/dev/null || { echo "setup: cargo not found; install Rust with rustup" >&2; exit 1; }
command -v node >/dev/null || { echo "setup: node not found; install Node.js 20 or newer" >&2; exit 1; }

rustup target list --installed 2>/dev/null | grep -qx wasm32-unknown-unknown \
  || rustup target add wasm32-unknown-unknown

if ! wasm-bindgen --version 2>/dev/null | grep -q " $WASM_BINDGEN_VERSION\$"; then
  echo "setup: building wasm-bindgen-cli $WASM_BINDGEN_VERSION (about 2 minutes, once per machine)"
  # No --locked: the CLI's lockfile pins a crate version this registry mirror lacks.
  cargo install wasm-bindgen-cli --version "=$WASM_BINDGEN_VERSION" --root "$USEBETTER_CACHE/tools" --quiet
fi

# dkimpy (with PyNaCl for ed25519) in a venv of its own, pinned.
if ! "$USEBETTER_PYTHON" -c "import dkim, nacl" 2>/dev/null; then
  python3 -m venv --help >/dev/null 2>&1 \
    || { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq python3-venv >/dev/null; }
  python3 -m venv "$USEBETTER_CACHE/pyvenv"
  "$USEBETTER_CACHE/pyvenv/bin/pip" install --quiet --disable-pip-version-check dkimpy==1.1.8 pynacl==1.6.2
fi

if [ ! -d node_modules ] || [ package-lock.json -nt node_modules/.package-lock.json ]; then
  npm ci --no-audit --no-fund --loglevel=error
fi
