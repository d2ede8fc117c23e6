// index.cpp - the opened tldr index: search and page lookup (knowledge.h), and where the index
// file is looked for. The page table (a few thousand rows) is read into memory on open, so a
// search is one FTS5 query plus one primary-key read per returned example.
#include <knowledge/knowledge.h>

#include "knowledge_internal.h"

#include <base/paths.h>

#include <algorithm>
#include <cstdlib>
#include <filesystem>
#include <unordered_map>
#include <unordered_set>

namespace fs = std::filesystem;

namespace sigmaops::knowledge {

std::vector<std::string> index_search_paths() {
    std::vector<std::string> out;
    if (const char* env = std::getenv("SIGMAOPS_KNOWLEDGE"); env && *env) out.push_back(env);
    out.push_back(AppPaths::resolve().data_dir + "/knowledge/tldr.sqlite");
    out.push_back(std::string(SIGMAOPS_SOURCE_KNOWLEDGEDIR) + "/tldr.sqlite");   // resources/knowledge
    out.push_back(std::string(SIGMAOPS_INSTALL_KNOWLEDGEDIR) + "/tldr.sqlite");
    return out;
}

Expected<std::string> find_index(const std::string& explicit_path) {
    std::error_code ec;
    if (!explicit_path.empty()) {
        if (!fs::is_regular_file(explicit_path, ec))
            return unexpected(ErrorCode::NotFound, "tldr index " + explicit_path + " not found (or not a regular file)");
        return explicit_path;
    }
    if (const char* env = std::getenv("SIGMAOPS_KNOWLEDGE"); env && *env && !fs::is_regular_file(env, ec))
        return unexpected(ErrorCode::NotFound, std::string("SIGMAOPS_KNOWLEDGE=") + env +
                                                   ": no such file (unset it to use the shipped tldr index)");
    std::string looked;
    for (const std::string& p : index_search_paths()) {
        if (fs::is_regular_file(p, ec)) return p;
        looked += "\n  " + p;
    }
    return unexpected(ErrorCode::NotFound, "no tldr index found. Looked in:" + looked +
                                               "\nSet SIGMAOPS_KNOWLEDGE=FILE or build one with sigmaops-tldr-index.");
}

namespace {

// Words that say nothing about which command is wanted.
const std::unordered_set<std::string>& stop_words() {
    static const std::unordered_set<std::string> s = {
        "a", "an", "the", "to", "of", "in", "on", "for", "with", "and", "or", "from", "by", "at", "as", "is",
        "are", "be", "been", "it", "its", "this", "that", "these", "those", "into", "onto", "using", "use",
        "via", "how", "do", "does", "did", "i", "can", "could", "would", "should", "you", "please", "me", "my",
        "we", "our", "your", "what", "which", "who", "whom", "whose", "there", "here", "so", "then", "than",
        "some", "want", "need", "like", "just", "also", "way", "command", "commands", "give", "tell", "let",
        "get", "s", "t", "will", "shall", "may", "might", "if", "when", "where", "why", "about", "up"};
    return s;
}

struct PageRow {
    sqlite3_int64 first = 0, count = 0;
    std::string name, platform, title, description;
    std::string program;   // the title's first word ("git" of "git commit")
};

} // namespace

struct Knowledge::Impl {
    sqlite3* db = nullptr;
    std::string path;
    std::vector<PageRow> pages;                       // by first example id
    std::unordered_map<std::string, size_t> by_name;  // page name -> index in pages
    std::unordered_map<std::string, size_t> program_examples;   // program word -> its pages' examples
    size_t n_examples = 0;
    // Prepared once (open); finalized before the connection closes.
    std::unique_ptr<detail::Statement> search_stmt, example_stmt, df_stmt;
    ~Impl() {
        search_stmt.reset();
        example_stmt.reset();
        df_stmt.reset();
        sqlite3_close(db);
    }

