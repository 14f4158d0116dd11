#!/usr/bin/env bash
# Shared set-up for ./run.sh and ./test.sh: install missing Debian packages, configure and build.
# Usage: packaging/deps.sh PRESET   (PRESET = default | asan)
set -euo pipefail

# Every package the build, the tests and the exported projects need. Keep in sync with README.md.
PACKAGES=(
  build-essential cmake ninja-build pkg-config
  libhdf5-dev nlohmann-json3-dev libzip-dev libfmt-dev libcli11-dev
  googletest libgtest-dev libbenchmark-dev
  clang libclang-rt-14-dev llvm-14
  qt6-base-dev libqt6opengl6-dev qt6-charts-dev qt6-svg-dev libgl-dev libgraphviz-dev
  gcc-arm-none-eabi libnewlib-arm-none-eabi qemu-system-arm
  dpkg-dev file
  python3 python3-numpy python3-h5py
)

missing=()
for p in "${PACKAGES[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  echo "bitlens: installing missing packages: ${missing[*]}"
  SUDO=""
  [ "$(id -u)" -eq 0 ] || SUDO="sudo"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}"
fi

preset="${1:-default}"
cmake --preset "$preset" >/dev/null
cmake --build --preset "$preset" -j "$(nproc)"
