#!/usr/bin/env python3
"""Render man pages and collect READMEs / example configs from the unpacked .deb files.

Input : .data/stage/<pkg>/ (from fetch_packages.sh), .data/raw/packages.tsv
Output: .data/raw/man.jsonl, .data/raw/doc.jsonl  ({"src","id","pkg","text"} per line)

Man pages: English sections 1, 5, 7, 8 only (any .../man/manN/ dir, e.g. usr/share/man/man8 or
usr/share/postgresql/15/man/man7), symlinks and `.so`
redirects skipped, rendered with `man -l` at 80 columns without hyphenation/justification and
`col -bx` (no overstrike). Docs: usr/share/doc/<pkg>/README*, NEWS-free, changelog/copyright
skipped, *.gz decompressed; usr/share/doc/*/examples/** and etc/** config files (text only,
<= 64 KiB each; at most MAX_DOC_PKG characters of docs a package, so one package's example tree
cannot swamp the corpus). Results are cached per package in .data/raw/render/<pkg>.jsonl.

Env: JOBS=2 packages rendered in parallel (the CPU machine has 2 shared cores);
     RENDER_DEADLINE=<unix time>: packages not yet rendered (and not cached) by then are skipped
     and listed in .data/raw/render_skipped.txt (pack.py records them in MANIFEST.json), so a
     cold build finishes on time; a later run renders them (the cache keeps the rest).
"""
import gzip, json, os, re, subprocess, sys, time
from multiprocessing import Pool

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
DATA = os.path.join(ROOT, ".data")
STAGE = os.path.join(DATA, "stage")
RAW = os.path.join(DATA, "raw")
CACHE = os.path.join(RAW, "render")
SECTIONS = ("1", "5", "7", "8")
MAX_DOC = 64 * 1024
MAX_DOC_PKG = 400_000
TYPO = str.maketrans({"\u2010": "-", "\u2011": "-", "\u2212": "-", "\u2013": "-", "\u2018": "'",
                      "\u2019": "'", "\u201c": '"', "\u201d": '"', "\u00a0": " ", "\u00ad": ""})
SKIP_DOC = re.compile(r"(changelog|copyright|changes|news|authors|thanks|todo|\.debian|buildinfo)",
                      re.I)
TEXT_EXT_BAD = re.compile(r"\.(png|jpe?g|gif|ico|pdf|ps|svg|html?|css|js|so|a|o|mo|gmo|pyc|bin|"
                          r"db|sqlite|tar|xz|bz2|zst|deb|der|crt|pem|key|p12|woff2?)$", re.I)


def clean(t):
    t = t.translate(TYPO).replace("\r\n", "\n")
    t = re.sub(r"[ \t]+\n", "\n", t)
    t = re.sub(r"\n{3,}", "\n\n", t)
    return t.strip() + "\n"


def render_man(path):
    with open(path, "rb") as f:
        raw = f.read()
    if path.endswith(".gz"):
        try:
            raw = gzip.decompress(raw)
        except Exception:
            return None
    head = raw[:200].lstrip()
    if head.startswith(b".so ") and raw.count(b"\n") <= 3:
        return None
    env = dict(os.environ, LANG="C.UTF-8", LC_ALL="C.UTF-8", MANWIDTH="80", MAN_KEEP_FORMATTING="")
    try:
        p = subprocess.run(["man", "-l", "--no-hyphenation", "--no-justification", "-"], input=raw,
                           stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, env=env, timeout=60)
        q = subprocess.run(["col", "-bx"], input=p.stdout, stdout=subprocess.PIPE,
                           stderr=subprocess.DEVNULL, env=env, timeout=60)
    except subprocess.TimeoutExpired:
        return None
    txt = q.stdout.decode("utf-8", "replace")
    if len(txt.strip()) < 200:
        return None
    return clean(txt)


def read_text(path):
    try:
        with open(path, "rb") as f:
            raw = f.read(MAX_DOC * 4 + 1)
        if path.endswith(".gz"):
            raw = gzip.decompress(raw)
        if len(raw) > MAX_DOC or b"\0" in raw[:4096]:
            return None
        t = raw.decode("utf-8")
    except Exception:
        return None
    if len(t.strip()) < 80:
        return None
    return clean(t)


