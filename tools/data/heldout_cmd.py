#!/usr/bin/env python3
"""The held-out request -> command pairs of sigma-ops-nano, rebuilt without the .data pack.

Runs the SFT generators (gen_tldr, gen_logs, gen_config) into a temporary directory and applies
pack.py's SFT rules (exact/normalized dedup, one command per request, held-out near-duplicates of
train dropped, the strict "shown anywhere in train" pass) to keep exactly the held-out "cmd"
examples the model card counts (699). The split is common.is_heldout(unit): a tldr page and the
man page of the same name form one unit, so no held-out tool was seen in training at all.

Output (default tests/fixtures/cmd_eval/heldout_cmd.jsonl), one JSON object per line, sorted by a
stable hash of the id (so the first N lines are a fair sample):
  {"id", "page", "request", "command", "template", "desc"}
The evaluation (bench/bench_cmd_eval.cpp) reads it; the training data never held these pairs.
"""
import json, os, re, shutil, sys, tempfile
sys.path.insert(0, os.path.dirname(__file__))
import common
from common import norm_key, exact_key, render_chat, is_heldout, stable_hash
import pack

OUT = os.path.join(common.ROOT, "tests", "fixtures", "cmd_eval", "heldout_cmd.jsonl")


def generate(tmp):
    """Runs the three SFT generators with their output redirected to `tmp`."""
    import gen_tldr, gen_logs, gen_config
    for mod in (gen_tldr, gen_logs, gen_config):
        mod.RAW = tmp
        mod.main()
    sft = []
    for fn in pack.SFT_SOURCES:
        with open(os.path.join(tmp, fn), encoding="utf-8") as f:
            sft.extend(json.loads(l) for l in f)
    return sft


def heldout_cmd(sft):
    """pack.py's SFT pass (same order, same keys), returning the held-out cmd examples it keeps."""
    for r in sft:
        r["held"] = is_heldout(r["unit"])
    sft.sort(key=lambda r: (r["held"], r["task"], r["id"]))
    seen_e, seen_n, out = set(), set(), []
    train_cmd_keys, req_seen = set(), set()
    for r in sft:
        body = render_chat(r["messages"][1:])
        e, n = exact_key(body), norm_key(body)
        if e in seen_e or n in seen_n:
            continue
        if r["task"] == "cmd":
            if norm_key(r["request"]) in req_seen:
                continue
        if r["held"] and r["task"] in ("cmd", "explain"):
            keys = pack.cmd_keys(r) if r["task"] == "cmd" else {"c:" + norm_key(r["cmd_raw"])}
            if keys & train_cmd_keys:
                continue
        if not r["held"] and r["task"] == "cmd":
            train_cmd_keys.update(pack.cmd_keys(r))
        if not r["held"] and r["task"] == "explain":
            train_cmd_keys.add("c:" + norm_key(r["cmd_raw"]))
        if r["task"] == "cmd":
            req_seen.add(norm_key(r["request"]))
        seen_e.add(e)
        seen_n.add(n)
        out.append(r)
    shown = set()
    for r in out:
        if not r["held"]:
            for m in r["messages"][1:]:
                for blk in re.findall(r"```sh\n(.*?)\n```", m["content"], re.S):
                    shown.update(norm_key(x) for x in blk.split("\n"))
                shown.update(norm_key(x) for x in re.findall(r"`([^`\n]+)`", m["content"]))
    return [r for r in out if r["held"] and r["task"] == "cmd" and norm_key(r["command"]) not in shown]


def main():
    out_path = sys.argv[1] if len(sys.argv) > 1 else OUT
    tmp = tempfile.mkdtemp(prefix="sigmaops-heldout-")
    try:
        rows = heldout_cmd(generate(tmp))
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    rows.sort(key=lambda r: stable_hash("cmd-eval:" + r["id"]))
    os.makedirs(os.path.dirname(out_path), exist_ok=True)
    with open(out_path, "w", encoding="utf-8") as f:
        for r in rows:
            page = r["unit"].split("/", 1)[1]
            f.write(json.dumps({"id": r["id"], "page": page, "request": r["request"], "command": r["command"],
                                "template": r["template"], "desc": r["desc"]}, ensure_ascii=False) + "\n")
    print(f"heldout_cmd: {len(rows)} held-out request->command pairs -> {out_path}", file=sys.stderr)


if __name__ == "__main__":
    main()
