#!/usr/bin/env bash
# Runs every benchmark script there is (bench/elle.sh --quick, bench/lin.sh, bench/harness.sh,
# bench/replica.sh, bench/report.sh) once and prints ONE table: section, case, metric, value,
# and the target or peer figure, after the machine it ran on (issue 9's performance table;
# the README's "Performance" section is this output). A script that does not exist yet gets a
# row saying "not available"; one that fails or times out gets a row saying so. Each script's
# own output is kept in bench/out/<section>.txt.
#
#   bench/all.sh            every section
#   bench/all.sh elle lin   only these sections
#   bench/all.sh --from-out the table of the last run again, from bench/out/
#
# Scripts print a whitespace-separated table with a header line; this script reads any such
# table: the case is the first column plus any parameter-like column (store, transactions,
# ops, keys, mode, model, file, ...), every other column is a metric, and a last column
# named target, peer or porcupine (free text) is the figure to compare with.
set -uo pipefail
cd "$(dirname "$0")/.."

# section | command | time limit in seconds
sections=(
  "elle|bench/elle.sh --quick|1800"
  "lin|bench/lin.sh 1|1800"
  "harness|bench/harness.sh|1800"
  "replica|bench/replica.sh|1800"
  "report|bench/report.sh|900"
)
# --from-out: print the table from the last run's bench/out/*.txt without running anything.
from_out=0
if [ "${1:-}" = "--from-out" ]; then
  from_out=1
  shift
fi
wanted=("$@")
mkdir -p bench/out

cpu=$(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo | head -1)
ram=$(awk '/MemTotal/ {printf "%.1f GiB", $2 / 1048576}' /proc/meminfo)
echo "machine: $(nproc) cores ($cpu), $ram RAM, Linux $(uname -r), $(rustc --version 2>/dev/null)"
echo "date:    $(date -u '+%Y-%m-%d %H:%M UTC'), commit $(git rev-parse --short HEAD 2>/dev/null || echo '?')"
echo

fmt='%-8s %-40s %-16s %14s  %s\n'
# shellcheck disable=SC2059
printf "$fmt" section case metric value "target/peer"

