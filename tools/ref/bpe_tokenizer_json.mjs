// Builds a Hugging Face tokenizer.json object from the GGUF-style vocabulary in
// tests/fixtures/tokenizer/bpe_vocab.json, for one pre-tokenizer ("llama-bpe" or "qwen2").
// Shared by make_bpe_golden.mjs; make_bpe_golden.py has the same logic in Python.
export const SPLIT_REGEX = {
  "llama-bpe": "(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\\r\\n\\p{L}\\p{N}]?\\p{L}+|\\p{N}{1,3}| ?[^\\s\\p{L}\\p{N}]+[\\r\\n]*|\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+",
  "qwen2": "(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\\r\\n\\p{L}\\p{N}]?\\p{L}+|\\p{N}| ?[^\\s\\p{L}\\p{N}]+[\\r\\n]*|\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+",
};

// withSpecials=false leaves added_tokens empty: special-token texts are then plain text,
// which is what our encode(..., parse_special=false) must produce.
export function tokenizerJson(vocab, pre, withSpecials) {
  const ids = {};
  vocab.tokens.forEach((t, i) => { if (vocab.token_types[i] !== 3) ids[t] = i; });
  const added = [];
  vocab.tokens.forEach((t, i) => {
    if (vocab.token_types[i] === 3) {
      ids[t] = i;
      if (withSpecials) added.push({ id: i, content: t, single_word: false, lstrip: false, rstrip: false, normalized: false, special: true });
    }
  });
  return {
    version: "1.0", truncation: null, padding: null, added_tokens: added, normalizer: null,
    pre_tokenizer: { type: "Sequence", pretokenizers: [
      { type: "Split", pattern: { Regex: SPLIT_REGEX[pre] }, behavior: "Isolated", invert: false },
      { type: "ByteLevel", add_prefix_space: false, trim_offsets: true, use_regex: false } ] },
    post_processor: null,
    decoder: { type: "ByteLevel", add_prefix_space: true, trim_offsets: true, use_regex: true },
    model: { type: "BPE", dropout: null, unk_token: null, continuing_subword_prefix: null, end_of_word_suffix: null,
             fuse_unk: false, byte_fallback: false, ignore_merges: pre === "llama-bpe", vocab: ids, merges: vocab.merges },
  };
}
