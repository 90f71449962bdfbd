#!/bin/sh
# Times the report of a 100,000-op history (target: under 5 s, page under 10 MB) and prints
# a table. Run from the repository root; builds in release. Usage: bench/report.sh [OPS]
set -eu
cargo run --release -q -p faultline-reports --example report_bench -- "${1:-100000}"