# Turns one script's table on stdin into rows of the one table.
to_rows() {
  awk -v section="$1" -v fmt="$fmt" '
    function numeric(s) { return s ~ /^-?[0-9.]+([eE][-+]?[0-9]+)?$/ }
    function is_param(h) {
      return h ~ /^(case|store|transactions|txns|ops|keys|clients|mode|model|workload|file|history|name|size|checker|jsonl|nodes|conc|concurrency|files|group)$/
    }
    # Targets and peer figures the scripts state only in prose (issue 9; bench/*.sh headers).
    function known(section, c, m) {
      if (section == "replica" && m == "ops/s" && c ~ /^leader-async/) return ">= 20000 ops/s"
      if (section == "replica" && m == "ops/s" && c ~ /^raft/) return ">= 5000 ops/s"
      if (section == "lin" && m ~ /(_s|seconds|time)$/) {
        if (c ~ /etcd/) return "Porcupine 0.8-1.1 s"
        if (c ~ /unsplit|no.?partition/) return "Porcupine 7.5-8.7 s"
        if (c ~ /kv/) return "Porcupine 0.3-0.5 s"
      }
      if (section == "report" && m ~ /(_s|seconds)$/) return "< 5 s"
      if (section == "harness" && m == "ops/s" && c ~ /^memory/) return ">= 50000 ops/s"
      return ""
    }
    function is_target(h) { return h ~ /^(target|peer|porcupine|target\/peer|peer_s|porcupine_s)$/ }
    # A unit or qualifier after a column name belongs to it: "p50 ms" is p50_ms, "wall (s)"
    # is wall_s, "x (cpu)" is x_cpu.
    function is_unit(t) { return t ~ /^(ms|s|us|sec|MiB|MB|GiB|KiB|KB|B)$/ || t ~ /^\(.*\)$/ }
    !header && NF >= 2 {
      ok = 1
      for (i = 1; i <= NF; i++) if ($i !~ /^[A-Za-z_(][A-Za-z0-9_%\/.()-]*$/) ok = 0
      if (ok && $1 !~ /^\(/) {
        header = 1; n = 0
        for (i = 1; i <= NF; i++) {
          if (n > 0 && is_unit($i)) { u = $i; gsub(/[()]/, "", u); h[n] = h[n] "_" u }
          else h[++n] = $i
        }
        next
      }
    }
    header && NF >= n && n > 0 {
      # Extra fields: free text in a last target column, else words of the first column
      # ("etcd logs").
      delete v
      if (is_target(h[n])) {
        for (i = 1; i < n; i++) v[i] = $i
        rest = $0
        for (i = 1; i < n; i++) { sub(/^[[:space:]]*[^[:space:]]+/, "", rest) }
        sub(/^[[:space:]]+/, "", rest)
        v[n] = rest
      } else {
        k = NF - n
        v[1] = $1
        for (i = 2; i <= k + 1; i++) v[1] = v[1] " " $i
        for (i = 2; i <= n; i++) v[i] = $(i + k)
      }
      # Notes under a table are not rows: a row has mostly numbers.
      nums = 0; vals = 0
      for (i = 2; i <= n; i++) if (!is_target(h[i])) { vals++; if (v[i] ~ /^-?[0-9]/) nums++ }
      if (nums * 2 < vals) next
      target = ""
      for (i = 2; i <= n; i++) if (is_target(h[i])) target = (target == "" ? "" : target "; ") (i == n && is_target(h[n]) ? v[i] : h[i] " " v[i])
      c = v[1]
      for (i = 2; i <= n; i++) if (is_param(h[i])) c = c " " h[i] "=" v[i]
      for (i = 2; i <= n; i++) {
        if (is_param(h[i]) || is_target(h[i])) continue
        t = target
        if (t == "") t = known(section, c, h[i])
        printf fmt, section, c, h[i], v[i], t
        if (target != "") target = "\""
      }
      rows++
    }
    END { if (!rows) printf fmt, section, "-", "-", "no rows", "(see bench/out/" section ".txt)" }
  '
}

# The same for a Markdown table (| a | b |): cells may hold spaces ("0.62 s").
md_rows() {
  awk -v section="$1" -v fmt="$fmt" -F'|' '
    function trim(x) { gsub(/^[[:space:]]+|[[:space:]]+$/, "", x); return x }
    /^[[:space:]]*\|/ {
      if ($0 ~ /^[[:space:]]*\|[-:| ]+\|[[:space:]]*$/) next
      if (!n) {
        for (i = 2; i < NF; i++) { x = trim($i); gsub(/[()]/, "", x); gsub(/[[:space:]]+/, "_", x); h[++n] = x }
        next
      }
      c = trim($2)
      for (i = 3; i < NF; i++) printf fmt, section, h[1] "=" c, h[i - 1], trim($i), (section == "report" && h[i - 1] ~ /write_report/ ? "< 5 s" : (h[i - 1] ~ /html/ ? "< 10 MB" : ""))
      rows++
    }
    END { if (!rows) printf fmt, section, "-", "-", "no rows", "(see bench/out/" section ".txt)" }
  '
}

for entry in "${sections[@]}"; do
  IFS='|' read -r section cmd limit <<<"$entry"
  if [ ${#wanted[@]} -gt 0 ] && ! printf '%s\n' "${wanted[@]}" | grep -qx "$section"; then
    continue
  fi
  script=${cmd%% *}
  if [ ! -x "$script" ] && [ ! -f "$script" ]; then
    # shellcheck disable=SC2059
    printf "$fmt" "$section" "-" "-" "not available" "($script is not on this branch)"
    continue
  fi
  out=bench/out/$section.txt
  if [ "$from_out" -eq 1 ]; then
    code=0
    [ -s "bench/out/$section.err" ] && [ ! -s "$out" ] && code=1
  else
    # shellcheck disable=SC2086
    timeout --kill-after=30 "$limit" bash $cmd >"$out" 2>"bench/out/$section.err"
    code=$?
  fi
  if grep -q '^[[:space:]]*|' "$out"; then
    md_rows "$section" <"$out"
  else
    to_rows "$section" <"$out"
  fi
  if [ "$code" -eq 124 ] || [ "$code" -eq 137 ]; then
    # shellcheck disable=SC2059
    printf "$fmt" "$section" "-" "-" "timed out" "after $limit s"
  elif [ "$code" -ne 0 ]; then
    # shellcheck disable=SC2059
    printf "$fmt" "$section" "-" "exit code" "$code" "(a target missed, or it failed: bench/out/$section.err)"
  fi
done
