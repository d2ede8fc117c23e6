// Golden ids for tests/test_tokenizer_bpe.cpp, made by tokenizers.js (@huggingface/tokenizers,
// the JavaScript port of HF tokenizers). Run from the repository root with the package installed
// outside the repo:
//   mkdir -p /tmp/tok && (cd /tmp/tok && npm install @huggingface/tokenizers@0.2.0)
//   node tools/ref/make_bpe_golden.mjs
// (ESM ignores NODE_PATH, so the package is imported by absolute path from
// $TOK_MODULES, default /tmp/tok/node_modules.) Writes tests/fixtures/tokenizer/bpe_golden.json.
import fs from "node:fs";
import path from "node:path";
import { tokenizerJson } from "./bpe_tokenizer_json.mjs";

const modules = process.env.TOK_MODULES || "/tmp/tok/node_modules";
const pkg = JSON.parse(fs.readFileSync(path.join(modules, "@huggingface/tokenizers/package.json"), "utf8"));
const { Tokenizer } = await import(path.join(modules, "@huggingface/tokenizers", pkg.exports["."].node.import));

const FIX = "tests/fixtures/tokenizer";
const vocab = JSON.parse(fs.readFileSync(`${FIX}/bpe_vocab.json`, "utf8"));
const texts = JSON.parse(fs.readFileSync(`${FIX}/texts.json`, "utf8")).texts;
const specials = vocab.tokens.filter((t, i) => vocab.token_types[i] === 3);

const cases = [];
for (const pre of ["llama-bpe", "qwen2"]) {
  for (const withSpecials of [false, true]) {
    const tok = new Tokenizer(tokenizerJson(vocab, pre, withSpecials), {});
    for (const text of texts) {
      if (withSpecials && !specials.some((s) => text.includes(s))) continue;
      const ids = Array.from(tok.encode(text, { add_special_tokens: false }).ids);
      cases.push({ pre, text, parse_special: withSpecials, ids });
    }
  }
}
const head = { generator: `tools/ref/make_bpe_golden.mjs, @huggingface/tokenizers ${pkg.version}` };
fs.writeFileSync(`${FIX}/bpe_golden.json`,
  JSON.stringify(head).slice(0, -1) + ', "cases": [\n' + cases.map((c) => JSON.stringify(c)).join(",\n") + "\n]}\n");
console.log(`${cases.length} cases`);
