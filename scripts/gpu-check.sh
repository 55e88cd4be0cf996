#!/usr/bin/env bash
# The one-command GPU check of the CUDA backend.
#
#   scripts/gpu-check.sh bundle        here (JDK 25, Maven, nvcc, g++): builds .gpucheck/bundle.tgz (< 64 MiB: a jlink'd
#                                      Java 25 runtime, a slim jar with only JCuda's driver native, the test classes,
#                                      the JUnit console, the kernels' C++ check, stories260K) and prints the command
#   scripts/gpu-check.sh run [--emu]   on the GPU machine (no Java, no Maven; the bundle carried beside the checkout):
#                                      1. the kernels' C++ checks on the real driver and fatbin (cuda-kernels/test:
#                                         forward kernels, then backward and attribution kernels);
#                                      2. the parity tests (engine tests, backward included, and per-kernel parity,
#                                         backward kernels included; attribution.DeviceAttributionTest needs the
#                                         tokenizer's native library, which the slim jar leaves out);
#                                      3. the timings of the forward's speed targets (GpuCheck: bandwidth, cuBLAS on
#                                         the prefill's shapes, prefill and decode of a Llama-3.1-8B-shaped bf16 model);
#                                      4. the timings of part 2's targets (GpuCheckAttribution: input_x_gradient and
#                                         attnlrp against one forward, IG against k input_x_gradient, a 10-variant
#                                         flip evaluation against one forward; Llama-3.2-1B and -3.1-8B shapes, 128
#                                         and 1,024 tokens; sizes from GPU_CHECK_PRESETS, GPU_CHECK_LENGTHS);
#                                      5. a PyTorch peer when torch and a GPU are there (scripts/gpu_peer.py);
#                                      6. the PyTorch + transformers + LXT AttnLRP peer on the same weights and
#                                         inputs (benchmarks/peers/lxt_attnlrp_peer.py; LXT's source and
#                                         transformers carried for the run: LXT_PATH, PEER_SITE; else "skipped");
#                                      7. LoRA parity: engine.LoraTest on cpu and the device (generated f32 and bf16
#                                         models with random unmerged adapters: logits against the merged weights
#                                         and the CPU's, backwardLora's dA/dB and the input gradients against the
#                                         CPU's; finite differences on the CPU);
#                                      and writes $OUT/gpu-check-record.md with device, driver, commit, command,
#                                      errors and timings (copy it to benchmarks/results/).
#                                      --emu runs the same steps on the emulated device with a small model (a dry run).
#                                      GPU_CHECK_STEPS="1 2" runs only those steps (a command on the lent machine may
#                                      run 10 minutes at most: run the steps in two or three commands); the generated
#                                      models stay in GPU_CHECK_MODELS (default /tmp/gpu-check-models) between them.
set -uo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
bundle_dir="$root/.gpucheck"
junit_version=1.13.4

# The test classes the check runs on the GPU (with -Drationale.test.devices=cpu,cuda): the engine tests that run over
# every backend, and the per-kernel parity tests (kernel against its CPU layer).
tests='io\.rationale\.(engine\.(ReferenceComparison|StoriesReference|KvCacheAndBatch|Generator|AttentionIntervention|ContextLength|Backward|StoriesBackward)Test|cuda\..*ParityTest)'

