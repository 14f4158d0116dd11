#!/bin/sh
# Regenerates the measured tables of docs/performance.md: the kernel suite (kernels/bench/
# bench_main.c under QEMU) and whole exported networks, step by step (bitlens validate --target
# qemu-m4 / qemu-m7), with the kernel each step ran. Instruction counts are exact (-icount).
#   kernels/bench/perf_table.sh            print the tables (markdown)
#   kernels/bench/perf_table.sh --update   also replace them in docs/performance.md (between the
#                                          "perf_table.sh" markers)
# Needs the default build (build/app/cli/bitlens, build/resources/models), arm-none-eabi-gcc and
# qemu-system-arm. Takes about two minutes.
set -eu
root=$(cd "$(dirname "$0")/../.." && pwd)
build=${BITLENS_BUILD:-$root/build}
bitlens=$build/app/cli/bitlens
models=$build/resources/models
update=0
[ "${1:-}" = "--update" ] && update=1
for f in "$bitlens" "$models/mnist_tutorial.h5"; do
  [ -e "$f" ] || { echo "perf_table.sh: $f not found; build first (cmake --build --preset default)" >&2; exit 2; }
done
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

sh "$root/kernels/bench/run_qemu.sh" bench "$tmp/kb" > "$tmp/bench.txt"
grep -q "MISMATCH" "$tmp/bench.txt" && grep "MISMATCH" "$tmp/bench.txt" >&2

# bench.txt: "BitLens kernels, cortex-m4" then rows "NAME  N instr  X MAC/instr  ref: ...", then m7.
suite() {
  awk '
    function commas(n,  s, r) { s = sprintf("%d", n); r = ""; while (length(s) > 3) { r = "," substr(s, length(s) - 2) r; s = substr(s, 1, length(s) - 3) } return s r }
    /^BitLens kernels, / { cpu = $3; next }
    / instr / && !/calibration/ {
      line = $0
      i = index(line, "  "); name = substr(line, 1, i - 1)
      n = split(line, f, /[ ]+/)
      for (k = 1; k <= n; k++) if (f[k] == "instr") { cnt = f[k - 1]; mpi = f[k + 1] }
      ref = line; sub(/.*ref: /, "", ref)
      key[name] = 1; if (!(name in order)) { order[name] = ++rows; names[rows] = name }
      c[name, cpu] = cnt; m[name, cpu] = mpi; r[name, cpu] = ref
    }
    END {
      print "| layer | variant | M4 instructions | M4 MAC/instr | M7 instructions | M7 MAC/instr | checked on target |"
      print "|---|---|---:|---:|---:|---:|---|"
      for (k = 1; k <= rows; k++) {
        nm = names[k]; v = "-"
        if (nm ~ / (patch|bitsliced)$/) { v = nm; sub(/.* /, "", v); sub(/ (patch|bitsliced)$/, "", nm) }
        printf "| %s | %s | %s | %s | %s | %s | %s |\n", nm, v, commas(c[names[k], "cortex-m4"]), m[names[k], "cortex-m4"],
               commas(c[names[k], "cortex-m7"]), m[names[k], "cortex-m7"], r[names[k], "cortex-m4"] == "identical" && r[names[k], "cortex-m7"] == "identical" ? "ref: identical" : "see note"
      }
    }' "$tmp/bench.txt"
}

# One network: the per-step table of both targets side by side, then the totals.
network() {
  model=$1
  for t in qemu-m4 qemu-m7; do
    "$bitlens" validate "$models/$model.h5" --target "$t" > "$tmp/$model.$t.txt" 2>&1 ||
      { echo "perf_table.sh: validate $model --target $t failed:" >&2; tail -5 "$tmp/$model.$t.txt" >&2; exit 1; }
  done
  macc=$("$bitlens" analyze "$models/$model.h5" | awk -F: '/^macc/ { gsub(/[ ,]/, "", $2); print $2; exit }')
  awk -v model="$model" -v macc="$macc" '
    function commas(n,  s, r) { s = sprintf("%d", n); r = ""; while (length(s) > 3) { r = "," substr(s, length(s) - 2) r; s = substr(s, 1, length(s) - 3) } return s r }
    FNR == 1 { file++ }
    /^Instructions per step/ { on = 1; next }
    on && /^step/ { next }
    on && /sum of steps/ { on = 0; next }
    on && NF >= 5 && $1 ~ /^[0-9]+$/ {
      s = $1; node[s] = $2; kern[s] = $3; gsub(/,/, "", $4); cnt[file, s] = $4; mpi[file, s] = $6
      if (s + 1 > steps) steps = s + 1
    }
    /whole inference/ { t = $NF; gsub(/,/, "", t); total[file] = t }
    END {
      printf "**%s** (%s MACC): Cortex-M4 %s instructions (%.2f MACC/instr), Cortex-M7 %s (%.2f)\n\n",
             model, commas(macc), commas(total[1]), macc / total[1], commas(total[2]), macc / total[2]
      print "| step | node | kernel | M4 instructions | M4 % | M4 MACC/instr | M7 instructions |"
      print "|---:|---|---|---:|---:|---:|---:|"
      for (s = 0; s < steps; s++)
        printf "| %d | %s | `%s` | %s | %.1f | %s | %s |\n", s, node[s], kern[s], commas(cnt[1, s]),
               100 * cnt[1, s] / total[1], mpi[1, s], commas(cnt[2, s])
      print ""
    }' "$tmp/$model.qemu-m4.txt" "$tmp/$model.qemu-m7.txt"
}

{
  echo "<!-- perf_table.sh: generated $(date -u +%Y-%m-%d) by kernels/bench/perf_table.sh; do not edit by hand -->"
  echo
  echo "### Kernel suite (instructions of one call; MAC/instr counts every tap, padded ones included)"
  echo
  suite
  echo
  echo "### Whole exported networks (one inference of the firmware, vector 0)"
  echo
  for m in forum_2layer_pad0 forum_2layer_padp1 forum_2layer_padm1 mnist_tutorial quicknet_style \
           st_resnet_8_hybrid_v1 st_resnet_8_hybrid_v2; do network "$m"; done
  echo "<!-- perf_table.sh: end -->"
} > "$tmp/tables.md"

cat "$tmp/tables.md"
if [ "$update" -eq 1 ]; then
  doc=$root/docs/performance.md
  grep -q "^<!-- perf_table.sh: generated" "$doc" || { echo "perf_table.sh: no markers in $doc" >&2; exit 2; }
  awk -v tables="$tmp/tables.md" '
    /^<!-- perf_table.sh: generated/ { while ((getline l < tables) > 0) print l; skip = 1; next }
    /^<!-- perf_table.sh: end -->/ { skip = 0; next }
    !skip { print }' "$doc" > "$tmp/doc.md"
  cp "$tmp/doc.md" "$doc"
  echo "perf_table.sh: updated $doc" >&2
fi