    // Whether the request word `w` names a program: tldr has pages for it, and the word is not an
    // everyday word of the descriptions ("file", "list", "time" and "watch" are pages too): it
    // appears in at most 10 example descriptions per example of its own pages. Boosting every
    // page-name word cost 6 points top-1 in bench_knowledge.
    bool names_program(const std::string& w) const {
        auto it = program_examples.find(w);
        if (it == program_examples.end()) return false;
        df_stmt->reset();
        df_stmt->bind(1, "description : \"" + w + "\"");
        const sqlite3_int64 df = df_stmt->step() ? df_stmt->integer(0) : 0;
        return static_cast<size_t>(df) <= 10 * it->second;
    }

    const PageRow* page_of(sqlite3_int64 id) const {
        auto it = std::upper_bound(pages.begin(), pages.end(), id,
                                   [](sqlite3_int64 v, const PageRow& p) { return v < p.first; });
        if (it == pages.begin()) return nullptr;
        --it;
        return id < it->first + it->count ? &*it : nullptr;
    }
    Example example(sqlite3_int64 id) const {
        Example e;
        e.id = id;
        if (const PageRow* p = page_of(id)) {
            e.page = p->name;
            e.platform = p->platform;
        }
        detail::Statement& s = *example_stmt;
        s.reset();
        s.bind(1, id);
        if (s.step()) {
            e.description = s.text(0);
            e.command = s.text(1);
            e.placeholders = find_placeholders(e.command);
        }
        return e;
    }
};

Knowledge::Knowledge(std::unique_ptr<Impl> impl) : m(std::move(impl)) {}
Knowledge::Knowledge(Knowledge&&) noexcept = default;
Knowledge& Knowledge::operator=(Knowledge&&) noexcept = default;
Knowledge::~Knowledge() = default;
const std::string& Knowledge::path() const { return m->path; }
size_t Knowledge::n_pages() const { return m->pages.size(); }
size_t Knowledge::n_examples() const { return m->n_examples; }

Expected<Knowledge> Knowledge::open(const std::string& path) {
    Expected<std::string> p = find_index(path);
    if (!p) return unexpected(p.error());
    return catch_to_expected([&]() -> Knowledge {
        auto impl = std::make_unique<Impl>();
        impl->path = *p;
        if (sqlite3_open_v2(p->c_str(), &impl->db, SQLITE_OPEN_READONLY, nullptr) != SQLITE_OK)
            throw Exception(ErrorCode::Io, "cannot open the tldr index " + *p + ": " + sqlite3_errmsg(impl->db));
        try {
            detail::Statement f(impl->db, "SELECT value FROM meta WHERE key = 'format'");
            if (!f.step() || f.text(0) != detail::k_format)
                throw Exception(ErrorCode::BadFile, "");
        } catch (const Exception&) {
            throw Exception(ErrorCode::BadFile, *p + " is not a SigmaOps tldr index (format " +
                                                    detail::k_format + "); rebuild it with sigmaops-tldr-index");
        }
        detail::Statement s(impl->db, "SELECT name, platform, title, description, first, count FROM page ORDER BY first");
        while (s.step()) {
            PageRow r;
            r.name = s.text(0);
            r.platform = s.text(1);
            r.title = s.text(2);
            r.description = s.text(3);
            r.first = s.integer(4);
            r.count = s.integer(5);
            std::vector<std::string> w = detail::words(r.title);
            r.program = w.empty() ? r.name : w.front();
            impl->by_name[r.name] = impl->pages.size();
            impl->program_examples[r.program] += static_cast<size_t>(r.count);
            impl->n_examples += static_cast<size_t>(r.count);
            impl->pages.push_back(std::move(r));
        }
        impl->search_stmt = std::make_unique<detail::Statement>(
            impl->db, "SELECT rowid, bm25(example_fts, 1.0, 2.0, 0.5) FROM example_fts"
                      " WHERE example_fts MATCH ?1 ORDER BY 2 LIMIT ?2");
        impl->example_stmt = std::make_unique<detail::Statement>(impl->db, "SELECT description, command FROM example WHERE id = ?1");
        impl->df_stmt = std::make_unique<detail::Statement>(impl->db, "SELECT count(*) FROM example_fts WHERE example_fts MATCH ?1");
        return Knowledge(std::move(impl));
    });
}

Expected<std::vector<Example>> Knowledge::search(std::string_view request, size_t n) const {
    SearchOptions o;
    o.n = n;
    return search(request, o);
}

Expected<std::vector<Example>> Knowledge::search(std::string_view request, const SearchOptions& options) const {
    return catch_to_expected([&]() -> std::vector<Example> {
        std::vector<Example> out;
        if (options.n == 0) return out;
        // Query terms: words of the request, stop words and repeats dropped, at most 24.
        std::vector<std::string> terms;
        std::unordered_set<std::string> named;   // terms that name a program tldr has a page for
        for (std::string& w : detail::words(request)) {
            if (stop_words().count(w) || std::find(terms.begin(), terms.end(), w) != terms.end()) continue;
            // Non-ASCII words may be several FTS tokens (a phrase, which detail=column cannot match).
            if (std::any_of(w.begin(), w.end(), [](char c) { return static_cast<unsigned char>(c) >= 0x80; })) continue;
            if (options.boost_named_program && m->names_program(w)) named.insert(w);
            terms.push_back(std::move(w));
            if (terms.size() == 24) break;
        }
        if (terms.empty()) return out;
        std::string q;
        for (const std::string& t : terms) q += (q.empty() ? "\"" : " OR \"") + t + "\"";
        // bm25 weights: the example's description counts most, then the program column (page
        // title and summary), then the command's words (bench_knowledge: 1/2/0.5 beat 4/2/1 by
        // 6 points top-1). Candidates are re-ranked below.
        const size_t n_candidates = std::max<size_t>(100, options.n * 4) + options.exclude.size();
        detail::Statement& s = *m->search_stmt;
        s.reset();
        s.bind(1, q);
        s.bind(2, static_cast<sqlite3_int64>(n_candidates));
        struct Cand { sqlite3_int64 id; double score; };
        std::vector<Cand> cands;
        while (s.step()) {
            const sqlite3_int64 id = s.integer(0);
            if (std::find(options.exclude.begin(), options.exclude.end(), id) != options.exclude.end()) continue;
            double score = -s.real(1);   // bm25: more negative is better
            // Program-name boosting: the request names this example's program ("... with rsync").
            if (!named.empty())
                if (const PageRow* p = m->page_of(id); p && named.count(p->program)) score *= 2.0;
            cands.push_back({id, score});
        }
        std::stable_sort(cands.begin(), cands.end(), [](const Cand& a, const Cand& b) { return a.score > b.score; });
        for (size_t i = 0; i < cands.size() && out.size() < options.n; ++i) {
            Example e = m->example(cands[i].id);
            e.score = cands[i].score;
            out.push_back(std::move(e));
        }
        return out;
    });
}

Expected<Example> Knowledge::example(std::int64_t id) const {
    return catch_to_expected([&]() -> Example {
        if (!m->page_of(id)) throw Exception(ErrorCode::NotFound, "no tldr example " + std::to_string(id));
        return m->example(id);
    });
}

std::vector<std::string> Knowledge::page_names() const {
    std::vector<std::string> out;
    for (const PageRow& p : m->pages) out.push_back(p.name);
    return out;
}

Expected<std::optional<Page>> Knowledge::page(std::string_view program) const {
    return catch_to_expected([&]() -> std::optional<Page> {
        std::string key;
        for (char c : program) key += c == ' ' ? '-' : static_cast<char>(c >= 'A' && c <= 'Z' ? c - 'A' + 'a' : c);
        auto it = m->by_name.find(key);
        if (it == m->by_name.end()) return std::nullopt;
        const PageRow& r = m->pages[it->second];
        Page p;
        p.name = r.name;
        p.platform = r.platform;
        p.description = r.description;
        for (sqlite3_int64 id = r.first; id < r.first + r.count; ++id) p.examples.push_back(m->example(id));
        return p;
    });
}

} // namespace sigmaops::knowledge
