"""Check a Sigma GGUF against the C++ engine on this (CPU) machine.

  /usr/bin/python3 tools/train/verify_engine.py --gguf m.gguf [--sigmaops build/me/app/sigmaops]
      [--tokens 1,2,3 | --tokens-json eval.json] [--spm tokenizer.model --sft sft_heldout.jsonl.xz]
      [--ref-logits ref_gguf.f32] [--selective-v 8] [--out verify.json]

1. logits: the engine (`sigmaops logits`) on the file vs model.py in float64 on the same
   dequantized weights; also an F32 copy of the file (same values, F32 storage) vs float64.
   Acceptance: max |diff| <= 2e-2 (Q8_0), <= 1e-3 (F32).
2. selective V: `sigmaops logits --selective-v K` vs model.py with selective_v=K (F32 copy).
3. --ref-logits: logits written by eval.py on the GPU (same GGUF weights, float32) vs engine.
4. tokenization: tools/train/tokcheck.cpp (engine tokenizer from the GGUF, BOS + parse_special,
   as a chat prompt is encoded) vs python sentencepiece, on chat-rendered held-out examples;
   and <|end|> must be an end-of-generation token for the engine.
"""

import argparse
import json
import os
import subprocess
import sys
import tempfile

import numpy as np
import torch

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.abspath(os.path.join(HERE, "..", ".."))
sys.path.insert(0, HERE)
sys.path.insert(0, os.path.join(HERE, "..", "ref"))
import gguf_io as G  # noqa: E402
import export_gguf  # noqa: E402
from eval import load_gguf_model  # noqa: E402


def engine_logits(sigmaops, path, tokens, out, selective_v=0, threads=2):
    cmd = ["nice", "-n", "19", sigmaops, "logits", "-m", path, "--threads", str(threads),
           "--tokens", ",".join(map(str, tokens)), "--out", out]
    if selective_v:
        cmd += ["--selective-v", str(selective_v)]
    subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL)
    return np.fromfile(out, "<f4").reshape(len(tokens), -1).astype(np.float64)


