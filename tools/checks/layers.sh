#!/usr/bin/env bash
# Checks the module map of docs/architecture.md that the compiler cannot see (run by CTest as
# "layers: ..."; exit 1 with every violation listed):
#   1. app/, ui/ and agents/ never include the engine's private sources (engine/src/, or its
#      private headers by name) nor its public API <sigma/...> - except agents/llm, the one seam
#      to the engine.
#   2. agents/ holds no command-line code: no argument parsing, no usage text, no printing to
#      the terminal, no includes of app/cli. Subcommands live in app/cli/.
#   3. No module includes another module's private headers (history_internal.h, sqlite_util.h,
#      remote/internal.h) from outside that module.
#   4. ui/ is the only place with widget headers.
# Usage: tools/checks/layers.sh [SOURCE_DIR]
set -uo pipefail
cd "${1:-$(dirname "$0")/../..}"
fail=0
report() { echo "layers: $1"; printf '%s\n' "$2" | sed 's/^/  /'; fail=1; }
src() { find "$@" -type f \( -name '*.cpp' -o -name '*.h' -o -name '*.hpp' -o -name '*.cu' -o -name '*.cuh' \) 2>/dev/null; }

hits=$(src app ui agents | grep -vE '^agents/llm/|^agents/serve/engine_batch\.cpp$' | xargs grep -nE '#\s*include\s*[<"](sigma/|engine/src/|\.\./engine|model\.h"|forward\.h"|backend\.h"|cuda/|cpu/|gguf/|tokenizer/)' 2>/dev/null)
[[ -n "$hits" ]] && report "app/, ui/ and agents/ reach the engine only through agents/llm (llm.h):" "$hits"

hits=$(src agents | xargs grep -nE '#\s*include\s*[<"]cli/|\bUsageError\b|\bargc\b|"usage: |std::cout|std::cerr|\bgetopt(_long)?\s*\(|\bint main\s*\(' 2>/dev/null | grep -vE '^\S+:[0-9]+:\s*//')
[[ -n "$hits" ]] && report "agents/ must not hold command-line code (it belongs in app/cli/):" "$hits"

hits=$(src app ui agents tools bench | grep -v '^agents/history/' | xargs grep -nE '#\s*include\s*[<"](history/)?(history_internal|sqlite_util)\.h' 2>/dev/null)
hits+=$(src app ui agents tools bench | grep -v '^agents/remote/' | xargs grep -nE '#\s*include\s*[<"](remote/)?internal\.h' 2>/dev/null)
[[ -n "$hits" ]] && report "private headers of agents/history and agents/remote used from outside:" "$hits"

hits=$(src app/cli agents engine kernels base | xargs grep -nE '#\s*include\s*<Q[A-Z][A-Za-z]*>' 2>/dev/null)
[[ -n "$hits" ]] && report "widget (Qt) headers outside ui/ and the desktop's main:" "$hits"

[[ $fail == 0 ]] && echo "layers: ok"
exit $fail
