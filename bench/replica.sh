#!/usr/bin/env bash
# Throughput and latency of the built-in store per replication mode: 3 nodes on loopback,
# 10 concurrent clients, a fixed op count (half writes, half reads), release build.
#   bench/replica.sh                 # every mode, 20000 ops each, fsync on
#   OPS=50000 FSYNC=off MODES="raft leader-async" bench/replica.sh
#   SKIP_BUILD=1 bench/replica.sh    # reuse target/release binaries
# Targets on the 2-core dev machine: leader-async >= 20,000 ops/s, raft >= 5,000 ops/s.
set -euo pipefail
cd "$(dirname "$0")/.."
OPS=${OPS:-20000}
CLIENTS=${CLIENTS:-10}
FSYNC=${FSYNC:-on}
MODES=${MODES:-"leader-async leader-semisync leader-sync raft multi-leader leaderless"}
BASE=${BASE_PORT:-7300}

if [ -z "${SKIP_BUILD:-}" ]; then
  cargo build --release -q -p faultline
  cargo build --release -q -p faultline-replica --example replica_bench
fi
BIN=target/release/faultline
BENCH=target/release/examples/replica_bench
WORK=$(mktemp -d)
CURRENT=""
cleanup() {
  if [ -n "$CURRENT" ]; then "$BIN" cluster down --dir "$CURRENT" --wipe >/dev/null 2>&1 || true; fi
  rm -rf "$WORK"
}
trap cleanup EXIT

echo "3 nodes, $CLIENTS clients, $OPS ops per mode (50% writes), fsync $FSYNC"
printf "%-16s %8s %7s %10s %9s %9s\n" mode ops errors "ops/s" "p50 ms" "p99 ms"
for mode in $MODES; do
  CURRENT="$WORK/$mode"
  "$BIN" cluster up --mode "$mode" --nodes 3 --dir "$CURRENT" --base-port "$BASE" --fsync "$FSYNC" >/dev/null
  ADDRS="127.0.0.1:$BASE,127.0.0.1:$((BASE + 2)),127.0.0.1:$((BASE + 4))"
  # Give raft its first election.
  sleep 2
  "$BENCH" "$mode" "$ADDRS" --clients "$CLIENTS" --ops "$OPS"
  "$BIN" cluster down --dir "$CURRENT" --wipe >/dev/null
  CURRENT=""
done
