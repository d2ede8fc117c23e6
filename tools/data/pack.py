#!/usr/bin/env python3
"""Assemble, deduplicate and split everything into .data/pack/ (the training interface).

Inputs (.data/raw/): man.jsonl, doc.jsonl, tldr_docs.jsonl, loghub_docs.jsonl,
                     sft_tldr.jsonl, sft_log.jsonl, sft_config.jsonl, packages.tsv
Outputs (.data/pack/): pretrain_{train,heldout}.jsonl.xz, sft_{train,heldout}.jsonl.xz,
                       split_manifest.jsonl.xz (unit -> split for every source unit), MANIFEST.json
                       and .data/work/spm_input.txt (train-split text for spm_train).
Split: common.is_heldout(unit) -- a stable SHA-256 of the source unit, 3.0 % held out.
  man page "cmd/<name>" (same unit as the tldr page <name>), doc file "doc/<pkg>/<path>",
  tldr page "cmd/<page>", loghub block "loghub/<S>/<n>", synthetic log "synthlog/<scenario>/<i>",
  config example "config/<gen>/<i>".
Dedup: exact SHA-1 and normalized (case-folded, whitespace-collapsed) SHA-1 over documents and
over SFT examples (all message contents); a duplicate that crosses the split is dropped from the
held-out side. Held-out "cmd" pairs are additionally dropped when their tldr template, filled
command, request or (tool, description) occurs anywhere in the train SFT set (near-duplicate
pages such as `docker ps` / `docker container ls`); held-out "explain" examples likewise when
their command occurs in train.
"""
import json, lzma, os, random, re, subprocess, sys, time
sys.path.insert(0, os.path.dirname(__file__))
from common import (RAW, PACK, DATA, SEED, HELDOUT_PER_MILLE, SPLIT_SALT, SYSTEM_PROMPT, is_heldout,
                    norm_key, exact_key, render_chat)

PRETRAIN_SOURCES = [("man", "man.jsonl"), ("doc", "doc.jsonl"), ("tldr", "tldr_docs.jsonl"), ("loghub", "loghub_docs.jsonl")]
SFT_SOURCES = ["sft_tldr.jsonl", "sft_log.jsonl", "sft_config.jsonl"]
MAX_DOC_CHARS = 120_000        # longer documents (a few huge man pages / example files) are cut at a line break


def load(name):
    p = os.path.join(RAW, name)
    with open(p, encoding="utf-8") as f:
        return [json.loads(l) for l in f]


def unit_of(r):
    if r.get("unit"):
        return r["unit"]
    if r["src"] == "man":
        base = r["id"].split("/", 1)[1]
        return "cmd/" + re.sub(r"\.[0-9][a-z0-9]*$", "", base)
    if r["src"] == "doc":
        return "doc/" + r["pkg"] + "/" + r["id"].split("/", 1)[1]
    return r["src"] + "/" + r["id"]


def tmpl_key(t):
    return norm_key(re.sub(r"\{\{.*?\}\}", "{}", t))


def cmd_keys(r):
    """Near-duplicate keys of a request->command example. Short generic descriptions ("Display
    help") are not keys: they repeat across unrelated tools without leaking the command."""
    k = {"t:" + tmpl_key(r["template"]), "c:" + norm_key(r["command"]), "r:" + norm_key(r["request"])}
    if len(r["desc"].split()) >= 6:
        k.add("d:" + norm_key(r["desc"]))
    return k


def write_xz(path, recs, fields):
    tmp = path + ".tmp"
    with lzma.open(tmp, "wt", encoding="utf-8", preset=9 | lzma.PRESET_EXTREME) as f:
        for r in recs:
            f.write(json.dumps({k: r[k] for k in fields if k in r}, ensure_ascii=False) + "\n")
    os.replace(tmp, path)
    return os.path.getsize(path)


