#!/usr/bin/env python3
"""Assemble, deduplicate and split everything into .data/pack/ (the training interface).

Inputs (.data/raw/): man.jsonl, doc.jsonl, tldr_docs.jsonl, loghub_docs.jsonl,
                     sft_tldr.jsonl, sft_log.jsonl, sft_config.jsonl, packages.tsv,
                     sft_multiturn.jsonl (gen_multiturn.py: tasks "multiturn", "caution"),
                     agent_sft/sft_*.jsonl (tools/sftgen: agent-format records {"task","id","unit","messages"};
                     their task T is packed as "agent_T" and their id prefixed "agent/", so they
                     never collide with the tldr tasks of the same name; optional)
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
The "shown anywhere in train" pass (and so the held-out cmd set, identical to
tests/fixtures/cmd_eval/heldout_cmd.jsonl) uses the original three SFT sources only; records of
the newer sources (multiturn, caution, agent_*) are then dropped from TRAIN when they show a
held-out cmd command or the request of one (tests/fixtures/cmd_eval/heldout_cmd.jsonl included),
so adding them never changes the held-out evaluation pairs and never leaks them.
Every pack record carries its split "unit" (check_split.py verifies that no unit is on both sides).
"""
import glob, json, lzma, os, random, re, subprocess, sys, time
sys.path.insert(0, os.path.dirname(__file__))
from common import (RAW, PACK, DATA, SEED, stable_hash, HELDOUT_PER_MILLE, SPLIT_SALT, SYSTEM_PROMPT, is_heldout,
                    norm_key, exact_key, render_chat)

PRETRAIN_SOURCES = [("man", "man.jsonl"), ("doc", "doc.jsonl"), ("tldr", "tldr_docs.jsonl"), ("loghub", "loghub_docs.jsonl")]
SFT_SOURCES = ["sft_tldr.jsonl", "sft_log.jsonl", "sft_config.jsonl"]
NEW_SFT_SOURCES = ["sft_multiturn.jsonl"]          # plus agent_sft/*.jsonl when present
FIXTURE = os.path.join(os.path.dirname(__file__), "..", "..", "tests", "fixtures", "cmd_eval", "heldout_cmd.jsonl")
MAX_DOC_CHARS = 120_000        # longer documents (a few huge man pages / example files) are cut at a line break


def load(name):
    p = os.path.join(RAW, name)
    with open(p, encoding="utf-8") as f:
        return [json.loads(l) for l in f]


AGENT_STATS = {}


def load_agent():
    """tools/sftgen output: .data/raw/agent_sft/*.jsonl; task T -> "agent_T", id -> "agent/<id>"."""
    out = []
    st = os.path.join(RAW, "agent_sft", "stats.json")     # sftgen writes it last
    files = sorted(glob.glob(os.path.join(RAW, "agent_sft", "sft_*.jsonl")))
    if files and (not os.path.exists(st) or max(os.path.getmtime(p) for p in files) > os.path.getmtime(st)):
        print("pack: WARNING: tools/sftgen seems to be writing agent_sft/ (a file is newer than stats.json); "
              "copy a finished set elsewhere first", file=sys.stderr)
        AGENT_STATS["_warning"] = "files newer than stats.json: packed while sftgen was writing"
    for p in files:
        with open(p, encoding="utf-8") as f:
            for l in f:
                if not l.endswith("\n"):
                    break         # a file still being written: its last line is incomplete
                r = json.loads(l)
                if not all(k in r for k in ("task", "id", "unit", "messages")):
                    continue      # e.g. tldr_pairs.jsonl, sftgen's own intermediate input
                r["task"] = "agent_" + r["task"]
                r["id"] = "agent/" + r["id"]
                r["src_file"] = os.path.basename(p)
                out.append(r)
    # cap per task (AGENT_MAX_CHARS, default 40M characters of messages, ~12M tokens): records
    # kept in the order of a stable hash of their id, so the cap is a fair, reproducible sample
    cap = int(os.environ.get("AGENT_MAX_CHARS", "40000000"))
    by_task = {}
    for r in out:
        by_task.setdefault(r["task"], []).append(r)
    kept = []
    for t in sorted(by_task):
        acc = 0
        for r in sorted(by_task[t], key=lambda r: stable_hash("agent-cap:" + r["id"])):
            n = sum(len(m["content"]) for m in r["messages"])
            if acc + n > cap:
                continue
            acc += n
            kept.append(r)
    AGENT_STATS.update({t: {"records": len(v), "kept": sum(1 for r in kept if r["task"] == t)} for t, v in by_task.items()})
    return kept


