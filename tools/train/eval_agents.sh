#!/usr/bin/env bash
# eval_agents.sh GGUF OUTDIR - every agent measure of issue 21 item 4 for one model, plus the
# no-model baselines, into OUTDIR/agents_eval.json (and each tool's own output beside it):
#   cmd        bench/bench_cmd_eval on the held-out request -> command pairs
#              (tests/fixtures/cmd_eval/heldout_cmd.jsonl): tldr (no model: retrieval only),
#              model+cp (`sigmaops cmd -n 1`) and model+cp3 (`sigmaops cmd`, default -n 3)
#   diagnose   bench/bench_diagnose_eval on tools/sftgen's held-out diagnosis set
#              (.data/raw/agent_sft/eval_diagnose_heldout.jsonl) + the 9 incident samples;
#              its no-model row is the rule ranking (F1 first, no Then lines)
#   multiturn  tests/chat/test_chat_multiturn.cpp's strict case on GGUF (5 turns, greedy):
#              follow-up answers that echo an earlier answer (no no-model baseline: no chat without one)
# CPU only (the engine's CPU backend, as users run it). Env: BUILD (build dir, default build),
# CMD_LIMIT (pairs, default 300 as docs/benchmarks.md), DIAG_LIMIT (records, default all 628),
# CMD_CONFIGS (default tldr,model+cp,model+cp3). Runtime on the shared 2-core VM: see docs/model.md.
set -euo pipefail
if [ $# -ne 2 ]; then echo "usage: $0 GGUF OUTDIR" >&2; exit 2; fi
[ -f "$1" ] || { echo "eval_agents.sh: no such model file: $1" >&2; exit 1; }
GGUF=$(cd "$(dirname "$1")" && pwd)/$(basename "$1"); OUT=$2
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
BUILD=${BUILD:-build}; case $BUILD in /*) ;; *) BUILD=$ROOT/$BUILD;; esac
CMD_LIMIT=${CMD_LIMIT:-300}; DIAG_LIMIT=${DIAG_LIMIT:-100000}
CMD_CONFIGS=${CMD_CONFIGS:-tldr,model+cp,model+cp3}
mkdir -p "$OUT"; OUT=$(realpath "$OUT")
cmake --build "$BUILD" --target bench_cmd_eval bench_diagnose_eval test_chat_multiturn >&2
t() { date +%s; }

echo "eval_agents.sh: [1/3] bench_cmd_eval --limit $CMD_LIMIT --configs $CMD_CONFIGS" >&2
t0=$(t)
"$BUILD/bench/bench_cmd_eval" -m "$GGUF" --limit "$CMD_LIMIT" --configs "$CMD_CONFIGS" > "$OUT/cmd_eval.md"
cmd_s=$(( $(t) - t0 ))

echo "eval_agents.sh: [2/3] bench_diagnose_eval --limit $DIAG_LIMIT" >&2
t0=$(t)
"$BUILD/bench/bench_diagnose_eval" -m "$GGUF" --limit "$DIAG_LIMIT" --json "$OUT/diagnose_eval.json" > "$OUT/diagnose_eval.md"
diag_s=$(( $(t) - t0 ))

echo "eval_agents.sh: [3/3] test_chat_multiturn (strict case on $GGUF)" >&2
t0=$(t)
rm -f "$OUT/multiturn.jsonl"
mt_rc=0
SIGMAOPS_MULTITURN_MODEL="$GGUF" SIGMAOPS_MULTITURN_JSON="$OUT/multiturn.jsonl" \
  "$BUILD/tests/test_chat_multiturn" "5-turn conversation: no answer echoes an earlier one (strict models)" \
  > "$OUT/multiturn.txt" 2>&1 || mt_rc=$?
mt_s=$(( $(t) - t0 ))

EVAL_ROOT=$ROOT /usr/bin/python3 - "$GGUF" "$OUT" "$cmd_s" "$diag_s" "$mt_s" "$mt_rc" "$CMD_LIMIT" <<'PY'
import json, os, platform, re, subprocess, sys, time
gguf, out, cmd_s, diag_s, mt_s, mt_rc, cmd_limit = sys.argv[1:]
rows = {}
for line in open(os.path.join(out, "cmd_eval.md")):
    c = [x.strip() for x in line.strip().strip("|").split("|")]
    if len(c) == 9 and c[1].isdigit():
        pct = lambda s: float(s.rstrip("%"))
        rows[c[0]] = {"pairs": int(c[1]), "program": pct(c[2]), "flags": pct(c[3]), "program_and_flags": pct(c[4]),
                      "exact": pct(c[5]), "parses": pct(c[6]), "no_answer": int(c[7]), "seconds": float(c[8])}
diag = json.load(open(os.path.join(out, "diagnose_eval.json")))
mt = [json.loads(l) for l in open(os.path.join(out, "multiturn.jsonl"))] if os.path.exists(os.path.join(out, "multiturn.jsonl")) else []
mt = [m for m in mt if os.path.realpath(m["path"]) == os.path.realpath(gguf)]
cpu = next((l.split(":", 1)[1].strip() for l in open("/proc/cpuinfo") if l.startswith("model name")), platform.machine())
res = {
    "model": gguf, "date_utc": time.strftime("%Y-%m-%d %H:%M", time.gmtime()),
    "machine": f"{cpu}, {os.cpu_count()} cores, load average {os.getloadavg()[0]:.1f} at the end",
    "commit": subprocess.run(["git", "-C", os.environ["EVAL_ROOT"], "rev-parse", "--short", "HEAD"], capture_output=True, text=True).stdout.strip(),
    "cmd": {"limit": int(cmd_limit), "no_model_tldr": rows.get("tldr"), "model_n1": rows.get("model+cp"), "model_n3": rows.get("model+cp3"), "seconds": int(cmd_s)},
    "diagnose": {"no_model_rule": diag["heldout"][0], "model": diag["heldout"][1], "samples": {k: diag["samples"][k] for k in ("n", "model_right", "rule_right")},
                 "reproduced_prompt": diag["reproduced_prompt"], "reproduced_offered": diag["reproduced_offered"], "seconds": int(diag_s)},
    "multiturn": {"echoed": mt[0]["echoed"] if mt else None, "same_command": mt[0].get("same_command") if mt else None, "follow_ups": 4, "echo_pairs": mt[0]["echo_pairs"] if mt else None,
                  "test_rc": int(mt_rc), "seconds": int(mt_s)},
}
json.dump(res, open(os.path.join(out, "agents_eval.json"), "w"), indent=1)
c, d, m = res["cmd"], res["diagnose"], res["multiturn"]
f = lambda r, k: "-" if not r else f"{r[k]:.1f}%"
print(f"| measure | no model | {os.path.basename(gguf)} |\n|---|---|---|")
print(f"| cmd -n 1: program / flags / program+flags / exact ({c['limit']} pairs) | {f(c['no_model_tldr'],'program')} / {f(c['no_model_tldr'],'flags')} / {f(c['no_model_tldr'],'program_and_flags')} / {f(c['no_model_tldr'],'exact')} | {f(c['model_n1'],'program')} / {f(c['model_n1'],'flags')} / {f(c['model_n1'],'program_and_flags')} / {f(c['model_n1'],'exact')} |")
print(f"| cmd -n 3: program / flags / program+flags / exact | (as -n 1) | {f(c['model_n3'],'program')} / {f(c['model_n3'],'flags')} / {f(c['model_n3'],'program_and_flags')} / {f(c['model_n3'],'exact')} |")
r0, r1 = d["no_model_rule"], d["model"]
print(f"| diagnose held-out ({r1['records']}): root cause right | {r0['root_right_pct']:.1f}% | {r1['root_right_pct']:.1f}% |")
print(f"| ... with >= 2 offered findings ({r1['multi_offered']}) | {r0['root_right_multi_pct']:.1f}% | {r1['root_right_multi_pct']:.1f}% |")
print(f"| ... answers citing an unknown id | - | {r1['unknown_id_answers']} |")
print(f"| ... Then ids match (all / with Then in reference, {r1['with_then']}) | {r0['then_match_pct']:.1f}% / {r0['then_match_with_then_pct']:.1f}% | {r1['then_match_pct']:.1f}% / {r1['then_match_with_then_pct']:.1f}% |")
print(f"| incident samples: expected finding named root cause | {d['samples']['rule_right']}/{d['samples']['n']} | {d['samples']['model_right']}/{d['samples']['n']} |")
print(f"| multi-turn: follow-ups echoing an earlier answer (repeating its command) | - | {m['echoed']}/4 ({m['same_command']}/4) |")
print(f"seconds: cmd {c['seconds']}, diagnose {d['seconds']}, multiturn {m['seconds']}; JSON: {os.path.join(out, 'agents_eval.json')}")
PY
