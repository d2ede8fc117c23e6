// Optional real-vocabulary check for tests/test_tokenizer_bpe.cpp: converts OpenAI's cl100k_base
// (whose split regex is exactly Llama-3's, and whose ranks seed Llama-3's vocabulary) into a
// GGUF-style vocabulary and writes js-tiktoken's ids for texts.json plus tldr pages.
//   mkdir -p /tmp/tok && (cd /tmp/tok && npm install js-tiktoken)
//   node tools/ref/make_bpe_cl100k.mjs [OUT_DIR=/tmp/tok/cl100k]
//   SIGMAOPS_CL100K_DIR=/tmp/tok/cl100k build/tok/tests/test_tokenizer_bpe "[cl100k]"
// Kept out of the repository (about 5 MB). Merges come from the ranks as HF's
// TikTokenConverter derives them: every split of a token into two tokens, ordered by the rank
// of the result, then of the left and right parts.
import fs from "node:fs";
import path from "node:path";

const modules = process.env.TOK_MODULES || "/tmp/tok/node_modules";
const { Tiktoken } = await import(path.join(modules, "js-tiktoken/dist/lite.js"));
const cl100k = (await import(path.join(modules, "js-tiktoken/dist/ranks/cl100k_base.js"))).default;
const out = process.argv[2] || "/tmp/tok/cl100k";
fs.mkdirSync(out, { recursive: true });

const enc = new Tiktoken(cl100k);
// GPT-2 byte -> unicode table.
const b2u = [];
{
  let n = 0;
  for (let b = 0; b < 256; b++) {
    const printable = (b >= 33 && b <= 126) || (b >= 0xa1 && b <= 0xac) || (b >= 0xae && b <= 0xff);
    b2u[b] = String.fromCodePoint(printable ? b : 256 + n++);
  }
}
const nRanks = enc.textMap.size;
const tokens = [];
for (let r = 0; r < nRanks; r++) tokens.push(Array.from(enc.textMap.get(r), (b) => b2u[b]).join(""));
const rank = new Map(tokens.map((t, i) => [t, i]));
const merges = [];
for (let r = 0; r < nRanks; r++) {
  const t = Array.from(tokens[r]);
  const local = [];
  for (let i = 1; i < t.length; i++) {
    const l = t.slice(0, i).join(""), rr = t.slice(i).join("");
    if (rank.has(l) && rank.has(rr)) local.push([l, rr]);
  }
  local.sort((a, b) => rank.get(a[0]) - rank.get(b[0]) || rank.get(a[1]) - rank.get(b[1]));
  for (const [l, rr] of local) merges.push(`${l} ${rr}`);
}
const types = tokens.map(() => 1);
const specials = ["<|endoftext|>", "<|fim_prefix|>", "<|fim_middle|>", "<|fim_suffix|>"];
for (const s of specials) { tokens.push(s); types.push(3); }
fs.writeFileSync(path.join(out, "cl100k_vocab.json"), JSON.stringify({ model: "gpt2", pre: "llama-bpe", tokens, token_types: types, merges }));

const texts = JSON.parse(fs.readFileSync("tests/fixtures/tokenizer/texts.json", "utf8")).texts;
const pagesDir = "../shared/data/tldr/pages/common";
for (const f of fs.readdirSync(pagesDir).sort().slice(0, 400)) texts.push(fs.readFileSync(path.join(pagesDir, f), "utf8"));
texts.push("x".repeat(3000) + " " + "ab".repeat(2000) + " \n \n\n  \t\t  end");
const cases = texts.map((text) => ({ text, ids: enc.encode(text, [], []) }));
fs.writeFileSync(path.join(out, "cl100k_golden.json"), JSON.stringify({ generator: "js-tiktoken cl100k_base", cases }));
console.log(`${tokens.length} tokens, ${merges.length} merges, ${cases.length} cases -> ${out}`);
