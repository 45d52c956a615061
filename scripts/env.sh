# Shared settings for the scripts; sourced, not run.
# Build outputs and tools live outside the clone so repeated runs on one machine are fast.
export USEBETTER_CACHE=${USEBETTER_CACHE:-/var/tmp/usebetter-rs}
export CARGO_TARGET_DIR=${CARGO_TARGET_DIR:-$USEBETTER_CACHE/target}
export CARGO_INCREMENTAL=${CARGO_INCREMENTAL:-0}
export PATH="$USEBETTER_CACHE/tools/bin:$HOME/.cargo/bin:$PATH"
# The Python that tests use for independent checks (dkimpy verifies our DKIM signatures).
export USEBETTER_PYTHON=${USEBETTER_PYTHON:-$USEBETTER_CACHE/pyvenv/bin/python3}
WASM_BINDGEN_VERSION=0.2.130
REPO_ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
export REPO_ROOT
