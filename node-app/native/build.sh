#!/usr/bin/env bash
# Builds the BIZRA native verifier (Rust N-API addon) from source and places it
# at node-app/native/bizra_native.node. Idempotent: cargo rebuilds only what changed.
#
# Portability: no -C target-cpu flag is set. On x86_64 curve25519-dalek is built
# with its AVX-512 IFMA backend compiled in (cfg curve25519_dalek_backend="avx512",
# which keeps the AVX2 one as well) and picks at run time by CPU feature
# detection: AVX-512 IFMA when the CPU has avx512ifma + avx512vl, else AVX2, else
# portable 64-bit code; `backendInfo().curveBackend` names the one that runs.
# BIZRA_NATIVE_DALEK_BACKEND=simd|serial builds without AVX-512 (for A/B runs;
# with BIZRA_NATIVE_OUT=<file.node> the result goes elsewhere).
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

backend="${BIZRA_NATIVE_DALEK_BACKEND:-}"
if [ -z "$backend" ] && [ "$(uname -m)" = "x86_64" ]; then
  # The AVX-512 backend needs rustc >= 1.89 (stable AVX-512 intrinsics); older compilers get the AVX2 default.
  minor="$(rustc --version | sed -E 's/^rustc 1\.([0-9]+).*/\1/')"
  if [ "${minor:-0}" -ge 89 ] 2>/dev/null; then backend="avx512"; else echo "build.sh: rustc older than 1.89, building without the AVX-512 IFMA backend" >&2; fi
fi
case "$backend" in
  ""|avx512|simd|serial) ;;
  *) echo "build.sh: BIZRA_NATIVE_DALEK_BACKEND must be avx512, simd or serial, got '$backend'" >&2; exit 1 ;;
esac
export CARGO_TARGET_DIR="$here/target"
if [ -n "${BIZRA_NATIVE_DALEK_BACKEND:-}" ]; then CARGO_TARGET_DIR="$here/target-$backend"; fi
rustflags="${RUSTFLAGS:-}"
if [ -n "$backend" ]; then rustflags="$rustflags --cfg curve25519_dalek_backend=\"$backend\""; fi
if [ -n "${BIZRA_NATIVE_RUSTFLAGS:-}" ]; then rustflags="$rustflags ${BIZRA_NATIVE_RUSTFLAGS}"; fi
export RUSTFLAGS="$rustflags"

cargo build --release --locked --manifest-path "$here/Cargo.toml"

case "$(uname -s)" in
  Darwin) lib="libbizra_native.dylib" ;;
  MINGW*|MSYS*|CYGWIN*) lib="bizra_native.dll" ;;
  *) lib="libbizra_native.so" ;;
esac

src="$CARGO_TARGET_DIR/release/$lib"
dst="${BIZRA_NATIVE_OUT:-$here/bizra_native.node}"
# Copy to a temp name then rename, so a running process never sees a half-written file.
cp "$src" "$dst.tmp.$$"
mv -f "$dst.tmp.$$" "$dst"
echo "build.sh: built $dst"
