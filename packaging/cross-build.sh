#!/usr/bin/env bash
# Builds static gatehouse binaries for Raspberry Pi OS and other ARM boards from an
# x86_64 machine, with cargo-zigbuild (zig as the cross C compiler for the bundled SQLite
# and ring's assembly) and musl targets (fully static, no glibc to match on the board).
#
#   packaging/cross-build.sh                 # aarch64 and armv7
#   packaging/cross-build.sh aarch64         # one of them
#
# Output: dist/gatehouse-aarch64, dist/gatehouse-armv7 (install them with
# packaging/install.sh on the board). Needs rustup (to add the targets), and installs
# cargo-zigbuild (cargo install) and zig (pip's `ziglang`) when missing.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

declare -A TARGETS=(
    [aarch64]=aarch64-unknown-linux-musl        # Raspberry Pi OS 64-bit, Pi 3/4/5
    [armv7]=armv7-unknown-linux-musleabihf      # Raspberry Pi OS 32-bit, Pi 2/3/4
)
wanted=("${@:-aarch64 armv7}")
# shellcheck disable=SC2206 # split the default on purpose
wanted=(${wanted[*]})

command -v cargo-zigbuild >/dev/null || cargo install --locked cargo-zigbuild
command -v zig >/dev/null || python3 -m ziglang version >/dev/null 2>&1 ||
    python3 -m pip install --user ziglang

mkdir -p dist
for arch in "${wanted[@]}"; do
    target="${TARGETS[$arch]:-}"
    [[ -n $target ]] || { echo "unknown architecture $arch (aarch64, armv7)" >&2; exit 1; }
    rustup target add "$target"
    cargo zigbuild --release --locked --target "$target"
    cp "target/$target/release/gatehouse" "dist/gatehouse-$arch"
    echo "dist/gatehouse-$arch: $(file -b "dist/gatehouse-$arch" | cut -d, -f1-2)"
done
