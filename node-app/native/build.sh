#!/usr/bin/env bash
# Builds the BIZRA native verifier (Rust N-API addon) from source and places it
# at node-app/native/bizra_native.node. Idempotent: cargo rebuilds only what changed.
#
# Portability: no -C target-cpu flag is set. curve25519-dalek picks its AVX2
# ("simd") backend at run time via CPU feature detection, so the same .node
# runs on any x86_64 CPU (AVX2 when present, portable 64-bit code otherwise).
# Set BIZRA_NATIVE_RUSTFLAGS to add flags (e.g. "-C target-cpu=native"; the
# binary then only runs on CPUs with the same features as the build host).
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
cd "$here"

if ! command -v cargo >/dev/null 2>&1; then
  if [ -x "$HOME/.cargo/bin/cargo" ]; then
    export PATH="$HOME/.cargo/bin:$PATH"
  else
    echo "build.sh: cargo not found (install Rust via rustup)" >&2
    exit 1
  fi
fi

export CARGO_TARGET_DIR="$here/target"
if [ -n "${BIZRA_NATIVE_RUSTFLAGS:-}" ]; then
  export RUSTFLAGS="${RUSTFLAGS:-} ${BIZRA_NATIVE_RUSTFLAGS}"
fi

cargo build --release --locked --manifest-path "$here/Cargo.toml"

case "$(uname -s)" in
  Darwin) lib="libbizra_native.dylib" ;;
  MINGW*|MSYS*|CYGWIN*) lib="bizra_native.dll" ;;
  *) lib="libbizra_native.so" ;;
esac

src="$CARGO_TARGET_DIR/release/$lib"
dst="$here/bizra_native.node"
# Copy to a temp name then rename, so a running process never sees a half-written file.
cp "$src" "$dst.tmp.$$"
mv -f "$dst.tmp.$$" "$dst"
echo "build.sh: built $dst"
