# Sourced by ./rationale, ./weights-tools and ./run-tests: finds a JDK 25 or stops with one line.
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
