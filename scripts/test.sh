#!/usr/bin/env bash
# The one test command (README, .ci/run). On a fresh Debian machine it
# installs what is missing (apt, when root), starts the services the tests
# need (and stops what it started), builds once and runs every check.
#
#   scripts/test.sh          the default run (CI): fast, < 30 min on 2 cores
#   scripts/test.sh --long   adds benchmarks, 1 GB documents, fuzzing and
#                            crash loops; writes docs/benchmarks.md
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$here"

long=0
for arg in "$@"; do
  case "$arg" in
    --long) long=1 ;;
    -h|--help) sed -n '2,9p' "$0"; exit 0 ;;
    *) echo "test.sh: unknown argument '$arg' (use --long or nothing)" >&2; exit 2 ;;
  esac
done
export DSP_TEST_LONG=$long
# One build from scratch: incremental artifacts only cost disk and time here.
export CARGO_INCREMENTAL=0

# ---------------------------------------------------------------- timing
declare -a phase_names=() phase_secs=()
phase_start=0
current_phase=""
phase() {
  end_phase
  current_phase=$1
  phase_start=$(date +%s)
  printf '\n==> %s\n' "$current_phase"
}
end_phase() {
  if [ -n "$current_phase" ]; then
    phase_names+=("$current_phase")
    phase_secs+=($(( $(date +%s) - phase_start )))
    current_phase=""
  fi
}
summary() {
  local rc=$?
  end_phase
  printf '\n==> phase times\n'
  local i
  for i in "${!phase_names[@]}"; do
    printf '  %-40s %5ss\n' "${phase_names[$i]}" "${phase_secs[$i]}"
  done
  stop_services
  if [ $rc -eq 0 ]; then echo "==> all checks passed"; else echo "==> FAILED (exit $rc)"; fi
}

