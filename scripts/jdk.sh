# Sourced by ./rationale and ./run-tests: finds a JDK 25 or stops with one line; and checks the build's other tools.
find_jdk25() {
  local c v
  for c in "${JAVA_HOME:-}" /usr/lib/jvm/temurin-25-jdk-amd64 /usr/lib/jvm/temurin-25* /usr/lib/jvm/*-25-* /usr/lib/jvm/jdk-25* \
           "$(dirname "$(dirname "$(readlink -f "$(command -v java 2>/dev/null || echo /nonexistent)")")")"; do
    [ -n "$c" ] && [ -x "$c/bin/java" ] || continue
    v=$("$c/bin/java" -XshowSettings:properties -version 2>&1 | sed -n 's/^ *java.specification.version = //p')
    if [ "${v%%.*}" -ge 25 ] 2>/dev/null; then
      JAVA_HOME="$c"; export JAVA_HOME
      # Maven's own libraries call sun.misc.Unsafe, which JDK 24+ warns about; the flag exists only there, so it lives
      # here (where JDK 25 is certain) and not in .mvn/jvm.config, which every JDK running mvn must accept
      case " ${MAVEN_OPTS:-} " in *" --sun-misc-unsafe-memory-access=allow "*) ;; *) MAVEN_OPTS="--sun-misc-unsafe-memory-access=allow${MAVEN_OPTS:+ $MAVEN_OPTS}" ;; esac
      export MAVEN_OPTS
      return 0
    fi
  done
  echo "rationale: no JDK 25 found (looked at JAVA_HOME, /usr/lib/jvm, PATH): install Temurin 25 (apt-get install temurin-25-jdk) or set JAVA_HOME" >&2
  exit 1
}

# The build also needs Maven, make and a C++ compiler (cuda-kernels/Makefile builds the emulated CUDA device with
# g++, or $CXX); without them it would stop deep inside Maven's output. Stops with one line naming what is missing.
check_build_tools() {
  local t missing=()
  for t in mvn make "${CXX:-g++}"; do
    command -v "${t%% *}" >/dev/null 2>&1 || missing+=("${t%% *}")
  done
  if [ "${#missing[@]}" -gt 0 ]; then
    echo "rationale: building needs Maven, make and a C++ compiler (g++ or \$CXX; the emulated CUDA device); not found on PATH: ${missing[*]}: install them (apt-get install maven make g++)" >&2
    exit 1
  fi
}