def shown_commands(r):
    """Commands an SFT record shows: ```sh block lines and `inline` code of every non-system message."""
    out = set()
    for m in r["messages"]:
        if m["role"] == "system":
            continue
        for blk in re.findall(r"```(?:sh|bash)?\n(.*?)\n```", m["content"], re.S):
            out.update(norm_key(x) for x in blk.split("\n"))
        out.update(norm_key(x) for x in re.findall(r"`([^`\n]+)`", m["content"]))
    return out


def package_licences(pkg):
    """Short licence names from the package's Debian copyright file (DEP-5 'License:' lines);
    for a free-form file, the licences it names."""
    p = os.path.join(DATA, "stage", pkg, "usr", "share", "doc", pkg, "copyright")
    try:
        t = open(p, encoding="utf-8", errors="replace").read()
    except OSError:
        return ["see the copyright file of the package (not in the .deb of this package: shared doc dir)"]
    lic = []
    for m in re.finditer(r"^License:[ \t]*(\S.*)$", t, re.M):
        x = m.group(1).strip()
        if x not in lic:
            lic.append(x)
    if not lic:
        for name, rx in (("GPL", r"GNU General Public License|\bGPL\b"), ("LGPL", r"Lesser General Public|\bLGPL\b"),
                         ("BSD", r"\bBSD\b"), ("MIT", r"\bMIT\b|Permission is hereby granted, free of charge"),
                         ("Artistic", r"Artistic"), ("Apache-2.0", r"Apache License"), ("GFDL", r"Free Documentation License"),
                         ("public-domain", r"public domain")):
            if re.search(rx, t, re.I):
                lic.append(name)
        lic = lic or ["see /usr/share/doc/%s/copyright" % pkg]
    return lic[:12]


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


XZ_PRESET = 9                  # -9 (not -9e: 3x faster on the big pack, ~1 % larger); two files at a time


