// tokcheck: print the engine's token ids for a text, tokenized the way a chat prompt is
// (engine.cpp: BOS added, parse_special on). Built by hand against a build tree's static
// libraries (see tools/train/README.md); not part of the CMake build.
//   tokcheck MODEL.gguf FILE   -> one line of comma-separated ids for the text in FILE
#include "gguf/gguf.h"
#include "tokenizer/tokenizer.h"

#include <fstream>
#include <iostream>
#include <sstream>

int main(int argc, char** argv) {
    if (argc != 3) { std::cerr << "usage: tokcheck MODEL.gguf TEXTFILE\n"; return 2; }
    auto file = sigma::gguf::File::open(argv[1]);
    auto tok = sigma::Tokenizer::from_gguf(*file);
    std::ifstream in(argv[2], std::ios::binary);
    std::stringstream ss; ss << in.rdbuf();
    const auto ids = tok->encode(ss.str(), true, true);
    for (size_t i = 0; i < ids.size(); ++i) std::cout << (i ? "," : "") << ids[i];
    std::cout << "\n";
    for (int id : ids) if (tok->is_eog(id)) std::cerr << "eog id in text: " << id << "\n";
    auto e = tok->find_token("<|end|>");
    std::cerr << "<|end|> id " << (e ? *e : -1) << " is_eog " << (e && tok->is_eog(*e)) << "\n";
    return 0;
}
