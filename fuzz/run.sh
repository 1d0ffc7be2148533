#!/usr/bin/env bash
# Runs every fuzz target for a bounded time and reports execs, time and
# coverage per target. With a nightly toolchain: cargo-fuzz (libFuzzer,
# coverage-guided, debug assertions on, no sanitizer: the code under test is
# safe Rust). Without one: says so and runs the SAME target functions as
# property tests on stable (fuzz/tests/props.rs: corpus replay + proptest).
#
# Usage: fuzz/run.sh [SECONDS_PER_TARGET] [TARGET...]
#   SECONDS_PER_TARGET  default 25; TARGETs default: all of fuzz/Cargo.toml
# Environment: FUZZ_TARGET_DIR (default $HOME/.cache/educloud-fuzz-target),
#   FUZZ_NO_NIGHTLY=1 forces the stable fallback, FUZZ_REPORT=<file> appends
#   one line per target (for notes), FUZZ_CORPUS_DIR keeps what each run
#   learned (default: a scratch folder).
# Seeds are read from fuzz/corpus/<target>/ (committed; never written);
# new inputs go to a scratch folder. A crash is saved to
# fuzz/artifacts/<target>/ and the script exits 1 — copy the input to
# fuzz/regressions/<target>/ once the bug is fixed (replayed on stable).
# Last line: `fuzz: N passed, N failed`.
set -euo pipefail
cd "$(dirname "$0")"
secs="${1:-25}"
shift || true
targets=("$@")
if [ ${#targets[@]} -eq 0 ]; then
  mapfile -t targets < <(sed -n 's/^name = "\(.*\)"$/\1/p' Cargo.toml | grep -v '^educloud-fuzz$')
fi
export CARGO_TARGET_DIR="${FUZZ_TARGET_DIR:-$HOME/.cache/educloud-fuzz-target}"
export PATH="$HOME/.cargo/bin:$PATH"

passed=0
failed=0
report() { [ -n "${FUZZ_REPORT:-}" ] && echo "$*" >>"$FUZZ_REPORT"; echo "$*"; }

have_nightly() {
  [ "${FUZZ_NO_NIGHTLY:-}" != "1" ] && cargo +nightly --version >/dev/null 2>&1 &&
    command -v cargo-fuzz >/dev/null 2>&1
}

if ! have_nightly; then
  echo "NOTE: no nightly toolchain (or no cargo-fuzz): running the fuzz targets as property tests on stable" \
       "(install with: rustup toolchain install nightly && cargo install cargo-fuzz --locked)"
  cases=$((secs * 40))
  if PROPTEST_CASES="$cases" cargo test --release --manifest-path Cargo.toml --test props; then
    passed=${#targets[@]}
    report "fuzz (stable property tests, $cases cases per target): ${targets[*]}"
  else
    failed=${#targets[@]}
  fi
  echo "fuzz: $passed passed, $failed failed"
  [ "$failed" -eq 0 ]
  exit
fi

echo "building ${#targets[@]} fuzz targets (nightly, libFuzzer)"
cargo +nightly fuzz build -s none
bin_dir="$CARGO_TARGET_DIR/x86_64-unknown-linux-gnu/release"
# New inputs go to FUZZ_CORPUS_DIR/<target> if set (kept between runs),
# else to a scratch folder removed at the end.
if [ -n "${FUZZ_CORPUS_DIR:-}" ]; then
  scratch="$FUZZ_CORPUS_DIR"
else
  scratch="$(mktemp -d)"
  trap 'rm -rf "$scratch"' EXIT
fi

for t in "${targets[@]}"; do
  mkdir -p "$scratch/$t" "artifacts/$t"
  log="$scratch/$t.log"
  start=$SECONDS
  set +e
  seeds=("corpus/$t")
  [ -d "regressions/$t" ] && seeds+=("regressions/$t")
  "$bin_dir/$t" "$scratch/$t" "${seeds[@]}" \
    -max_total_time="$secs" -timeout=10 -rss_limit_mb=2048 -max_len=65536 \
    -print_final_stats=1 -artifact_prefix="artifacts/$t/" >"$log" 2>&1
  status=$?
  set -e
  took=$((SECONDS - start))
  execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -1 || true)
  cov=$(grep -oE 'cov: [0-9]+ ft: [0-9]+ corp: [0-9]+' "$log" | tail -1 || true)
  if [ "$status" -eq 0 ]; then
    passed=$((passed + 1))
    report "fuzz $t: ok — ${execs:-?} execs in ${took}s (${cov:-no coverage line})"
  else
    failed=$((failed + 1))
    report "fuzz $t: CRASH (exit $status) after ${execs:-?} execs in ${took}s — see fuzz/artifacts/$t/"
    grep -E -A2 'panicked|ERROR|SUMMARY|Test unit written' "$log" | head -20 || true
  fi
done
echo "fuzz: $passed passed, $failed failed"
[ "$failed" -eq 0 ]