def process_pkg(pkg):
    base = os.path.join(STAGE, pkg)
    out = []
    seen = set()
    # English man dirs: <anything>/man/manN (usr/share/man, usr/share/postgresql/15/man, ...);
    # translations live in <...>/man/<lang>/manN and are skipped
    mandirs = []
    for dp, dns, fns in os.walk(base):
        dns.sort()
        if os.path.basename(os.path.dirname(dp)) == "man" and os.path.basename(dp) in ["man" + s for s in SECTIONS]:
            mandirs.append(dp)
    for d in sorted(mandirs):
        for fn in sorted(os.listdir(d)):
            p = os.path.join(d, fn)
            if os.path.islink(p) or not os.path.isfile(p):
                continue
            name = re.sub(r"\.gz$", "", fn)
            txt = render_man(p)
            if txt:
                out.append({"src": "man", "id": "man/" + name, "pkg": pkg, "text": txt})
    # docs: READMEs and examples
    docdir = os.path.join(base, "usr/share/doc")
    cands = []
    if os.path.isdir(docdir):
        for dp, dns, fns in os.walk(docdir):
            dns.sort()
            for fn in sorted(fns):
                p = os.path.join(dp, fn)
                rel = os.path.relpath(p, base)
                if os.path.islink(p) or SKIP_DOC.search(fn) or TEXT_EXT_BAD.search(re.sub(r"\.gz$", "", fn)):
                    continue
                if fn.upper().startswith("README") or "/examples/" in rel + "/" or "/example" in rel:
                    cands.append((p, rel))
    etcdir = os.path.join(base, "etc")
    if os.path.isdir(etcdir):
        for dp, dns, fns in os.walk(etcdir):
            dns.sort()
            for fn in sorted(fns):
                p = os.path.join(dp, fn)
                if os.path.islink(p) or TEXT_EXT_BAD.search(fn):
                    continue
                cands.append((p, os.path.relpath(p, base)))
    doc_chars = 0
    for p, rel in cands:
        if doc_chars >= MAX_DOC_PKG:
            break
        txt = read_text(p)
        if not txt:
            continue
        doc_chars += len(txt)
        rel = re.sub(r"\.gz$", "", rel)
        if rel in seen:
            continue
        seen.add(rel)
        out.append({"src": "doc", "id": "doc/" + rel, "pkg": pkg,
                    "text": "# /" + rel + " (Debian package " + pkg + ")\n\n" + txt})
    return out


def render_cached(pkg):
    """Renders one package into its cache file (unless cached or past the deadline); returns
    (pkg, records or None when skipped)."""
    cf = os.path.join(CACHE, pkg + ".jsonl")
    if os.path.exists(cf):
        with open(cf) as f:
            return pkg, [json.loads(l) for l in f]
    deadline = float(os.environ.get("RENDER_DEADLINE", "0") or 0)
    if deadline and time.time() > deadline:
        return pkg, None
    recs = process_pkg(pkg)
    with open(cf + ".tmp", "w") as f:
        for r in recs:
            f.write(json.dumps(r, ensure_ascii=False) + "\n")
    os.replace(cf + ".tmp", cf)
    return pkg, recs


def main():
    os.makedirs(CACHE, exist_ok=True)
    pkgs = [l.split("\t")[0] for l in open(os.path.join(RAW, "packages.tsv")) if l.strip()]
    man, doc, skipped = [], [], []
    jobs = max(1, int(os.environ.get("JOBS", "2")))
    with Pool(jobs) as pool:
        for i, (pkg, recs) in enumerate(pool.imap(render_cached, pkgs)):
            if recs is None:
                skipped.append(pkg)
                print(f"[{i+1}/{len(pkgs)}] {pkg}: skipped (RENDER_DEADLINE)", file=sys.stderr)
                continue
            nm = sum(r["src"] == "man" for r in recs)
            print(f"[{i+1}/{len(pkgs)}] {pkg}: {nm} man, {len(recs)-nm} doc", file=sys.stderr)
            for r in recs:
                (man if r["src"] == "man" else doc).append(r)
    for name, recs in (("man", man), ("doc", doc)):
        with open(os.path.join(RAW, name + ".jsonl"), "w") as f:
            for r in recs:
                f.write(json.dumps(r, ensure_ascii=False) + "\n")
    with open(os.path.join(RAW, "render_skipped.txt"), "w") as f:
        f.write("".join(p + "\n" for p in skipped))
    print(f"man pages: {len(man)}, docs: {len(doc)}, packages skipped by the deadline: {len(skipped)}", file=sys.stderr)


if __name__ == "__main__":
    main()