bundle() {
  . "$root/scripts/jdk.sh"; find_jdk25
  command -v nvcc >/dev/null || [ -x /usr/local/cuda/bin/nvcc ] || ls /usr/local/cuda*/bin/nvcc >/dev/null 2>&1 \
    || { echo "gpu-check: nvcc not found: the fatbin cannot be built here" >&2; exit 1; }
  cd "$root"
  echo "gpu-check: building (mvn package, tests compiled, not run) ..." >&2
  mvn -B -q -ntp -pl java -am package -DskipTests >&2 || { echo "gpu-check: build failed" >&2; exit 1; }
  [ -f java/target/classes/io/rationale/cuda/kernels.fatbin ] || { echo "gpu-check: no fatbin was built" >&2; exit 1; }
  make -s -C cuda-kernels OUT="$root/java/target/classes/io/rationale/cuda" OBJ="$root/java/target/cuda-obj" \
    "$root/java/target/cuda-obj/test/kernels_test" "$root/java/target/cuda-obj/test/backward_test" >&2 \
    || { echo "gpu-check: kernels_test / backward_test did not build" >&2; exit 1; }
  rm -rf "$bundle_dir"; mkdir -p "$bundle_dir/b"
  local b="$bundle_dir/b"
  # slim jar: the engine without the tokenizer's native libraries (the check runs ids, not text) and other platforms
  cp java/target/rationale.jar "$b/rationale.jar"
  zip -q -d "$b/rationale.jar" 'native/*' 'com/sun/jna/*' 'nlp/*' >/dev/null 2>&1 || true
  (cd java/target/test-classes && "$JAVA_HOME/bin/jar" cf "$b/tests.jar" .)
  mvn -B -q -ntp dependency:copy -Dartifact=org.junit.platform:junit-platform-console-standalone:$junit_version \
    -DoutputDirectory="$b" >&2 || { echo "gpu-check: cannot fetch the JUnit console" >&2; exit 1; }
  mv "$b/junit-platform-console-standalone-$junit_version.jar" "$b/junit-console.jar"
  cp java/target/classes/io/rationale/cuda/kernels.fatbin java/target/cuda-obj/test/kernels_test java/target/cuda-obj/test/backward_test "$b/"
  cp java/target/classes/io/rationale/cuda/emu/libcuda.so.1 "$b/libcuda-emu.so.1"
  mkdir -p "$b/shared/data/models" && cp -r "$root/../shared/data/models/stories260K-hf" "$b/shared/data/models/"
  # what the engine, JCuda, Jackson and the JUnit console use (jdeps on the fat jars also lists optional modules of
  # libraries the check never loads: jinjava, DJL)
  local modules=java.base,java.logging,java.xml,java.management,jdk.unsupported,jdk.zipfs,jdk.incubator.vector
  "$JAVA_HOME/bin/jlink" --add-modules "$modules" --strip-debug --no-man-pages --no-header-files --compress=zip-9 \
    --output "$b/jre" 2>/dev/null || { echo "gpu-check: jlink failed (modules: $modules)" >&2; exit 1; }
  git -C "$root" rev-parse HEAD > "$b/commit.txt"
  git -C "$root" status --porcelain | grep -q . && echo "(uncommitted changes)" >> "$b/commit.txt"
  tar czf "$bundle_dir/bundle.tgz" -C "$b" . && rm -rf "$b"
  local size; size=$(stat -c %s "$bundle_dir/bundle.tgz")
  echo "gpu-check: $bundle_dir/bundle.tgz $((size / 1024 / 1024)) MiB (runtime modules: $modules)" >&2
  [ "$size" -lt $((64 * 1024 * 1024)) ] || { echo "gpu-check: the bundle is over 64 MiB" >&2; exit 1; }
  echo "bash scripts/gpu-check.sh run        # on the GPU machine, with .gpucheck carried; results in \$OUT"
}

