#!/usr/bin/env bash
# Runs a Windows program built here (takedown.exe) under Wine.
#
#   tests/windows/run.sh PATH/TO/PROGRAM.exe [ARGS...]
#
# Rust's standard library imports ProcessPrng from bcryptprimitives.dll,
# which Wine 8.0 does not have; the program would not start. This script
# builds the stand-in DLL from bcryptprimitives.c with MinGW (every run,
# so no binary is kept in the repository) and puts it beside the program,
# where Windows' loader looks first. Real Windows has the DLL; the stand-in
# is for Wine only and never shipped.
#
# Each run gets a throwaway Wine prefix (removed at exit) unless
# WINEPREFIX is set, so a test never sees what another left behind. The
# program's exit status is this script's.
set -euo pipefail

if [ $# -lt 1 ]; then
  echo "usage: $0 PROGRAM.exe [ARGS...]" >&2
  exit 2
fi
exe="$1"
shift
if [ ! -f "$exe" ]; then
  echo "$0: $exe: no such program (build it with cargo build --target x86_64-pc-windows-gnu)" >&2
  exit 2
fi

here="$(cd "$(dirname "$0")" && pwd)"
cc="${MINGW_CC:-x86_64-w64-mingw32-gcc}"
if ! command -v "$cc" >/dev/null 2>&1; then
  echo "$0: $cc not found (Debian: gcc-mingw-w64-x86-64)" >&2
  exit 2
fi
# Debian's wine64 package keeps the 64-bit loader out of PATH.
wine="${WINE:-}"
if [ -z "$wine" ]; then
  if command -v wine64 >/dev/null 2>&1; then
    wine="$(command -v wine64)"
  elif [ -x /usr/lib/wine/wine64 ]; then
    wine=/usr/lib/wine/wine64
  else
    echo "$0: wine64 not found (Debian: wine64)" >&2
    exit 2
  fi
fi

dll="$(dirname "$exe")/bcryptprimitives.dll"
"$cc" -O2 -Wall -Wextra -Werror -shared -o "$dll.tmp" "$here/bcryptprimitives.c"
mv -f "$dll.tmp" "$dll"

# shellcheck disable=SC2317 # called by the trap below
cleanup() {
  if [ -n "${own_prefix:-}" ]; then
    # wineserver outlives the program for a few seconds; stop it first so
    # the prefix can go.
    WINEPREFIX="$own_prefix" "$(dirname "$wine")/wineserver" -k >/dev/null 2>&1 || true
    rm -rf "$own_prefix"
  fi
}
trap cleanup EXIT
if [ -z "${WINEPREFIX:-}" ]; then
  own_prefix="$(mktemp -d "${TMPDIR:-/tmp}/takedown-wine.XXXXXX")"
  export WINEPREFIX="$own_prefix"
fi
export WINEDEBUG=-all
# No Wine Mono or Gecko download prompts on a fresh prefix.
export WINEDLLOVERRIDES="${WINEDLLOVERRIDES:-mscoree,mshtml=}"

status=0
"$wine" "$exe" "$@" || status=$?
exit "$status"
