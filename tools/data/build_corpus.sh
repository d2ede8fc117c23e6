#!/usr/bin/env bash
# One entry point: Debian packages -> rendered man pages/docs; tldr + loghub + generated SFT data
# -> dedup -> split -> .data/pack/. Idempotent: downloads and renders are cached under .data/.
# Usage: bash tools/data/build_corpus.sh            (then: bash tools/data/train_tokenizer.sh)
# Env:   NICE=19 (default) niceness for the heavy steps; FORCE_RENDER=1 re-renders man pages;
#        NO_LOGHUB=1 builds the pack without Loghub (research/academic licence) for a model that
#        may ship commercially (sigma-ops-small is built this way);
#        JOBS=2 packages rendered in parallel; RENDER_DEADLINE=<unix time> skips packages not yet
#        rendered by then (listed in MANIFEST.json "render_skipped"; a rerun renders them).
# Agent-format SFT records of tools/sftgen in .data/raw/agent_sft/*.jsonl are packed when present.
set -euo pipefail
HERE="$(cd "$(dirname "$0")" && pwd)"
ROOT="$(cd "$HERE/../.." && pwd)"
PY=/usr/bin/python3                      # Debian python3 (has sentencepiece 0.1.97)
NICE="${NICE:-19}"
mkdir -p "$ROOT/.data/raw" "$ROOT/.data/pack" "$ROOT/.data/work"
for tool in man col groff dpkg-deb apt-get xz; do
  command -v "$tool" >/dev/null || { echo "missing $tool (apt-get install man-db groff-base xz-utils)" >&2; exit 1; }
done
[ -d "$ROOT/../shared/data/tldr/pages" ] || { echo "missing ../shared/data/tldr" >&2; exit 1; }
t0=$(date +%s)
step() { echo "== $(date -u +%H:%M:%S) $*" >&2; }
step "1/7 fetch + unpack Debian packages (tools/data/packages.txt)"
nice -n "$NICE" bash "$HERE/fetch_packages.sh"
if [ "${FORCE_RENDER:-0}" = 1 ]; then rm -rf "$ROOT/.data/raw/render"; fi
step "2/7 render man pages, collect READMEs/examples (cached per package)"
JOBS="${JOBS:-2}" RENDER_DEADLINE="${RENDER_DEADLINE:-}" nice -n "$NICE" "$PY" "$HERE/render_docs.py"
step "3/7 tldr -> pretrain docs + cmd/explain SFT"
nice -n "$NICE" "$PY" "$HERE/gen_tldr.py"
step "4/7 loghub + synthetic logs -> log SFT"
NO_LOGHUB="${NO_LOGHUB:-0}" nice -n "$NICE" "$PY" "$HERE/gen_logs.py"
step "5/7 config generators -> config SFT"
nice -n "$NICE" "$PY" "$HERE/gen_config.py"
step "6/7 multi-turn conversations + cautions (from tldr, generated)"
nice -n "$NICE" "$PY" "$HERE/gen_multiturn.py"
step "7/7 dedup, split, write pack (xz -9; agent_sft/sft_*.jsonl: $(ls "$ROOT/.data/raw/agent_sft/"sft_*.jsonl 2>/dev/null | wc -l) files)"
NO_LOGHUB="${NO_LOGHUB:-0}" nice -n "$NICE" "$PY" "$HERE/pack.py"
du -b "$ROOT/.data/pack"/* >&2
echo "build_corpus: done in $(( $(date +%s) - t0 )) s" >&2