run() {
  local emu=0; [ "${1:-}" = "--emu" ] && emu=1
  local out="${OUT:-$root/gpu-check-out}"; mkdir -p "$out"
  [ -f "$bundle_dir/bundle.tgz" ] || { echo "gpu-check: no $bundle_dir/bundle.tgz (run: scripts/gpu-check.sh bundle)" >&2; exit 1; }
  local w; w=$(mktemp -d); tar xzf "$bundle_dir/bundle.tgz" -C "$w"
  local java="$w/jre/bin/java" jopts=(--add-modules=jdk.incubator.vector --enable-native-access=ALL-UNNAMED -Xmx64g)
  local device=cuda preset=llama-3.1-8b tokens=512 decode=64 libcuda
  local presets="${GPU_CHECK_PRESETS:-llama-3.2-1b,llama-3.1-8b}" lengths="${GPU_CHECK_LENGTHS:-128,1024}" steps=32
  local models="${GPU_CHECK_MODELS:-/tmp/gpu-check-models}"   # the generated models, shared by steps 3, 4 and 6 (not under $OUT)
  local wanted=" ${GPU_CHECK_STEPS:-1 2 3 4 5 6 7} "
  want() { [[ "$wanted" == *" $1 "* ]]; }
  # JUnit console on cpu and the device: junit SECONDS REPORTS-DIR SELECTORS... (its output on stdout)
  junit() {
    local secs=$1 reports=$2; shift 2
    timeout "$secs" "$java" "${jopts[@]}" -Drationale.test.devices="cpu,$device" -Drationale.test.cuda=$([ $emu = 1 ] && echo emu || echo real) \
      -Drationale.shared="$w/shared" -jar "$w/junit-console.jar" execute --class-path "$w/rationale.jar:$w/tests.jar" \
      "$@" --reports-dir "$out/$reports" --details=summary --disable-banner --fail-if-no-tests
  }
  mkdir -p "$models"
  local started; started=$(date -u +%FT%TZ)
  if [ $emu = 1 ]; then
    device=cuda-emu; preset=tiny; tokens=64; decode=8; libcuda="$w/libcuda-emu.so.1"; jopts+=(-Xmx8g)
    presets=tiny; lengths=32,64; steps=4
  else
    libcuda=$(ldconfig -p 2>/dev/null | awk '/libcuda\.so\.1 /{print $NF; exit}')
    local cublas; cublas=$(find / -name 'libcublas.so.13*' -o -name 'libcublas.so.12*' 2>/dev/null | grep -v Lt | head -1)
    [ -n "$cublas" ] && { export RATIONALE_CUBLAS="$cublas"; export LD_LIBRARY_PATH="$(dirname "$cublas"):${LD_LIBRARY_PATH:-}"; }
    nvidia-smi > "$out/nvidia-smi.txt" 2>&1
  fi
  local k_rc=skipped j_rc=skipped t_rc=skipped a_rc=skipped p_rc=skipped l_rc=skipped r_rc=skipped
  if want 1; then
    echo "gpu-check: 1/7 kernels' C++ checks ($libcuda)" >&2
    local kargs=("$libcuda"); [ $emu = 0 ] && kargs+=(--fatbin "$w/kernels.fatbin")
    local bargs=("${kargs[@]}"); [ $emu = 0 ] && kargs+=(--bench)
    timeout 300 "$w/kernels_test" "${kargs[@]}" > "$out/kernels_test.txt" 2>&1; k_rc=$?
    timeout 120 "$w/backward_test" "${bargs[@]}" > "$out/backward_test.txt" 2>&1 || k_rc=$?
  fi
  if want 2; then
    echo "gpu-check: 2/7 parity tests on cpu and $device" >&2
    junit 420 junit --select-package io.rationale.engine --select-package io.rationale.cuda --include-classname "$tests" \
      > "$out/junit.txt" 2>&1; j_rc=$?
  fi
  if want 3; then
    echo "gpu-check: 3/7 timings ($preset, $tokens tokens, $decode decoded)" >&2
    timeout 540 "$java" "${jopts[@]}" -cp "$w/rationale.jar" io.rationale.cuda.GpuCheck --device "$device" --preset "$preset" \
      --tokens "$tokens" --decode "$decode" --models "$models" --out "$out/timings.json" > "$out/timings.txt" 2>&1; t_rc=$?
  fi
  if want 4; then
    echo "gpu-check: 4/7 attribution timings ($presets; $lengths tokens; IG $steps steps)" >&2
    timeout 540 "$java" "${jopts[@]}" -cp "$w/rationale.jar" io.rationale.cuda.GpuCheckAttribution --device "$device" \
      --presets "$presets" --lengths "$lengths" --steps "$steps" --models "$models" --out "$out/attribution.json" \
      > "$out/attribution.txt" 2>&1; a_rc=$?
  fi
  if want 7; then
    echo "gpu-check: 7/7 LoRA parity (engine.LoraTest) on cpu and $device" >&2
    junit 300 junit-lora --select-class io.rationale.engine.LoraTest > "$out/lora.txt" 2>&1; r_rc=$?
  fi
  if [ $emu = 0 ] && python3 -c 'import torch; assert torch.cuda.is_available()' 2>/dev/null; then
    if want 5; then
      echo "gpu-check: 5/7 PyTorch peer" >&2
      timeout 300 python3 "$root/scripts/gpu_peer.py" --stories "$w/shared/data/models/stories260K-hf" --tokens "$tokens" \
        --decode "$decode" --out "$out/peer.json" > "$out/peer.txt" 2>&1; p_rc=$?
    fi
    if want 6; then
      echo "gpu-check: 6/7 PyTorch + transformers + LXT AttnLRP peer" >&2
      timeout 420 python3 "$root/benchmarks/peers/lxt_attnlrp_peer.py" --models "$models" --out "$out/lxt-peer.json" \
        > "$out/lxt-peer.txt" 2>&1; l_rc=$?
    fi
  fi
  {
    echo "# GPU check, $started"
    echo
    echo "- device: $(grep -m1 -o '"device" : "[^"]*"' "$out/timings.json" 2>/dev/null | cut -d'"' -f4)"
    [ -f "$out/nvidia-smi.txt" ] && echo "- driver: $(grep -m1 -o 'Driver Version: [0-9.]*' "$out/nvidia-smi.txt"), $(grep -m1 -o 'CUDA Version: [0-9.]*' "$out/nvidia-smi.txt")"
    echo "- commit: $(head -1 "$w/commit.txt") $(sed -n 2p "$w/commit.txt")"
    echo "- command: \`GPU_CHECK_STEPS=\"$(echo $wanted)\" bash scripts/gpu-check.sh run${1:+ $1}\` (bundle from \`scripts/gpu-check.sh bundle\`)"
    echo "- cuBLAS: ${RATIONALE_CUBLAS:-emulated}"
    echo
    echo "## 1. Kernel checks (cuda-kernels/test/kernels_test and backward_test, exit $k_rc)"
    echo; echo '```'; tail -25 "$out/kernels_test.txt" 2>/dev/null; tail -12 "$out/backward_test.txt" 2>/dev/null; echo '```'
    echo "## 2. Parity tests (exit $j_rc)"
    echo; echo '```'; grep -E 'tests (successful|failed|skipped|found)|containers failed' "$out/junit.txt"; grep -A3 -E '✘|MethodSource|=> ' "$out/junit.txt" | head -40; echo '```'
    echo "## 3. Timings (exit $t_rc)"
    echo; echo '```'; cat "$out/timings.json" 2>/dev/null || tail -20 "$out/timings.txt" 2>/dev/null; echo '```'
    echo "## 4. Attribution timings (exit $a_rc)"
    echo; echo '```'; cat "$out/attribution.json" 2>/dev/null || tail -20 "$out/attribution.txt" 2>/dev/null; echo '```'
    echo "## 5. PyTorch peer (exit $p_rc)"
    echo; echo '```'; cat "$out/peer.json" 2>/dev/null || tail -20 "$out/peer.txt" 2>/dev/null; echo '```'
    echo "## 6. PyTorch + transformers + LXT AttnLRP peer (exit $l_rc)"
    echo; echo '```'; cat "$out/lxt-peer.json" 2>/dev/null || tail -20 "$out/lxt-peer.txt" 2>/dev/null; echo '```'
    echo "## 7. LoRA parity (engine.LoraTest, exit $r_rc)"
    echo; echo '```'; grep -E '^\[lora\]|tests (successful|failed|skipped|found)|containers failed' "$out/lora.txt" 2>/dev/null; grep -A3 -E '✘|=> ' "$out/lora.txt" 2>/dev/null | head -40; echo '```'
  } > "$out/gpu-check-record.md"
  rm -rf "$w"
  echo "gpu-check: record in $out/gpu-check-record.md (kernels $k_rc, parity $j_rc, timings $t_rc, attribution $a_rc, peer $p_rc, LXT peer $l_rc, LoRA parity $r_rc)" >&2
  for rc in $k_rc $j_rc $t_rc $a_rc $r_rc; do [ "$rc" = 0 ] || [ "$rc" = skipped ] || return 1; done
}

case "${1:-}" in
  bundle) bundle ;;
  run) shift; run "$@" ;;
  *) echo "usage: scripts/gpu-check.sh bundle | run [--emu]" >&2; exit 2 ;;
esac
