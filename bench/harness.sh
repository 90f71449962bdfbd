#!/usr/bin/env bash
# Benchmarks the harness itself (issue 4): how many ops per second `faultline run` records,
# and what each op costs the controller.
#
# Rows:
#   memory        the in-process memory target: a client that takes one mutex and a hash-map
#                 lookup, so an op's recorded latency (completion time - invocation time) is
#                 the controller's own overhead per op: generator, worker scheduling, history
#                 recording. Target: >= 50,000 recorded ops/s on this machine.
#   leader-async  the built-in store, 3 nodes in network namespaces, no faults; latency here
#                 is the network and the store, not overhead. Needs root; skipped otherwise.
#
# Rate is unlimited (--rate 0), no nemesis. The checkers still run after each row (not timed).
#
#   bench/harness.sh                      builds target/release/faultline, runs every row
#   FAULTLINE_BIN=path bench/harness.sh   uses that binary instead (no build)
#   SECONDS_PER_ROW=10 bench/harness.sh   longer rows (default 5)
set -euo pipefail
cd "$(dirname "$0")/.."

if [ -n "${FAULTLINE_BIN:-}" ]; then
  bin=$FAULTLINE_BIN
else
  cargo build --release -q -p faultline
  bin=target/release/faultline
fi
secs=${SECONDS_PER_ROW:-5}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

# Reads a history.jsonl; prints "ops seconds ops_per_s p50_us p99_us" for client ops
# (final reads excluded): ops completed over the span from first invocation to last
# completion, and the invocation-to-completion latency quantiles.
stats() {
  python3 - "$1" <<'EOF'
import json, sys
open_at, lat, first, last = {}, [], None, None
for line in open(sys.argv[1]):
    try:
        o = json.loads(line)
    except ValueError:
        continue  # a torn last line
    p = o.get("process")
    if not isinstance(p, int) or o.get("final"):
        continue
    t = o["time"]
    if o["type"] == "invoke":
        open_at[p] = t
        first = t if first is None else first
    elif p in open_at:
        lat.append(t - open_at.pop(p))
        last = t
lat.sort()
q = lambda f: lat[min(len(lat) - 1, int(f * len(lat)))] / 1000 if lat else 0
span = max((last or 0) - (first or 0), 1) / 1e9
print(f"{len(lat)} {span:.2f} {len(lat) / span:.0f} {q(0.5):.1f} {q(0.99):.1f}")
EOF
}

printf '%-14s %6s %6s %10s %9s %10s %10s %10s\n' target nodes conc "ops" "seconds" "ops/s" "p50 us" "p99 us"
row() {
  local name=$1 nodes=$2 conc=$3
  shift 3
  local out
  if ! out=$("$bin" run --runs-dir "$tmp/runs" --name "bench-$name" --nodes "$nodes" \
      --concurrency "$conc" --rate 0 --nemesis none --time-limit "$secs" \
      --check-timeout 60 --seed 1 "$@" 2>"$tmp/$name.err"); then
    case $? in
      1 | 3) ;; # a verdict, not a harness failure: the numbers still stand
      *) printf '%-14s failed: %s\n' "$name" "$(tail -1 "$tmp/$name.err")"; return ;;
    esac
  fi
  local dir
  dir=$(sed -n 's/^run dir *//p' <<<"$out")
  read -r ops span rate p50 p99 < <(stats "$dir/history.jsonl")
  printf '%-14s %6s %6s %10s %9s %10s %10s %10s\n' "$name" "$nodes" "$conc" "$ops" "$span" "$rate" "$p50" "$p99"
}

row memory 3 10 --target memory
row memory-c1 1 1 --target memory
if [ "$(id -u)" = 0 ]; then
  row leader-async 3 10 --target replica --mode leader-async
else
  printf '%-14s skipped: needs root for network namespaces\n' leader-async
fi
echo "memory rows: p50/p99 are the controller's overhead per op (the client itself is ~0.1 us)."
echo "target: memory >= 50,000 recorded ops/s"