def build_tokcheck(exe):
    b = os.path.join(ROOT, "build", "me")
    cmd = ["nice", "-n", "19", "g++", "-std=c++20", "-O1", "-I" + os.path.join(ROOT, "engine", "src"),
           "-I" + os.path.join(ROOT, "engine", "include"), os.path.join(HERE, "tokcheck.cpp"),
           os.path.join(b, "engine", "libsigma_tokenizer.a"), os.path.join(b, "engine", "libsigma_gguf.a"),
           "-lsentencepiece", "-lpcre2-8", "-o", exe]
    subprocess.run(cmd, check=True)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--gguf", required=True)
    ap.add_argument("--sigmaops", default=os.path.join(ROOT, "build", "me", "app", "sigmaops"))
    ap.add_argument("--tokens", default="")
    ap.add_argument("--tokens-json", default="", help="eval.json with logit_tokens")
    ap.add_argument("--ref-logits", default="")
    ap.add_argument("--selective-v", type=int, default=8)
    ap.add_argument("--spm", default="")
    ap.add_argument("--sft", default="", help="sft_heldout.jsonl.xz for the tokenization check")
    ap.add_argument("--n-tok-examples", type=int, default=50)
    ap.add_argument("--tokcheck", default="/tmp/sigma_tokcheck")
    ap.add_argument("--out", default="")
    a = ap.parse_args()
    res = {}
    model, cfg = load_gguf_model(a.gguf, torch.float64)
    model.eval()
    if a.tokens:
        tokens = [int(x) for x in a.tokens.split(",")]
    elif a.tokens_json:
        tokens = json.load(open(a.tokens_json))["logit_tokens"]
    else:
        tokens = [int(x) for x in np.random.Generator(np.random.PCG64(5)).integers(0, cfg.vocab, 32)]
    with torch.no_grad():
        want = model(torch.tensor([tokens]))[0].numpy()
        want_sel = model(torch.tensor([tokens]), selective_v=a.selective_v)[0].numpy()
    g = G.read_gguf(a.gguf)
    wtypes = sorted({G.TYPE_NAMES[t.type] for t in g.tensors.values()})
    with tempfile.TemporaryDirectory() as d:
        got = engine_logits(a.sigmaops, a.gguf, tokens, os.path.join(d, "q.f32"))
        f32 = os.path.join(d, "f32.gguf")
        G.write_gguf(f32, export_gguf.metadata(cfg, None, "f32-copy", "F32"),
                     [(n, g.tensor(n), G.GGML_F32) for n in g.tensors])
        got32 = engine_logits(a.sigmaops, f32, tokens, os.path.join(d, "f.f32"))
        got_sel = engine_logits(a.sigmaops, f32, tokens, os.path.join(d, "s.f32"), a.selective_v)
    res["n_tokens"] = len(tokens)
    res["file_types"] = wtypes
    res["engine_file_vs_torch64_max_abs"] = float(np.abs(got - want).max())
    res["engine_f32copy_vs_torch64_max_abs"] = float(np.abs(got32 - want).max())
    res["engine_selv%d_vs_torch64_max_abs" % a.selective_v] = float(np.abs(got_sel - want_sel).max())
    res["selv%d_effect_max_abs" % a.selective_v] = float(np.abs(want_sel - want).max())
    res["logit_std"] = float(want.std())
    res["argmax_agree"] = float((got.argmax(-1) == want.argmax(-1)).mean())
    if a.ref_logits and os.path.exists(a.ref_logits):
        ref = np.fromfile(a.ref_logits, "<f4").reshape(len(tokens), -1)
        res["engine_file_vs_gpu_ref_max_abs"] = float(np.abs(got - ref).max())
        res["torch64_vs_gpu_ref_max_abs"] = float(np.abs(want - ref).max())
    tol = 1e-3 if wtypes == ["F32"] else 2e-2
    res["pass_logits"] = res["engine_file_vs_torch64_max_abs"] <= tol and res["engine_f32copy_vs_torch64_max_abs"] <= 1e-3

    if a.spm:
        import sentencepiece as spm
        import data as D
        sp = spm.SentencePieceProcessor(model_file=a.spm)
        if not os.path.exists(a.tokcheck):
            build_tokcheck(a.tokcheck)
        texts = ["<|system|>\nYou are SigmaOps.<|end|>\n<|user|>\nlist  files   in /tmp, größe? \t tab\n"
                 "<|end|>\n<|assistant|>\n```sh\nls -la /tmp\n```<|end|>\n"]
        if a.sft:
            rows = [json.loads(l) for l in D.read_lines(a.sft, a.n_tok_examples)]
            texts += [D.render(r["messages"]) for r in rows]
            texts += [D.render(r["messages"][:-1]) + "<|assistant|>\n" for r in rows[:10]]
        bad = 0
        first_bad = None
        for t in texts:
            with tempfile.NamedTemporaryFile("w", suffix=".txt", delete=False, encoding="utf-8") as f:
                f.write(t)
            p = subprocess.run([a.tokcheck, a.gguf, f.name], capture_output=True, text=True, check=True)
            os.unlink(f.name)
            eng = [int(x) for x in p.stdout.strip().split(",") if x]
            py = [sp.bos_id()] + sp.encode(t)
            if eng != py:
                bad += 1
                if first_bad is None:
                    first_bad = dict(text=t[:200], engine=eng[:60], python=py[:60])
            end_line = [l for l in p.stderr.splitlines() if l.startswith("<|end|>")]
        res["tokenization"] = dict(n=len(texts), mismatches=bad, first_mismatch=first_bad,
                                   end_token=end_line[0] if end_line else None)
    print(json.dumps(res, indent=1))
    if a.out:
        json.dump(res, open(a.out, "w"), indent=1)


if __name__ == "__main__":
    main()
