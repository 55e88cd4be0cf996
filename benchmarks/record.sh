#!/usr/bin/env bash
# Runs JMH benchmarks and records the run as benchmarks/results/<UTC date>-<name>.md: machine facts, git commit,
# the exact command, JMH's table and the tokens/s and attribution-ratio tables (io.rationale.bench.Ratios).
#
#   benchmarks/record.sh NAME [JMH arguments...]
#   e.g. BENCH_PROPS="-Dbench.model=/data/tinyllama-bf16" benchmarks/record.sh engine EngineBench -f 1 -wi 2 -i 5
#
# BENCH_PROPS: system properties for the benchmarks (bench.model, bench.preset, bench.threads), passed to the forks.
# BENCH_NOTE:  a line written at the top of the record (e.g. "PROVISIONAL: shared machine").
# The jar is copied first, so rebuilding during a long run does not change the code under test.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
. "$root/scripts/jdk.sh"; find_jdk25
[ $# -ge 1 ] || { echo "usage: benchmarks/record.sh NAME [JMH arguments...]" >&2; exit 2; }
name="$1"; shift
jar="$root/benchmarks/target/benchmarks.jar"
[ -f "$jar" ] || { echo "record.sh: $jar missing: build with mvn -B -q -ntp -DskipTests package" >&2; exit 1; }
work="$(mktemp -d)"; trap 'rm -rf "$work"' EXIT
cp "$jar" "$work/benchmarks.jar"
mkdir -p "$root/benchmarks/results"
out="$root/benchmarks/results/$(date -u +%Y-%m-%d)-$name.md"
# shellcheck disable=SC2086
cmd=("$JAVA_HOME/bin/java" ${BENCH_PROPS:-} -jar benchmarks/target/benchmarks.jar "$@" -rf json -rff result.json)
start="$(date -u +%FT%TZ)"; load_before="$(cut -d' ' -f1-3 /proc/loadavg)"
# shellcheck disable=SC2086
(cd "$work" && "$JAVA_HOME/bin/java" ${BENCH_PROPS:-} -jar benchmarks.jar "$@" -rf json -rff result.json 2>&1 | grep --line-buffered -v '^WARNING' | tee run.log)
end="$(date -u +%FT%TZ)"; load_after="$(cut -d' ' -f1-3 /proc/loadavg)"
{
  echo "# $name ($start)"
  echo
  [ -n "${BENCH_NOTE:-}" ] && { echo "**${BENCH_NOTE}**"; echo; }
  echo "## Machine"
  echo
  echo "- nproc: $(nproc)"
  echo "- CPU: $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ //'), $(lscpu | sed -n 's/^Thread(s) per core: *//p') thread(s) per core; vector flags: $(grep -m1 -wo 'avx512f' /proc/cpuinfo || grep -m1 -wo 'avx2' /proc/cpuinfo || echo none)"
  echo "- memory: $(awk '/MemTotal/ {printf "%.1f GiB", $2/1048576}' /proc/meminfo)"
  echo "- load average (1/5/15 min) before: $load_before, after: $load_after"
  echo "- java: $("$JAVA_HOME/bin/java" -version 2>&1 | sed -n '2,3p' | paste -sd';')"
  echo "- git: $(git -C "$root" rev-parse HEAD)$(git -C "$root" diff --quiet HEAD -- . 2>/dev/null || echo ' (with uncommitted changes)')"
  echo "- run: $start to $end"
  echo
  echo "## Command"
  echo
  echo '```'
  printf '%q ' "${cmd[@]}"; echo
  echo '```'
  echo
  echo "## Setup lines printed by the benchmarks"
  echo
  echo '```'
  grep -o 'bench: .*' "$work/run.log" | awk '!seen[$0]++' || true
  echo '```'
  echo
  echo "## JMH"
  echo
  echo '```'
  sed -n '/^Benchmark /,$p' "$work/run.log" | grep -v '^Benchmark result is saved'
  echo '```'
  echo
  echo "## Derived (io.rationale.bench.Ratios)"
  echo
  "$JAVA_HOME/bin/java" -cp "$work/benchmarks.jar" io.rationale.bench.Ratios "$work/result.json"
} > "$out"
echo "recorded $out"