def write_xz(path, recs, fields):
    """Writes the records as xz JSON lines; a file whose content (sha1 of the JSON lines, kept in
    .data/work/<name>.sha1) did not change since the last build is not compressed again."""
    text = "".join(json.dumps({k: r[k] for k in fields if k in r}, ensure_ascii=False) + "\n" for r in recs)
    digest = exact_key(text)
    side = os.path.join(DATA, "work", os.path.basename(path) + ".sha1")
    if os.path.exists(path) and os.path.exists(side) and open(side).read().strip() == digest:
        return os.path.getsize(path)
    tmp = path + ".tmp"
    with lzma.open(tmp, "wt", encoding="utf-8", preset=XZ_PRESET) as f:
        f.write(text)
    os.replace(tmp, path)
    with open(side, "w") as f:
        f.write(digest + "\n")
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
    n_old_sources = len(sft)
    new = []
    for fn in NEW_SFT_SOURCES:
        new.extend(load(fn))
    if os.environ.get("PACK_AGENT", "1") != "0":       # PACK_AGENT=0: without tools/sftgen's records
        new.extend(load_agent())
    for r in new:
        r["newsrc"] = True
    sft.extend(new)
    for r in sft:
        r["held"] = is_heldout(r["unit"])
        split_units[r["unit"]] = "heldout" if r["held"] else "train"
    sft.sort(key=lambda r: (r["held"], bool(r.get("newsrc")), r["task"], r["id"]))
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
        if not r["held"] and not r.get("newsrc"):
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

    # newer sources: a TRAIN record that shows a held-out cmd command (or repeats its request) is dropped
    ho_cmd = {norm_key(r["command"]) for r in out_sft if r["held"] and r["task"] == "cmd"}
    ho_req = {norm_key(r["request"]) for r in out_sft if r["held"] and r["task"] == "cmd"}
    if os.path.exists(FIXTURE):
        with open(FIXTURE, encoding="utf-8") as f:
            for l in f:
                x = json.loads(l)
                ho_cmd.add(norm_key(x["command"]))
                ho_req.add(norm_key(x["request"]))
    dropped["train_new_shows_heldout"] = 0
    keep = []
    for r in out_sft:
        if r.get("newsrc") and not r["held"]:
            users = {norm_key(m["content"]) for m in r["messages"] if m["role"] == "user"}
            if shown_commands(r) & ho_cmd or users & ho_req:
                dropped["train_new_shows_heldout"] += 1
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
    f_pre = ["src", "id", "unit", "text"]
    f_sft = ["task", "id", "unit", "messages", "request", "command", "commands"]
    sm = [{"unit": u, "split": s} for u, s in sorted(split_units.items())]
    jobs = [("pretrain_train.jsonl.xz", pre_tr, f_pre), ("sft_train.jsonl.xz", sft_tr, f_sft),
            ("pretrain_heldout.jsonl.xz", pre_ho, f_pre), ("sft_heldout.jsonl.xz", sft_ho, f_sft),
            ("split_manifest.jsonl.xz", sm, ["unit", "split"])]
    from concurrent.futures import ThreadPoolExecutor     # lzma releases the GIL while compressing
    with ThreadPoolExecutor(2) as ex:
        futs = {n: ex.submit(write_xz, os.path.join(PACK, n), recs, fl) for n, recs, fl in jobs}
        for n, fu in futs.items():
            sizes[n] = fu.result()

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

    sk = os.path.join(RAW, "render_skipped.txt")
    skipped_render = [l.strip() for l in open(sk) if l.strip()] if os.path.exists(sk) else []
    pkgs = [l.rstrip("\n").split("\t") for l in open(os.path.join(RAW, "packages.tsv")) if l.strip()]
    missing = [l.strip() for l in open(os.path.join(RAW, "packages_missing.txt")) if l.strip()]
    man_pk = {}
    for r in out_docs:
        if r["src"] in ("man", "doc"):
            man_pk.setdefault(r["pkg"], [0, 0])[0 if r["src"] == "man" else 1] += 1
    manifest = {
        "name": "sigma-ops corpus (nano, small)",
        "loghub": os.environ.get("NO_LOGHUB") != "1",
        "render_skipped": skipped_render,
        "agent_sft": {"files": sorted(os.path.basename(p) for p in glob.glob(os.path.join(RAW, "agent_sft", "sft_*.jsonl"))),
                      "by_task": AGENT_STATS, "max_chars_per_task": int(os.environ.get("AGENT_MAX_CHARS", "40000000")),
                      "included": os.environ.get("PACK_AGENT", "1") != "0"},
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
                                                        "man_pages": man_pk.get(p[0], [0, 0])[0], "docs": man_pk.get(p[0], [0, 0])[1],
                                                        "licences": package_licences(p[0])} for p in pkgs],
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
            "synthetic": "log scenarios and config examples generated by tools/data/gen_logs.py and gen_config.py (project code; ours)",
            "multiturn_caution": "tools/data/gen_multiturn.py: conversations and cautions built from tldr examples (derived from tldr-pages, "
                                 "CC BY 4.0, attribution as above) plus generated log-query conversations and caution scenarios (ours)",
            "agent": "tools/sftgen (sigmaops-sftgen): records in the agents' own prompt formats, generated by the project's deterministic "
                     "agents and generators (ours); its cmd/explain pairs are drawn from tldr examples (CC BY 4.0, attribution as above)",
        },
        "elapsed_s": round(time.time() - t0, 1),
    }
    if os.environ.get("NO_LOGHUB") == "1":
        manifest["sources_and_licences"]["loghub"] = "not used (built with NO_LOGHUB=1)"
    manifest["split_rule"] += ("; multiturn/caution records from tldr use cmd/<page>, the others multiturn-log/<i> and "
                               "caution-scenario/<name>/<i>; agent records (tools/sftgen) carry their own unit, cmd/<page> for tldr-based ones")
    with open(os.path.join(PACK, "MANIFEST.json.tmp"), "w") as f:
        json.dump(manifest, f, indent=1, ensure_ascii=False)
    os.replace(os.path.join(PACK, "MANIFEST.json.tmp"), os.path.join(PACK, "MANIFEST.json"))
    print(json.dumps({k: manifest[k] for k in ("pretrain", "sft", "dedup", "files")}, indent=1), file=sys.stderr)


if __name__ == "__main__":
    main()