# ---------------------------------------------------------------- packages
# Debian packages the tests use, by the command that proves each present.
declare -A needed=(
  [xmllint]=libxml2-utils
  [xmlsec1]=xmlsec1
  [pkg-config]=pkg-config
  [openssl]=openssl
  [python3]=python3
  [dbus-daemon]=dbus-daemon
  [chromium]=chromium
  [certutil]=libnss3-tools
  [gcc]=gcc
  [g++]=g++
  [pcscd]=pcscd
  [softhsm2-util]=softhsm2
  [pkcs11-tool]=opensc
  [mcs]=mono-mcs
  [mono]=mono-runtime
  [fpc]=fp-compiler
  [valgrind]=valgrind
  [nm]=binutils
)
# Packages that bring no command, by a file that proves each present.
declare -A needed_files=(
  [/usr/include/PCSC/winscard.h]=libpcsclite-dev
  [/etc/reader.conf.d/vpcd]=vsmartcard-vpcd
  # The Python binding is installed the way a newcomer would (pip, offline).
  [/usr/lib/python3/dist-packages/pip/__init__.py]=python3-pip
  [/usr/lib/python3/dist-packages/setuptools/__init__.py]=python3-setuptools
  [/usr/lib/python3/dist-packages/wheel/__init__.py]=python3-wheel
)
install_missing() {
  local missing=() cmd
  for cmd in "${!needed[@]}"; do
    command -v "$cmd" >/dev/null 2>&1 || missing+=("${needed[$cmd]}")
  done
  local file
  for file in "${!needed_files[@]}"; do
    [ -e "$file" ] || missing+=("${needed_files[$file]}")
  done
  [ ${#missing[@]} -eq 0 ] && return 0
  if [ "$(id -u)" -ne 0 ]; then
    echo "test.sh: missing packages: ${missing[*]}; run as root or: sudo apt-get install ${missing[*]}" >&2
    exit 1
  fi
  echo "installing: ${missing[*]}"
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
}

# ---------------------------------------------------------------- services
work="$here/.test-work"
started_pids=()
started_pcscd=0
stop_services() {
  local pid
  for pid in "${started_pids[@]:-}"; do
    [ -n "$pid" ] && kill "$pid" 2>/dev/null || true
  done
  # The card tests restart pcscd themselves: stop it by name.
  if [ "$started_pcscd" = 1 ]; then pkill -x pcscd 2>/dev/null || true; fi
}
# pcscd in the foreground with vpcd's two virtual readers (the card tests
# insert the virtual LuxTrust card into them).
start_pcscd() {
  if pgrep -x pcscd >/dev/null 2>&1; then return 0; fi
  local pcscd
  pcscd=$(command -v pcscd || echo /usr/sbin/pcscd)
  "$pcscd" -f -a > "$work/pcscd.log" 2>&1 &
  started_pids+=($!)
  started_pcscd=1
  local i
  for i in $(seq 1 50); do
    [ -S /run/pcscd/pcscd.comm ] && return 0
    sleep 0.1
  done
  echo "test.sh: pcscd did not start; see $work/pcscd.log" >&2
  exit 1
}
trap summary EXIT

# ---------------------------------------------------------------- benchmarks
# Each benchmark writes its section (figures as ratios against a baseline
# measured in the same run) to target/bench-results/<name>.md; the long run
# gathers them into docs/benchmarks.md.
collect_benchmarks() {
  {
    echo "# Benchmarks"
    echo
    echo "Written by \`scripts/test.sh --long\` on $(date -u +%Y-%m-%d) ($(nproc) cores, $(uname -m));"
    echo "each figure is compared with a baseline measured in the same run. Do not edit by hand."
    local f
    for f in target/bench-results/*.md; do
      [ -f "$f" ] || continue
      echo
      cat "$f"
    done
  } > docs/benchmarks.md
  echo "wrote docs/benchmarks.md"
}

# ---------------------------------------------------------------- run
phase "packages"
install_missing
mkdir -p "$work"
start_pcscd
# Tests that need a tool fail instead of skipping when it is missing.
export DSP_REQUIRE_TOOLS=1
# Every feature: the PC/SC card layer is not in the default build.
features=(--features dspconnectd/pcsc)

phase "format"
cargo fmt --all -- --check

phase "build (tests, all targets)"
cargo build --workspace --all-targets --locked "${features[@]}"

phase "C header (cbindgen ${CBINDGEN_VERSION:=0.29.2}, pinned)"
if [ "$(cbindgen --version 2>/dev/null)" != "cbindgen $CBINDGEN_VERSION" ]; then
  cargo install --locked --quiet cbindgen --version "$CBINDGEN_VERSION"
fi
cbindgen --quiet --config cbindgen.toml --output target/dspconnect.h.generated
if ! diff -u include/dspconnect.h target/dspconnect.h.generated; then
  echo "include/dspconnect.h is stale: run cbindgen --config cbindgen.toml --output include/dspconnect.h" >&2
  exit 1
fi

phase "clippy"
cargo clippy --workspace --all-targets --locked "${features[@]}" -- -D warnings
# A production build leaves the embedded sandbox out.
cargo clippy --locked -p dspconnectd --no-default-features --features pcsc --lib --bins -- -D warnings

phase "tests"
cargo test --workspace --locked --no-fail-fast "${features[@]}"

if [ "$long" = 1 ]; then
  # Benchmarks and the crash campaign write their results here.
  rm -rf target/bench-results
  mkdir -p target/bench-results
  phase "long: ignored tests (big documents, crash loops)"
  cargo test --workspace --locked --release "${features[@]}" -- --ignored

  phase "long: benchmarks"
  cargo bench --locked -p ihe --bench mtom_memory
  cargo bench --locked -p dspconnectd --bench daemon_overhead
  cargo bench --locked -p dspconnectd --bench drop_folder
  cargo bench --locked -p dspconnect --bench ffi_status
  cargo build --locked --release -p dspconnect-sandbox --bin dsp-virtual-card
  cargo bench --locked -p dspconnectd --features pcsc --bench card_pcsc
  collect_benchmarks

  phase "long: fuzzing (${DSP_FUZZ_SECONDS:-60}s per target)"
  scripts/fuzz.sh "${DSP_FUZZ_SECONDS:-60}"
fi
