#!/bin/sh
# Builds the kernel benchmark firmware for Cortex-M4 (mps2-an386) and Cortex-M7 (mps2-an500)
# and runs it under QEMU with deterministic instruction counting. Prints the numbers only.
# Usage: kernels/bench/run_qemu.sh [build dir]   (default: /tmp/bitlens-kernel-bench)
set -eu
here=$(cd "$(dirname "$0")" && pwd)
out=${1:-/tmp/bitlens-kernel-bench}
mkdir -p "$out"
common="-std=c99 -O2 -ffp-contract=off -Wall -Wextra -Werror -mthumb -mfloat-abi=hard -I$here/../include"
build() { # name cpu fpu
  arm-none-eabi-gcc $common -mcpu=$2 -mfpu=$3 -DBENCH_CPU="\"$2\"" \
    "$here"/../src/*.c "$here/bench_main.c" "$here/startup.c" \
    -T "$here/link.ld" --specs=rdimon.specs -lm -o "$out/$1.elf"
}
run() { # name machine
  timeout 600 qemu-system-arm -machine "$2" -nographic -monitor none -serial none \
    -semihosting-config enable=on,target=native -icount shift=7 -kernel "$out/$1.elf"
}
build bench_m4 cortex-m4 fpv4-sp-d16
build bench_m7 cortex-m7 fpv5-d16
run bench_m4 mps2-an386
run bench_m7 mps2-an500
