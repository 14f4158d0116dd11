#!/usr/bin/env bash
# Install what is missing, build, and open BitLens on a bundled example model.
# With no display (or with --cli) it prints the analyze report instead.
set -euo pipefail
cd "$(dirname "$0")"
packaging/deps.sh default

model="build/resources/models/forum_2layer_pad0.h5"
cli=0
args=()
for a in "$@"; do
  case "$a" in
    --cli) cli=1 ;;
    *) args+=("$a") ;;
  esac
done
[ ${#args[@]} -gt 0 ] && model="${args[0]}"

if [ "$cli" -eq 0 ] && [ -n "${DISPLAY:-}${WAYLAND_DISPLAY:-}" ] && [ -x build/app/gui/bitlens-gui ]; then
  exec build/app/gui/bitlens-gui "$model"
fi
exec build/app/cli/bitlens analyze "$model"
