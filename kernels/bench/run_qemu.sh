#!/bin/sh
# Builds the kernel firmware for Cortex-M4 (mps2-an386) and Cortex-M7 (mps2-an500) and runs it
# under QEMU. Prints numbers only; the exit status is non-zero if a check failed.
#   kernels/bench/run_qemu.sh bench    [out dir]  instruction counts of the performance suite
#   kernels/bench/run_qemu.sh selftest [out dir]  random layers, optimized == reference on target
#   kernels/bench/run_qemu.sh bench DIR build       build the firmware only (ctest: the suite
#                                                   compiles with -Werror although it is run by hand)
# Prints "SKIPPED: ..." and exits 0 when the cross compiler or QEMU is missing.
set -eu
here=$(cd "$(dirname "$0")" && pwd)
what=${1:-bench}
out=${2:-/tmp/bitlens-kernel-bench}
for tool in arm-none-eabi-gcc qemu-system-arm; do
  command -v $tool >/dev/null 2>&1 || { echo "SKIPPED: $tool not found"; exit 0; }
done
mkdir -p "$out"
common="-std=c99 -O2 -ffp-contract=off -Wall -Wextra -Werror -mthumb -mfloat-abi=hard -I$here/../include"
build() { # name cpu fpu
  arm-none-eabi-gcc $common -mcpu=$2 -mfpu=$3 -DBENCH_CPU="\"$2\"" \
    "$here"/../src/*.c "$here/${what}_main.c" "$here/startup.c" \
    -T "$here/link.ld" --specs=rdimon.specs -lm -o "$out/$1.elf"
}
run() {
  elf=$1 machine=$2
  shift 2
  timeout 900 qemu-system-arm -machine "$machine" -nographic -monitor none -serial none \
    -semihosting-config enable=on,target=native "$@" -kernel "$out/$elf.elf"
}
build ${what}_m4 cortex-m4 fpv4-sp-d16
build ${what}_m7 cortex-m7 fpv5-d16
[ "${3:-}" = build ] && { echo "built $out/${what}_m4.elf and $out/${what}_m7.elf"; exit 0; }
if [ "$what" = bench ]; then
  run bench_m4 mps2-an386 -icount shift=7
  run bench_m7 mps2-an500 -icount shift=7
else
  run ${what}_m4 mps2-an386
  run ${what}_m7 mps2-an500
fi
