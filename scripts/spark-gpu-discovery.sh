#!/usr/bin/env bash
# Spark's GPU discovery script for rationale-engine executors (docs/spark.md): prints the GPUs of this node as the
# resource Spark hands to tasks, e.g. {"name": "gpu", "addresses": ["0","1"]}. The addresses are CUDA device numbers:
# a task given address N runs its model on cuda:N. CUDA_VISIBLE_DEVICES, when set, limits and renumbers them as CUDA
# does (CUDA Programming Guide, "CUDA Environment Variables"): set but empty, no GPU is visible; the listed GPUs
# (indices, or GPU-/MIG- UUIDs or their prefixes) are visible up to the first entry that names none.
set -euo pipefail
if ! command -v nvidia-smi >/dev/null; then
  echo '{"name": "gpu", "addresses": []}'
  exit 0
fi
mapfile -t uuids < <(nvidia-smi --query-gpu=uuid --format=csv,noheader | tr -d ' ')
n=${#uuids[@]}
if [ -n "${CUDA_VISIBLE_DEVICES+set}" ]; then
  visible=0
  IFS=',' read -r -a ids <<< "$CUDA_VISIBLE_DEVICES"
  for id in "${ids[@]}"; do
    id="${id//[[:space:]]/}"
    ok=0
    if [[ "$id" =~ ^[0-9]+$ ]]; then
      (( 10#$id < n )) && ok=1
    elif [[ "$id" == GPU-* || "$id" == MIG-* ]]; then
      for u in "${uuids[@]}"; do [[ "$u" == "$id"* || "MIG-$u" == "$id"* ]] && ok=1; done
    fi
    [ "$ok" = 1 ] || break
    visible=$((visible + 1))
  done
  n=$visible
fi
addrs=""
for ((i = 0; i < n; i++)); do addrs+="${addrs:+,}\"$i\""; done
echo "{\"name\": \"gpu\", \"addresses\": [$addrs]}"
