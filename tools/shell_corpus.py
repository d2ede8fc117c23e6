#!/usr/bin/env python3
"""Builds the shell parser's corpus of real snippets (derived data: written at test/bench time,
never committed) as JSON lines {"source": ..., "text": ...}:

  tldr        every example of ../shared/data/tldr/pages/{common,linux}/*.md, its {{placeholders}}
              replaced by plain words ({{[-C|--directory]}} -> -C, {{path/to/file}} -> path/to/file,
              {{search pattern}} -> search_pattern)
  completion  the bash-completion scripts in /usr/share/bash-completion/completions (symlinks
              skipped: they repeat a script)
  maintainer  /var/lib/dpkg/info/*.{preinst,postinst,prerm,postrm} whose first line names sh or bash

  truncated   (with --truncated N) one tldr example in N cut at a point chosen from its hash:
              mostly malformed input (open quotes, substitutions, `&&` at the end), to measure
              agreement on rejections as well

Usage: shell_corpus.py [--shared-data DIR] [--every N] [--truncated N] [--out FILE]
  --every N   keep one tldr example in N (a deterministic sample for a fast test); scripts all kept
Prints the counts per kind on stderr. Sources that are absent are skipped, with a note.
"""
import argparse
import glob
import hashlib
import json
import os
import re
import sys

PLACEHOLDER = re.compile(r"\{\{(.*?)\}\}")
OPTION_ALTERNATIVES = re.compile(r"^\[(-[^|\]]*)\|[^\]]*\]$")


def plain_word(inner):
    """A placeholder's content as one plain shell word."""
    m = OPTION_ALTERNATIVES.match(inner)
    if m:
        return m.group(1)
    word = re.sub(r"[^A-Za-z0-9._/+:=,@%*-]", "_", inner)
    return word or "x"


def tldr_examples(root, every):
    n = 0
    for platform in ("common", "linux"):
        for page in sorted(glob.glob(os.path.join(root, "pages", platform, "*.md"))):
            with open(page, encoding="utf-8", errors="replace") as f:
                for i, line in enumerate(f, 1):
                    line = line.rstrip("\n")
                    if not (line.startswith("`") and line.endswith("`") and len(line) > 2):
                        continue
                    n += 1
                    if every > 1 and n % every:
                        continue
                    text = PLACEHOLDER.sub(lambda m: plain_word(m.group(1)), line[1:-1])
                    yield {"source": f"tldr:{platform}/{os.path.basename(page)}:{i}", "text": text}


def truncated(examples, every):
    for n, item in enumerate(examples, 1):
        if n % every:
            continue
        text = item["text"]
        if len(text) < 4:
            continue
        h = int(hashlib.sha1(text.encode()).hexdigest()[:8], 16)
        cut = 2 + h % (len(text) - 2)
        yield {"source": "truncated:" + item["source"][5:] + f"@{cut}", "text": text[:cut]}


def scripts(pattern, kind, need_shebang):
    for path in sorted(glob.glob(pattern)):
        if os.path.islink(path) or not os.path.isfile(path):
            continue
        try:
            with open(path, "rb") as f:
                data = f.read()
            text = data.decode("utf-8")
        except (OSError, UnicodeDecodeError):
            continue
        if need_shebang:
            first = text.split("\n", 1)[0]
            if not (first.startswith("#!") and re.search(r"\b(ba)?sh\b", first)):
                continue
        yield {"source": f"{kind}:{path}", "text": text}


def main():
    here = os.path.dirname(os.path.abspath(__file__))
    ap = argparse.ArgumentParser()
    ap.add_argument("--shared-data", default=os.path.join(here, "..", "..", "shared", "data"))
    ap.add_argument("--every", type=int, default=1)
    ap.add_argument("--truncated", type=int, default=0)
    ap.add_argument("--out", default="-")
    args = ap.parse_args()

    out = sys.stdout if args.out == "-" else open(args.out, "w", encoding="utf-8")
    counts = {}
    tldr = os.path.join(args.shared_data, "tldr")
    sources = []
    if os.path.isdir(tldr):
        sources.append(("tldr", tldr_examples(tldr, args.every)))
        if args.truncated > 0:
            sources.append(("truncated", truncated(tldr_examples(tldr, 1), args.truncated)))
    else:
        print(f"note: no tldr pages at {tldr}", file=sys.stderr)
    sources.append(("completion", scripts("/usr/share/bash-completion/completions/*", "completion", False)))
    maint = []
    for ext in ("preinst", "postinst", "prerm", "postrm"):
        maint.append(scripts(f"/var/lib/dpkg/info/*.{ext}", "maintainer", True))
    for it in maint:
        sources.append(("maintainer", it))
    for kind, items in sources:
        for item in items:
            out.write(json.dumps(item, ensure_ascii=False) + "\n")
            counts[kind] = counts.get(kind, 0) + 1
    if out is not sys.stdout:
        out.close()
    print(" ".join(f"{k} {v}" for k, v in counts.items()), file=sys.stderr)


if __name__ == "__main__":
    main()
