#!/usr/bin/env bash
# Runs the cargo-fuzz targets of entra-jwt (nightly, libFuzzer), one at a time.
#
#   fuzz/run.sh [SECONDS] [TARGET...]  fuzz each target (default: all) for SECONDS
#                                      (default 600); new inputs go to a scratch
#                                      corpus under fuzz/target/, crashes to
#                                      fuzz/artifacts/<target>/
#   fuzz/run.sh merge [TARGET...]      merge the scratch corpora into the committed
#                                      ones (fuzz/corpus/<target>/), then minimise
#                                      them with `cargo fuzz cmin`
#   fuzz/run.sh seed [TARGET...]       add the generated seeds (test tenant, recorded
#                                      fixtures, Wycheproof) to the committed corpora
#
# Every target runs under AddressSanitizer except rs256: its work is big-number
# arithmetic in safe Rust, which ASan and comparison tracing slow down about
# threefold for nothing (it is built without a sanitizer, in fuzz/target/nosan).
# Every run is niced, with -rss_limit_mb=512 -timeout=10, and prints the final
# libFuzzer statistics (executions, exec/s, corpus size, peak RSS) per target,
# which fuzz/README.md records. Exits non-zero if any target crashed, timed
# out or leaked. Environment: FUZZ_JOBS (cargo build jobs, default 2),
# FUZZ_FLAGS (extra libFuzzer flags).
set -euo pipefail
cd "$(dirname "$0")"
FUZZ_DIR=$(pwd)

ALL_TARGETS=(token header claims verify jwks x5c discovery authorization rs256 key_source)

need_cargo_fuzz() {
  if ! rustup toolchain list | grep -q '^nightly'; then
    echo "installing the nightly toolchain (cargo-fuzz needs it)"
    rustup toolchain install nightly --profile minimal
  fi
  if ! cargo fuzz --version >/dev/null 2>&1; then
    echo "installing cargo-fuzz"
    cargo install cargo-fuzz --locked
  fi
}

targets_or_all() {
  if [ "$#" -gt 0 ]; then printf '%s\n' "$@"; else printf '%s\n' "${ALL_TARGETS[@]}"; fi
}

mode=run
case "${1:-}" in
  merge|seed) mode=$1; shift ;;
  ''|*[!0-9]*) ;;
  *) seconds=$1; shift ;;
esac
seconds=${seconds:-600}
mapfile -t targets < <(targets_or_all "$@")

if [ "$mode" = seed ]; then
  (cd .. && cargo run -q -p entra-jwt-fuzz-targets --bin fuzz-seeds -- "$FUZZ_DIR/corpus" "${targets[@]}")
  exit 0
fi

# The cargo-fuzz build options of target $1.
build_args() {
  case "$1" in
    rs256) echo "-a -s none --target-dir target/nosan" ;;
    *) echo "-a" ;;
  esac
}

need_cargo_fuzz
export CARGO_BUILD_JOBS="${FUZZ_JOBS:-2}"
for t in "${targets[@]}"; do
  # shellcheck disable=SC2046
  nice -n 10 cargo +nightly fuzz build $(build_args "$t") "$t"
done

if [ "$mode" = merge ]; then
  for t in "${targets[@]}"; do
    work="target/corpus-work/$t"
    mkdir -p "corpus/$t" "$work"
    # shellcheck disable=SC2046
    nice -n 10 cargo +nightly fuzz run $(build_args "$t") "$t" "corpus/$t" "$work" -- \
      -merge=1 -rss_limit_mb=512 -timeout=10 2>&1 | tail -1
    # Minimise on edges only (-use_counters=0): keeping every hit-count
    # feature leaves thousands of inputs; edge coverage leaves a few hundred.
    # shellcheck disable=SC2046
    nice -n 10 cargo +nightly fuzz cmin $(build_args "$t") "$t" "corpus/$t" -- \
      -rss_limit_mb=512 -timeout=10 -use_counters=0 2>&1 | tail -1
    echo "$t: $(ls "corpus/$t" | wc -l) files, $(du -sk "corpus/$t" | cut -f1) KiB"
  done
  exit 0
fi

mkdir -p target/logs
failed=()
printf '%-14s %12s %9s %8s %8s\n' target executions exec/s corpus rss_mb
for t in "${targets[@]}"; do
  work="target/corpus-work/$t"
  mkdir -p "$work" "corpus/$t"
  log="target/logs/$t.log"
  # libFuzzer writes new inputs to the first directory (scratch) and reads both.
  # shellcheck disable=SC2046
  if ! nice -n 10 cargo +nightly fuzz run $(build_args "$t") "$t" "$work" "corpus/$t" -- \
      -max_total_time="$seconds" -rss_limit_mb=512 -timeout=10 -print_final_stats=1 \
      ${FUZZ_FLAGS:-} >"$log" 2>&1; then
    failed+=("$t")
  fi
  execs=$(grep -o 'stat::number_of_executed_units: *[0-9]*' "$log" | grep -o '[0-9]*$' | tail -1)
  rate=$(grep -o 'stat::average_exec_per_sec: *[0-9]*' "$log" | grep -o '[0-9]*$' | tail -1)
  rss=$(grep -o 'stat::peak_rss_mb: *[0-9]*' "$log" | grep -o '[0-9]*$' | tail -1)
  corpus=$(grep -o 'corp: [0-9]*' "$log" | tail -1 | grep -o '[0-9]*$')
  printf '%-14s %12s %9s %8s %8s\n' "$t" "${execs:-?}" "${rate:-?}" "${corpus:-?}" "${rss:-?}"
done
if [ "${#failed[@]}" -gt 0 ]; then
  echo "FAILED: ${failed[*]} (see fuzz/target/logs/ and fuzz/artifacts/)" >&2
  exit 1
fi