def main():
    t0 = time.time()
    os.makedirs(PACK, exist_ok=True)
    os.makedirs(os.path.join(DATA, "work"), exist_ok=True)
    stats = {"dedup": {}}
    split_units = {}

    # ---------------- pretrain documents
    docs = []
    for src, fn in PRETRAIN_SOURCES:
        for r in load(fn):
            r["unit"] = unit_of(r)
            t = r["text"]
            if len(t) > MAX_DOC_CHARS:
                cut = t.rfind("\n", 0, MAX_DOC_CHARS)
                r["text"] = t[:cut + 1]
            docs.append(r)
    for r in docs:
        r["held"] = is_heldout(r["unit"])
        split_units[r["unit"]] = "heldout" if r["held"] else "train"
    # train copies win: sort so that train docs come first, then by id (deterministic)
    docs.sort(key=lambda r: (r["held"], r["src"], r["id"]))
    seen_e, seen_n, out_docs, dropped = set(), set(), [], {"exact": 0, "normalized": 0}
    for r in docs:
        e, n = exact_key(r["text"]), norm_key(r["text"])
        if e in seen_e:
            dropped["exact"] += 1
            continue
        if n in seen_n:
            dropped["normalized"] += 1
            continue
        seen_e.add(e)
        seen_n.add(n)
        out_docs.append(r)
    stats["dedup"]["pretrain"] = dropped

    # ---------------- SFT
    sft = []
    for fn in SFT_SOURCES:
        sft.extend(load(fn))
    for r in sft:
        r["held"] = is_heldout(r["unit"])
        split_units[r["unit"]] = "heldout" if r["held"] else "train"
    sft.sort(key=lambda r: (r["held"], r["task"], r["id"]))
    seen_e, seen_n, out_sft = set(), set(), []
    dropped = {"exact": 0, "normalized": 0, "heldout_near_duplicate": 0, "cmd_request_duplicate": 0}
    train_cmd_keys, req_seen = set(), set()
    for r in sft:
        body = render_chat(r["messages"][1:])  # the system prompt does not make an example new
        e, n = exact_key(body), norm_key(body)
        if e in seen_e:
            dropped["exact"] += 1
            continue
        if n in seen_n:
            dropped["normalized"] += 1
            continue
        if r["task"] == "cmd":
            rk = norm_key(r["request"])
            if rk in req_seen:       # same request text must not map to two commands
                dropped["cmd_request_duplicate"] += 1
                continue
        if r["held"] and r["task"] in ("cmd", "explain"):
            keys = set()
            if r["task"] == "cmd":
                keys = cmd_keys(r)
            else:
                keys = {"c:" + norm_key(r["cmd_raw"])}
            if keys & train_cmd_keys:
                dropped["heldout_near_duplicate"] += 1
                continue
        if not r["held"] and r["task"] == "cmd":
            train_cmd_keys.update(cmd_keys(r))
        if not r["held"] and r["task"] == "explain":
            train_cmd_keys.add("c:" + norm_key(r["cmd_raw"]))
        if r["task"] == "cmd":
            req_seen.add(norm_key(r["request"]))
        seen_e.add(e)
        seen_n.add(n)
        out_sft.append(r)
    stats["dedup"]["sft"] = dropped

    # strict last pass: a held-out cmd/explain command must not appear as a command anywhere in the
    # train SFT text (```sh lines or `inline` code), e.g. `ls` inside sftp vs. plain `ls`
    shown = set()
    for r in out_sft:
        if not r["held"]:
            for m in r["messages"][1:]:
                for blk in re.findall(r"```sh\n(.*?)\n```", m["content"], re.S):
                    shown.update(norm_key(x) for x in blk.split("\n"))
                shown.update(norm_key(x) for x in re.findall(r"`([^`\n]+)`", m["content"]))
    keep = []
    for r in out_sft:
        c = r.get("command") if r["task"] == "cmd" else r.get("cmd_raw") if r["task"] == "explain" else None
        if r["held"] and c is not None and norm_key(c) in shown:
            dropped["heldout_near_duplicate"] += 1
            continue
        keep.append(r)
    out_sft = keep

    pre_tr = [r for r in out_docs if not r["held"]]
    pre_ho = [r for r in out_docs if r["held"]]
    sft_tr = [r for r in out_sft if not r["held"]]
    sft_ho = [r for r in out_sft if r["held"]]
    rng = random.Random(SEED)
    rng.shuffle(pre_tr)
    rng.shuffle(sft_tr)
    sizes = {}
    sizes["pretrain_train.jsonl.xz"] = write_xz(os.path.join(PACK, "pretrain_train.jsonl.xz"), pre_tr, ["src", "id", "text"])
    sizes["pretrain_heldout.jsonl.xz"] = write_xz(os.path.join(PACK, "pretrain_heldout.jsonl.xz"), pre_ho, ["src", "id", "text"])
    f_sft = ["task", "id", "messages", "request", "command"]
    sizes["sft_train.jsonl.xz"] = write_xz(os.path.join(PACK, "sft_train.jsonl.xz"), sft_tr, f_sft)
    sizes["sft_heldout.jsonl.xz"] = write_xz(os.path.join(PACK, "sft_heldout.jsonl.xz"), sft_ho, f_sft)
    sm = [{"unit": u, "split": s} for u, s in sorted(split_units.items())]
    sizes["split_manifest.jsonl.xz"] = write_xz(os.path.join(PACK, "split_manifest.jsonl.xz"), sm, ["unit", "split"])

    # ---------------- tokenizer input: TRAIN split only, one line per sentence
    n_lines = 0
    with open(os.path.join(DATA, "work", "spm_input.txt"), "w", encoding="utf-8") as f:
        for r in pre_tr:
            for line in r["text"].split("\n"):
                if line.strip():
                    f.write(line + "\n")
                    n_lines += 1
        for r in sft_tr:
            for line in render_chat(r["messages"]).split("\n"):
                if line.strip():
                    f.write(line + "\n")
                    n_lines += 1

    def cnt(recs, key):
        d = {}
        for r in recs:
            d[r[key]] = d.get(r[key], 0) + 1
        return dict(sorted(d.items()))

    def chars(recs, sft=False):
        return sum(len(render_chat(r["messages"])) if sft else len(r["text"]) for r in recs)

    pkgs = [l.rstrip("\n").split("\t") for l in open(os.path.join(RAW, "packages.tsv")) if l.strip()]
    missing = [l.strip() for l in open(os.path.join(RAW, "packages_missing.txt")) if l.strip()]
    man_pk = {}
    for r in out_docs:
        if r["src"] in ("man", "doc"):
            man_pk.setdefault(r["pkg"], [0, 0])[0 if r["src"] == "man" else 1] += 1
    manifest = {
        "name": "sigma-ops-nano corpus",
        "built_utc": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "build_commands": ["bash tools/data/build_corpus.sh", "bash tools/data/train_tokenizer.sh"],
        "seeds": {"generators": SEED, "shuffle": SEED, "split_salt": SPLIT_SALT, "heldout_per_mille": HELDOUT_PER_MILLE},
        "split_rule": "held out iff int(sha256(split_salt + ':' + unit)[:12], 16) % 1000 < heldout_per_mille; "
                      "units: cmd/<name> (tldr page + man page of that name), doc/<pkg>/<path>, loghub/<system>/<block of 100 lines>, "
                      "synthlog/<scenario>/<i>, config/<generator>/<i>",
        "files": {k: {"bytes": v} for k, v in sizes.items()},
        "pretrain": {"train": {"docs": len(pre_tr), "by_src": cnt(pre_tr, "src"), "chars": chars(pre_tr)},
                     "heldout": {"docs": len(pre_ho), "by_src": cnt(pre_ho, "src"), "chars": chars(pre_ho)},
                     "max_doc_chars": MAX_DOC_CHARS},
        "sft": {"train": {"examples": len(sft_tr), "by_task": cnt(sft_tr, "task"), "chars": chars(sft_tr, True)},
                "heldout": {"examples": len(sft_ho), "by_task": cnt(sft_ho, "task"), "chars": chars(sft_ho, True)},
                "chat_format": "sigma: <|role|>\\n{content}<|end|>\\n per message, generation prompt <|assistant|>\\n",
                "default_system_prompt": SYSTEM_PROMPT,
                "note": "chars counted on the rendered chat; 'cmd' records carry 'request' and the exact 'command' for exact-match eval"},
        "dedup": stats["dedup"],
        "tokenizer_input_lines": n_lines,
        "debian": {"release": "bookworm", "packages": [{"name": p[0], "version": p[1], "deb": p[2],
                                                        "man_pages": man_pk.get(p[0], [0, 0])[0], "docs": man_pk.get(p[0], [0, 0])[1]} for p in pkgs],
                   "missing": missing},
        "sources_and_licences": {
            "man": "Debian bookworm man pages (sections 1, 5, 7, 8) rendered with man-db/groff; each page keeps its package's licence "
                   "(GPL/LGPL/BSD/MIT/GFDL and others, see /usr/share/doc/<pkg>/copyright of the package versions listed)",
            "doc": "READMEs, /usr/share/doc/*/examples and /etc defaults of the same Debian packages, same licences as their packages",
            "tldr": "tldr-pages (https://github.com/tldr-pages/tldr, commit 08e345f): tldr-pages contributors, CC BY 4.0 - attribution required; "
                    "also the source of the cmd/explain SFT examples",
            "loghub": "Loghub / Loghub-2.0 2k samples (logpai): research/academic use; cite: Jieming Zhu, Shilin He, Pinjia He, Jinyang Liu, "
                      "Michael R. Lyu. Loghub: A Large Collection of System Log Datasets for AI-driven Log Analytics. ISSRE 2023; "
                      "and Loghub-2.0 (Jiang et al., ISSTA 2024)",
            "synthetic": "log scenarios and config examples generated by tools/data/gen_logs.py and gen_config.py (project code)",
        },
        "elapsed_s": round(time.time() - t0, 1),
    }
    with open(os.path.join(PACK, "MANIFEST.json.tmp"), "w") as f:
        json.dump(manifest, f, indent=1, ensure_ascii=False)
    os.replace(os.path.join(PACK, "MANIFEST.json.tmp"), os.path.join(PACK, "MANIFEST.json"))
    print(json.dumps({k: manifest[k] for k in ("pretrain", "sft", "dedup", "files")}, indent=1), file=sys.stderr)


if __name__ == "__main__":
    main()
