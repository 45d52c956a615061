#!/usr/bin/env bash
# Cross-builds the native addons (the library's and the command-line tools') for linux-arm64-gnu
# into their per-platform packages and proves each loads: under qemu-user, a small arm64 program
# dlopens it (a stub library stands in for the Node-API symbols Node would provide) and finds its
# module entry point. Installs Debian's
# cross linker and qemu-user when missing (as root).
#   scripts/cross.sh [--release]
set -euo pipefail
source "$(dirname "$0")/env.sh"
cd "$REPO_ROOT"

missing=()
command -v aarch64-linux-gnu-gcc >/dev/null || missing+=(gcc-aarch64-linux-gnu)
command -v qemu-aarch64 >/dev/null || missing+=(qemu-user)
if [ ${#missing[@]} -gt 0 ]; then
  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null
fi
rustup target list --installed | grep -qx aarch64-unknown-linux-gnu || rustup target add aarch64-unknown-linux-gnu

profile=dev; outdir=debug
if [ "${1:-}" = "--release" ]; then profile=release; outdir=release; fi
CARGO_TARGET_AARCH64_UNKNOWN_LINUX_GNU_LINKER=aarch64-linux-gnu-gcc \
  cargo build -p usebetter-node -p usebetter-cli-node --profile "$profile" --target aarch64-unknown-linux-gnu
built="$CARGO_TARGET_DIR/aarch64-unknown-linux-gnu/$outdir"
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
aarch64-linux-gnu-gcc -o "$work/smoke" scripts/cross/napi-load-smoke.c -ldl
for pair in "libusebetter_node.so:npm/core-linux-arm64-gnu/usebetter.linux-arm64-gnu.node" \
            "libusebetter_cli_node.so:npm/cli-linux-arm64-gnu/usebetter-cli.linux-arm64-gnu.node"; do
  addon="${pair#*:}"
  cp "$built/${pair%%:*}" "$addon"
  aarch64-linux-gnu-nm -D --undefined-only "$addon" | awk '$2 ~ /^(napi_|node_api_)/ {print "void " $2 "(void) {}"}' > "$work/stub.c"
  aarch64-linux-gnu-gcc -shared -fPIC -o "$work/libnapistub.so" "$work/stub.c"
  qemu-aarch64 -L /usr/aarch64-linux-gnu "$work/smoke" "$work/libnapistub.so" "$addon"
  echo "cross: $addon ($(stat -c %s "$addon") B) loads on arm64"
done
