#!/usr/bin/env bash
# Benchmarks the Elle list-append checker (issue 5): generates list-append histories from a
# simulated store (seeded; 10 client processes, 10 active keys retired after 32 appends,
# transactions of 1-4 micro-ops, as Elle's generator), checks them with a release build, and
# prints a table of transactions, seconds and peak memory (VmHWM of the process, which
# includes the history itself). Targets: 100,000 transactions checked in < 5 s; 1,000,000
# in < 60 s with < 4 GiB.
#
#   bench/elle.sh            every row
#   bench/elle.sh --quick    the 100,000-transaction rows only
set -euo pipefail
cd "$(dirname "$0")/.."

quick=0
[ "${1:-}" = "--quick" ] && quick=1

cargo build --release -q -p faultline-checker --example elle_bench
bin=target/release/examples/elle_bench
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

# store txns via-jsonl max-check-seconds max-rss-mib
rows=(
  "strict 100000 no 5 4096"
  "si 100000 no 5 4096"
)
if [ "$quick" -eq 0 ]; then
  rows+=(
    "strict 1000000 no 60 4096"
    "strict 1000000 yes 60 4096"
    "si 1000000 no 60 4096"
    "rc 1000000 no 60 4096"
    "stale 1000000 no 60 4096"
  )
fi

field() { sed -n "s/.* $1=\([^ ]*\).*/\1/p" <<<" $2"; }

printf '%-8s %12s %6s %10s %8s %8s %9s %8s %s\n' \
  store transactions jsonl generate_s read_s check_s verdict peak_MiB target
failed=0
for row in "${rows[@]}"; do
  read -r store txns via max_s max_mib <<<"$row"
  args=(--txns "$txns" --store "$store" --seed 1)
  [ "$via" = yes ] && args+=(--write "$tmp/history.jsonl" --via-jsonl)
  out=$("$bin" "${args[@]}")
  check_s=$(field check_s "$out")
  rss=$(field peak_rss_mib "$out")
  met=$(awk -v c="$check_s" -v r="$rss" -v mc="$max_s" -v mr="$max_mib" \
    'BEGIN { print (c < mc && r < mr) ? "met" : "MISSED" }')
  [ "$met" = met ] || failed=1
  printf '%-8s %12s %6s %10s %8s %8s %9s %8s %s\n' "$store" "$txns" "$via" \
    "$(field generate_s "$out")" "$(field read_s "$out")" "$check_s" \
    "$(field valid "$out")" "$rss" "check < ${max_s} s, < ${max_mib} MiB: $met"
  rm -f "$tmp/history.jsonl"
done
exit "$failed"
