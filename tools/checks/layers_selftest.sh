#!/usr/bin/env bash
# Proves tools/checks/layers.sh fails on each kind of violation it names (a checker that passes
# everything would pass CI too): builds small trees in a temp dir, one violation each.
set -uo pipefail
here=$(cd "$(dirname "$0")" && pwd)
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
n_bad=0
expect() {  # expect OUTCOME NAME FILE CONTENT
    local want=$1 name=$2 file=$3 content=$4 d="$tmp/$2"
    mkdir -p "$d/app" "$d/ui" "$d/agents/llm" "$(dirname "$d/$file")"
    printf '%s\n' "$content" >"$d/$file"
    bash "$here/layers.sh" "$d" >"$d.out" 2>&1
    local rc=$?
    if [[ $want == fail && $rc == 0 ]] || [[ $want == pass && $rc != 0 ]]; then
        echo "layers selftest: $name: expected $want, got rc=$rc"; cat "$d.out"; n_bad=$((n_bad + 1))
    fi
}
expect fail app-engine       app/cli/x.cpp           '#include <sigma/engine.h>'
expect fail ui-engine-src    ui/w.cpp                '#include "../engine/src/model.h"'
expect fail agent-engine     agents/logs/read.cpp    '#include <sigma/engine.h>'
expect pass llm-engine       agents/llm/local.cpp    '#include <sigma/engine.h>'
expect fail agent-cli        agents/logs/cli.cpp     'int main(int argc, char** argv) { return 0; }'
expect fail agent-cout       agents/shell/p.cpp      'void f() { std::cout << "x"; }'
expect fail agent-usage      agents/config/c.cpp     'const char* k = "usage: sigmaops tune";'
expect fail private-history  app/cli/h.cpp           '#include <history/history_internal.h>'
expect fail private-remote   ui/r.cpp                '#include "remote/internal.h"'
expect fail widgets-agents   agents/chat/q.cpp       '#include <QWidget>'
expect fail agent-getopt     agents/logs/o.cpp       'int f(int c, char** v) { return getopt(c, v, "h"); }'
expect pass builtin-name     agents/shell/b.cpp      'const char* k[] = {"read", "getopts"};'
expect pass clean            agents/logs/ok.cpp      '#include <history/history.h>'
[[ $n_bad == 0 ]] && echo "layers selftest: ok"
exit $(( n_bad > 0 ))
