#!/bin/sh
# Prints a C++ translation unit that compiles one kernel file for the emulated device and registers each of its
# `extern "C" __global__ void NAME(` kernels (optionally with __launch_bounds__(...) before NAME) under NAME.
# Usage: gen-registry.sh path/to/file.cu > file.reg.cpp   (compile the output with -include emu/cuda_emu.h)
set -eu
src="$1"
abs="$(cd "$(dirname "$src")" && pwd)/$(basename "$src")"
echo "// Generated from $(basename "$src") by emu/gen-registry.sh at build time; do not edit."
echo "#include \"$abs\""
grep -v '^[[:space:]]*//' "$src" |
    grep -oE 'extern[[:space:]]+"C"[[:space:]]+__global__[[:space:]]+void[[:space:]]+(__launch_bounds__[[:space:]]*\([^)]*\)[[:space:]]*)?[A-Za-z_][A-Za-z0-9_]*[[:space:]]*\(' |
    sed -E 's/[[:space:]]*\($//; s/.*[^A-Za-z0-9_]([A-Za-z_][A-Za-z0-9_]*)$/\1/' |
    while read -r name; do echo "CUEMU_REGISTER_KERNEL($name)"; done
