#!/usr/bin/env bash
# Spark's GPU discovery script for rationale-engine executors (docs/spark.md): prints the GPUs of this node as the
# resource Spark hands to tasks, e.g. {"name": "gpu", "addresses": ["0","1"]}. The addresses are CUDA device numbers:
# a task given address N runs its model on cuda:N. CUDA_VISIBLE_DEVICES, when set, limits and renumbers them as CUDA does.
set -euo pipefail
if ! command -v nvidia-smi >/dev/null; then
  echo '{"name": "gpu", "addresses": []}'
  exit 0
fi
n=$(nvidia-smi --query-gpu=index --format=csv,noheader | wc -l)
if [ -n "${CUDA_VISIBLE_DEVICES:-}" ]; then
  n=$(tr ',' '\n' <<< "$CUDA_VISIBLE_DEVICES" | grep -c .)
fi
addrs=""
for ((i = 0; i < n; i++)); do addrs+="${addrs:+,}\"$i\""; done
echo "{\"name\": \"gpu\", \"addresses\": [$addrs]}"
