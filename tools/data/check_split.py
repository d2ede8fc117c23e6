#!/usr/bin/env python3
"""Independent check of the held-out split in .data/pack/ (run after pack.py).

* no pretrain or SFT record id is on both sides; held-out units never appear in train;
* every held-out "cmd" command: not equal (normalized) to any command shown in a ```sh block or
  backticks anywhere in sft_train, and its request text is not in sft_train;
* the tldr template of every held-out cmd example (recovered from the held-out tldr documents)
  does not occur as an example line in any train tldr document;
* (issue 21) every record carries its split unit: no unit is on both sides, and every unit's side
  is the one common.is_heldout gives it (all tasks: cmd, explain, log, config, multiturn,
  caution, agent_*; all pretraining sources);
* the held-out evaluation pairs of tests/fixtures/cmd_eval/heldout_cmd.jsonl (the ones the
  agents' table is measured on): no command shown and no request asked anywhere in sft_train
  (any turn of any conversation, ```sh/```bash blocks and `inline` code).
Prints counts; exits 1 on any violation.
"""
import json, lzma, os, re, sys
sys.path.insert(0, os.path.dirname(__file__))
from common import PACK, norm_key, is_heldout

FIXTURE = os.path.join(os.path.dirname(__file__), "..", "..", "tests", "fixtures", "cmd_eval", "heldout_cmd.jsonl")


def read(name):
    with lzma.open(os.path.join(PACK, name), "rt", encoding="utf-8") as f:
        return [json.loads(l) for l in f]


def main():
    bad = 0
    pre_tr, pre_ho = read("pretrain_train.jsonl.xz"), read("pretrain_heldout.jsonl.xz")
    sft_tr, sft_ho = read("sft_train.jsonl.xz"), read("sft_heldout.jsonl.xz")
    for a, b, what in ((pre_tr, pre_ho, "pretrain"), (sft_tr, sft_ho, "sft")):
        both = {r["id"] for r in a} & {r["id"] for r in b}
        if both:
            print(f"{what}: {len(both)} ids on both sides", list(both)[:5]); bad += 1
    # units: present on every record, one side each, the side is_heldout() gives
    side = {}
    n_unit_bad = 0
    for recs, held in ((pre_tr, False), (pre_ho, True), (sft_tr, False), (sft_ho, True)):
        for r in recs:
            u = r.get("unit")
            if u is None:
                n_unit_bad += 1
                continue
            if side.setdefault(u, held) != held or is_heldout(u) != held:
                n_unit_bad += 1
    if n_unit_bad:
        print(f"units: {n_unit_bad} records without a unit, on both sides or on the wrong side"); bad += 1
    tasks_tr, tasks_ho = {}, {}
    for recs, d in ((sft_tr, tasks_tr), (sft_ho, tasks_ho)):
        for r in recs:
            d[r["task"]] = d.get(r["task"], 0) + 1
    print(f"units: {len(side)} ({sum(side.values())} held out); sft tasks train {dict(sorted(tasks_tr.items()))}, "
          f"held out {dict(sorted(tasks_ho.items()))}")
    train_cmds, train_req, train_user = set(), set(), set()
    for r in sft_tr:
        for m in r["messages"][1:]:
            if m["role"] == "user":
                train_user.add(norm_key(m["content"]))
            for blk in re.findall(r"```(?:sh|bash)?\n(.*?)\n```", m["content"], re.S):
                for line in blk.split("\n"):
                    train_cmds.add(norm_key(line))
            for inl in re.findall(r"`([^`\n]+)`", m["content"]):
                train_cmds.add(norm_key(inl))
        if r["task"] == "cmd":
            train_req.add(norm_key(r["request"]))
    ho_cmd = [r for r in sft_ho if r["task"] == "cmd"]
    leak_c = [r["id"] for r in ho_cmd if norm_key(r["command"]) in train_cmds]
    leak_r = [r["id"] for r in ho_cmd if norm_key(r["request"]) in train_req]
    tmpl = lambda s: norm_key(re.sub(r"\{\{.*?\}\}", "{}", s))
    train_tl = set()
    for r in pre_tr:
        if r["src"] == "tldr":
            for line in r["text"].split("\n"):
                if line.startswith("`") and line.endswith("`"):
                    train_tl.add(tmpl(line[1:-1]))
    ho_pages = {}
    for r in pre_ho:
        if r["src"] == "tldr":
            ex = [l[1:-1] for l in r["text"].split("\n") if l.startswith("`") and l.endswith("`")]
            ho_pages[r["id"]] = ex
    leak_t = []
    for r in ho_cmd:
        _, plat, page, j, _k = r["id"].split("/")
        ex = ho_pages.get(f"tldr/{plat}/{page}")
        if ex is None:
            leak_t.append(r["id"] + " (page not held out)")
        elif tmpl(ex[int(j)]) in train_tl:
            leak_t.append(r["id"])
    print(f"held-out cmd pairs: {len(ho_cmd)}; command seen in train: {len(leak_c)}; request seen in train: {len(leak_r)}; "
          f"template in a train tldr page: {len(leak_t)}")
    for lst in (leak_c, leak_r, leak_t):
        if lst:
            print("  e.g.", lst[:5]); bad += 1
    if os.path.exists(FIXTURE):
        fx = [json.loads(l) for l in open(FIXTURE, encoding="utf-8") if l.strip()]
        fc = [x["id"] for x in fx if norm_key(x["command"]) in train_cmds]
        fr = [x["id"] for x in fx if norm_key(x["request"]) in train_user]
        fu = [x["id"] for x in fx if side.get("cmd/" + x["page"]) is False]
        print(f"eval fixture pairs: {len(fx)}; command shown in train: {len(fc)}; request asked in train: {len(fr)}; "
              f"page trained on: {len(fu)}")
        for lst in (fc, fr, fu):
            if lst:
                print("  e.g.", lst[:5]); bad += 1
    # tools/sftgen's own evaluation sets (.data/raw/agent_sft/eval_*.jsonl, not packed): their units
    # must not be trained on
    import glob
    from common import RAW
    for ep in sorted(glob.glob(os.path.join(RAW, "agent_sft", "eval_*.jsonl"))):
        units = set()
        with open(ep, encoding="utf-8") as f:
            for l in f:
                if l.endswith("\n"):
                    units.add(json.loads(l).get("unit"))
        tr = sorted(u for u in units if side.get(u) is False)
        print(f"{os.path.basename(ep)}: {len(units)} units; trained on: {len(tr)}")
        if tr:
            print("  e.g.", tr[:5]); bad += 1
    sys.exit(1 if bad else 0)


if __name__ == "__main__":
    main()
