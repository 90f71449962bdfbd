#!/usr/bin/env bash
# Benchmarks the linearizability checker (issue 2) on the Porcupine corpus with a release
# build and prints a table: our check time per group (the 102 etcd logs with the etcd
# model; the 6 kv files split by key; the kv files checked unsplit, c01 and c10 as in
# Porcupine's own no-partition tests) next to Porcupine's time on this kind of machine and
# the ratio. Files are read before timing; each group's time is the best of REPEAT runs and
# every verdict is checked against tests/data/porcupine/VERDICTS.tsv. Goal: >= 5x.
#
#   bench/lin.sh [REPEAT]     (default 3)
set -euo pipefail
cd "$(dirname "$0")/.."
cargo build --release -q -p faultline-checker --example lin_bench
exec target/release/examples/lin_bench tests/data/porcupine "${1:-3}"
