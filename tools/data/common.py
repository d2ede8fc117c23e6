"""Shared helpers for the SigmaOps data tools (python3 stdlib only)."""
import hashlib, os, re

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
DATA = os.path.join(ROOT, ".data")
RAW = os.path.join(DATA, "raw")
PACK = os.path.join(DATA, "pack")
SHARED = os.path.abspath(os.path.join(ROOT, "..", "shared", "data"))

SEED = 20261125                 # every generator seeds random.Random(SEED + k) from this
SPLIT_SALT = "sigmaops-split-v1"
HELDOUT_PER_MILLE = 30          # 3.0 % of source units are held out

# agents/chat/include/chat/chat.h default system prompt (ChatOptions::system_prompt)
SYSTEM_PROMPT = ("You are SigmaOps, a careful assistant for Linux system administrators. "
                 "Answer briefly; show shell commands in code blocks and say what they change.")
SYSTEM_VARIANTS = {
    "cmd": "You are SigmaOps. Turn the administrator's request into one shell command in a code "
           "block, followed by a one-line explanation.",
    "explain": "You are SigmaOps. Explain shell commands briefly and precisely for a Linux administrator.",
    "log": "You are SigmaOps, diagnosing logs. Give the category, quote the evidence line verbatim, "
           "and propose one next step as a command.",
    "config": "You are SigmaOps, reviewing configuration. Propose the change as a unified diff and "
              "give the reason in one or two sentences.",
}


def stable_hash(s: str) -> int:
    return int(hashlib.sha256(s.encode("utf-8")).hexdigest()[:12], 16)


def is_heldout(unit: str) -> bool:
    """Held-out membership of a source unit (man page, doc file, tldr page, loghub block...)."""
    return stable_hash(SPLIT_SALT + ":" + unit) % 1000 < HELDOUT_PER_MILLE


def norm_key(s: str) -> str:
    """Normalized dedup key: case-folded, whitespace collapsed."""
    return hashlib.sha1(re.sub(r"\s+", " ", s).strip().casefold().encode("utf-8")).hexdigest()


def exact_key(s: str) -> str:
    return hashlib.sha1(s.encode("utf-8")).hexdigest()


def system_prompt(rng, task):
    """Mostly the app's default prompt; sometimes a task-specific variant (25 %)."""
    return SYSTEM_VARIANTS[task] if rng.random() < 0.25 else SYSTEM_PROMPT


def chat(system, user, assistant):
    return [{"role": "system", "content": system}, {"role": "user", "content": user},
            {"role": "assistant", "content": assistant}]


def render_chat(messages):
    """Sigma chat format (engine/src/tokenizer/chat_template.cpp, format "sigma")."""
    return "".join(f"<|{m['role']}|>\n{m['content']}<|end|>\n" for m in messages)
