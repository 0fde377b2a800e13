#!/usr/bin/env bash
# Fuzz the ihe readers (targets registered in fuzz/src/targets.rs).
#
#   scripts/fuzz.sh [SECONDS]   build once, then fuzz every target SECONDS
#                               each (default 60) with cargo-fuzz/libFuzzer
#   scripts/fuzz.sh --replay    quick regression mode: replay the committed
#                               seeds (fuzz/seeds/<target>/) through every
#                               target as an ordinary cargo test (seconds)
#
# The machine's toolchain is stable (no nightly can be installed); cargo-fuzz
# needs nightly flags (-Zsanitizer=address), which RUSTC_BOOTSTRAP=1 enables
# on stable, for the fuzz build only. cargo-fuzz is installed when missing.
# Corpora grow in fuzz/corpus/<target>/ and crashes land in
# fuzz/artifacts/<target>/ (both git-ignored); a crash fails the script and
# prints the command that reproduces it.
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$here"

if [ "${1:-}" = "--replay" ]; then
  exec cargo test -p ihe --test fuzz_seeds
fi
case "${1:-60}" in
  ''|*[!0-9]*) echo "fuzz.sh: SECONDS must be a whole number (or use --replay)" >&2; exit 2 ;;
esac
seconds=${1:-60}

if ! command -v cargo-fuzz >/dev/null 2>&1; then
  echo "==> installing cargo-fuzz"
  cargo install cargo-fuzz --locked
fi
if ! command -v c++ >/dev/null 2>&1; then
  echo "fuzz.sh: libFuzzer is C++: install a C++ compiler (Debian: g++)" >&2
  exit 1
fi

export RUSTC_BOOTSTRAP=1
cd fuzz
echo "==> building the fuzz binary"
cargo fuzz build --debug-assertions ihe_reader
host=$(rustc -vV | sed -n 's/^host: //p')
binary="target/$host/release/ihe_reader"
mapfile -t targets < <(IHE_FUZZ_TARGET=list "$binary")
[ ${#targets[@]} -gt 0 ] || { echo "fuzz.sh: no targets registered" >&2; exit 1; }

failed=()
for target in "${targets[@]}"; do
  echo "==> fuzzing '$target' for ${seconds}s"
  mkdir -p "corpus/$target" "artifacts/$target"
  if ! IHE_FUZZ_TARGET="$target" cargo fuzz run --debug-assertions ihe_reader \
      "corpus/$target" "seeds/$target" -- \
      -max_total_time="$seconds" -timeout=10 -print_final_stats=1 \
      -artifact_prefix="artifacts/$target/" 2>"artifacts/$target/last-run.log"; then
    tail -n 40 "artifacts/$target/last-run.log" >&2
    failed+=("$target")
  else
    grep -a '^Done\|stat::number_of_executed_units' "artifacts/$target/last-run.log" || true
  fi
done

if [ ${#failed[@]} -gt 0 ]; then
  for target in "${failed[@]}"; do
    for crash in artifacts/"$target"/crash-* artifacts/"$target"/timeout-* artifacts/"$target"/oom-*; do
      [ -e "$crash" ] || continue
      echo "crash in '$target': fuzz/$crash" >&2
      echo "  reproduce: cd fuzz && IHE_FUZZ_TARGET=$target RUSTC_BOOTSTRAP=1 cargo fuzz run --debug-assertions ihe_reader $crash" >&2
    done
  done
  echo "fuzz.sh: FAILED targets: ${failed[*]}" >&2
  exit 1
fi
echo "==> fuzzing passed: ${targets[*]} (${seconds}s each)"
