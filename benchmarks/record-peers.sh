#!/usr/bin/env bash
# Runs io.rationale.bench.PeerRun (rationale against Jlama, interleaved in one JVM) on a copy of the jar, writing
# benchmarks/results/NAME.jsonl (header + one line per round and op, as measured) and NAME.md (the tables).
# Rerun the same line to resume a killed run; later options are PeerRun's (--ops, --peer, --rounds, --threads ...).
#
#   BENCH_MODEL=/data/tinyllama-1.1b-bf16 benchmarks/record-peers.sh 2026-12-06-peers --rounds 7
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
. "$root/scripts/jdk.sh"; find_jdk25
[ $# -ge 1 ] && [ -n "${BENCH_MODEL:-}" ] || { echo "usage: BENCH_MODEL=DIR benchmarks/record-peers.sh NAME [PeerRun options...]" >&2; exit 2; }
name="$1"; shift
jar="$root/benchmarks/target/benchmarks.jar"
[ -f "$jar" ] || { echo "record-peers.sh: $jar missing: build with mvn -B -q -ntp -DskipTests package" >&2; exit 1; }
work="$(mktemp -d)"; trap 'rm -rf "$work"' EXIT
cp "$jar" "$work/benchmarks.jar"
mkdir -p "$root/benchmarks/results"
cd "$root"   # the header's commit is git's here
"$JAVA_HOME/bin/java" --add-modules jdk.incubator.vector --enable-native-access=ALL-UNNAMED -Xmx20g -Dbench.model="$BENCH_MODEL" \
  -cp "$work/benchmarks.jar" io.rationale.bench.PeerRun \
  --out "benchmarks/results/$name.jsonl" --table "benchmarks/results/$name.md" "$@"
