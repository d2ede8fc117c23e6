#!/usr/bin/env python3
"""tldr examples -> filled (request, command) pairs for sigmaops-sftgen's "cmd" and "explain" tasks.

Reuses tools/data/gen_tldr.py's placeholder filler, request phrasings and one-line explanations
(imported, not copied), with its own seed salt ("/sftgen<k>") so the pairs are new draws, not the
ones gen_tldr.py already wrote. Output: one JSON object per line on stdout:
  {"id","unit","page","tool","platform","desc","template","request","command","explanation",
   "page_desc","explain_desc","explain_command"}
The unit is gen_tldr's ("cmd/<page>"), so the split matches the pack's.
Usage: /usr/bin/python3 tools/sftgen/tldr_pairs.py [--per-example N] > .data/raw/agent_sft/tldr_pairs.jsonl
"""
import argparse, json, os, random, sys
sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "data"))
import gen_tldr as g  # noqa: E402
from common import SEED, stable_hash  # noqa: E402


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--per-example", type=int, default=1)
    a = ap.parse_args()
    pages = {}
    for plat in ("linux", "common"):
        d = os.path.join(g.PAGES, plat)
        for fn in sorted(os.listdir(d)):
            if fn.endswith(".md"):
                pages.setdefault(fn[:-3], []).append((plat, os.path.join(d, fn)))
    # gen_tldr fills VERBS from every description before conjugating; do the same.
    for page in sorted(pages):
        for plat, path in pages[page]:
            for desc, _ in g.parse_page(path)[3]:
                w = g.unmnemonic(desc).split(" ", 1)[0]
                if w[:1].isupper() and w[1:].islower() and w.isalpha():
                    g.VERBS.add(w.lower())
    g.VERBS.difference_update({"the", "a", "an", "all", "only", "each", "every", "one", "two", "this", "that", "then", "also",
                               "as", "in", "on", "to", "with", "without", "from", "for", "not"})
    n = 0
    out = sys.stdout
    for page in sorted(pages):
        unit = "cmd/" + page
        for plat, path in pages[page]:
            txt, tool, pdesc, ex = g.parse_page(path)
            if any("This command is an alias of" in l for l in pdesc):
                continue
            for j, (desc, tmpl) in enumerate(ex):
                eid = f"tldr/{plat}/{page}/{j}"
                for k in range(a.per_example):
                    rng = random.Random(SEED + stable_hash(eid + f"/sftgen{k}"))
                    cmd, vals = g.fill_command(tmpl, rng, prefer_first=True)
                    dfill = g.desc_with_values(desc, vals)
                    req = g.make_request(dfill, tool, vals, rng)
                    expl = g.third_person(dfill.rstrip(".")) + "."
                    ecmd, evals = g.fill_command(tmpl, rng, prefer_first=rng.random() < 0.6)
                    edesc = g.third_person(g.desc_with_values(desc, evals).rstrip(".")) + "."
                    out.write(json.dumps({"id": f"{eid}/{k}", "unit": unit, "page": page, "tool": tool, "platform": plat,
                                          "desc": desc, "template": tmpl, "request": req, "command": cmd,
                                          "explanation": expl, "page_desc": pdesc[0] if pdesc else "",
                                          "explain_command": ecmd, "explain_desc": edesc}, ensure_ascii=False) + "\n")
                    n += 1
    print(f"tldr_pairs: {n} pairs from {len(pages)} page names", file=sys.stderr)


if __name__ == "__main__":
    main()
