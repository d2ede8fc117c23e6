// tldr_index_main.cpp - sigmaops-tldr-index: builds the tldr FTS5 index the command agent ships
// (resources/knowledge/tldr.sqlite) from a tldr-pages checkout's pages/ directory.
//
//   sigmaops-tldr-index PAGES_DIR OUT.sqlite
//   (the shipped index: sigmaops-tldr-index ../shared/data/tldr/pages resources/knowledge/tldr.sqlite)
//
// The same pages give the same bytes. The pages are CC BY 4.0 (tldr-pages contributors); keep the
// attribution (README.md, the About box) with any index you ship.
#include <knowledge/knowledge.h>

#include <cstdio>
#include <string>

int main(int argc, char** argv) {
    if (argc != 3) {
        std::fprintf(stderr, "usage: sigmaops-tldr-index PAGES_DIR OUT.sqlite\n"
                             "  PAGES_DIR holds common/ and linux/ with tldr *.md pages\n");
        return 2;
    }
    auto st = sigmaops::knowledge::build_index(argv[1], argv[2]);
    if (!st) {
        std::fprintf(stderr, "sigmaops-tldr-index: %s\n", st.error().message.c_str());
        return 1;
    }
    for (const std::string& s : st->skipped) std::fprintf(stderr, "skipped %s\n", s.c_str());
    std::fprintf(stderr, "%zu pages, %zu examples -> %s\n", st->n_pages, st->n_examples, argv[2]);
    return 0;
}
