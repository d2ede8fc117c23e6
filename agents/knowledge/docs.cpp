// docs.cpp - program documentation: the options a rendered man page or --help text lists, this
// machine's man pages (local_docs), and the per-program cache that adds the tldr examples'
// option spellings (knowledge.h).
//
// Rendered man pages (man-db + groff, `man --nh --nj -P cat`, MANWIDTH=200) put an entry's tag
// at the section indent (7) and its description 7 columns deeper: on the next line, or on the
// same line when the tag is shorter than 7 columns ("-P     Never follow", "-gid n File's ...").
// --help output puts the description after a gap of two or more spaces. An entry is recognised
// only where an entry can start: after a blank line, a section heading, another tag at the same
// indent or any tag line before it, or a line indented less; a wrapped description line that happens to start with '-'
// is not a tag.
#include <knowledge/knowledge.h>

#include "knowledge_internal.h"

#include <shell/shell.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <csignal>
#include <cstring>
#include <fcntl.h>
#include <poll.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

extern char** environ;

namespace sigmaops::knowledge {

namespace {

struct Line {
    size_t indent = 0;
    std::string_view text;   // without the indent and trailing spaces
    bool blank() const { return text.empty(); }
};

std::vector<Line> split_lines(std::string_view s) {
    std::vector<Line> out;
    size_t pos = 0;
    while (pos < s.size()) {
        size_t nl = s.find('\n', pos);
        if (nl == std::string_view::npos) nl = s.size();
        std::string_view l = s.substr(pos, nl - pos);
        pos = nl + 1;
        while (!l.empty() && (l.back() == ' ' || l.back() == '\r' || l.back() == '\t')) l.remove_suffix(1);
        Line x;
        while (x.indent < l.size() && l[x.indent] == ' ') ++x.indent;
        x.text = l.substr(x.indent);
        out.push_back(x);
    }
    return out;
}

bool is_opt_char(char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-' || c == '_' ||
           c == '?' || c == '#' || c == '@' || c == '.';
}

// "-g, --listed-incremental=FILE" / "-e PATTERNS, --regexp=PATTERNS" / "--color[=WHEN]" /
// "-name pattern" / "-help, --help" / "expr1 -o expr2": the option names and the argument.
// Empty names when the tag is not an option tag.
OptionDoc parse_tag(std::string_view tag) {
    OptionDoc d;
    // "expr1 -o expr2" (find's operators): every dash word of a short line not starting with '-'.
    if (!tag.empty() && tag[0] != '-') {
        if (tag.size() > 40) return d;
        size_t i = 0;
        while (i < tag.size()) {
            size_t e = tag.find(' ', i);
            if (e == std::string_view::npos) e = tag.size();
            std::string_view w = tag.substr(i, e - i);
            if (w.size() >= 2 && w[0] == '-' && std::all_of(w.begin() + 1, w.end(), is_opt_char))
                d.names.emplace_back(w);
            i = e + 1;
        }
        return d;
    }
    size_t i = 0;
    while (i < tag.size()) {
        while (i < tag.size() && (tag[i] == ' ' || tag[i] == ',' || tag[i] == '|')) ++i;
        if (i >= tag.size()) break;
        if (tag.substr(i, 3) == "or ") { i += 3; continue; }
        if (tag[i] != '-') {
            // An argument word after a name ("-e PATTERNS"), up to the next ", -".
            size_t e = tag.find(", -", i);
            if (e == std::string_view::npos) e = tag.find(" -", i);
            if (e == std::string_view::npos) e = tag.size();
            std::string_view a = tag.substr(i, e - i);
            while (!a.empty() && (a.back() == ',' || a.back() == ' ')) a.remove_suffix(1);
            if (d.argument.empty() && !d.names.empty()) {
                d.argument = std::string(a);
                d.argument_optional = !a.empty() && a.front() == '[';
            }
            i = e;
            continue;
        }
        size_t j = i + 1;
        if (j < tag.size() && tag[j] == '-') ++j;
        const size_t name_start = j;
        while (j < tag.size() && is_opt_char(tag[j]) && !(j > name_start && tag[j] == '.')) ++j;
        if (j == name_start) { i = j + 1; continue; }   // "-" or "--" alone
        std::string name(tag.substr(i, j - i));
        // "-Olevel": a capital letter with its value attached, written as a word.
        if (name.size() > 3 && name[1] != '-' && name[1] >= 'A' && name[1] <= 'Z' &&
            std::all_of(name.begin() + 2, name.end(), [](char c) { return c >= 'a' && c <= 'z'; })) {
            if (d.argument.empty()) d.argument = name.substr(2);
            name.resize(2);
        }
        d.names.push_back(name);
        if (j < tag.size() && (tag[j] == '=' || tag[j] == '[')) {
            size_t e = tag.find_first_of(", ", j);
            if (tag[j] == '[') e = tag.find(']', j) == std::string_view::npos ? tag.size() : tag.find(']', j) + 1;
            if (e == std::string_view::npos) e = tag.size();
            if (d.argument.empty()) {
                d.argument = std::string(tag.substr(j, e - j));
                d.argument_optional = tag[j] == '[';
            }
            j = e;
        }
        i = j;
    }
    return d;
}

bool looks_like_tag_start(std::string_view t) {
    if (t.size() >= 2 && t[0] == '-' && t[1] != ' ' && t[1] != '-' ) return is_opt_char(t[1]);
    if (t.size() >= 3 && t[0] == '-' && t[1] == '-') return is_opt_char(t[2]) && t[2] != '-';
    // find's "expr1 -o expr2"
    return t.rfind("expr", 0) == 0 && t.find(" -") != std::string_view::npos && t.size() <= 40;
}

// A tag is option names with at most one argument word each ("-e PATTERNS, --regexp=PATTERNS"),
// not a sentence ("-depth Process each directory's contents ...  The -delete ...").
bool plausible_tag(std::string_view t) {
    if (t.rfind("expr", 0) == 0) return true;
    size_t n_dash = 0, n_other = 0;
    size_t i = 0;
    while (i < t.size()) {
        while (i < t.size() && (t[i] == ' ' || t[i] == ',')) ++i;
        size_t e = i;
        while (e < t.size() && t[e] != ' ' && t[e] != ',') ++e;
        if (e == i) break;
        std::string_view w = t.substr(i, e - i);
        if (w[0] == '-') ++n_dash;
        else if (w != "or" && w != "|") ++n_other;
        if (w.back() == '.') return false;
        i = e;
    }
    return n_dash > 0 && n_other <= n_dash;
}

bool is_heading(const Line& l) {
    if (l.indent > 3 || l.blank()) return false;
    // SECTION or Sub Section headings: no leading '-', few words.
    return l.text[0] != '-' && l.text.size() < 60 && l.text.find("  ") == std::string_view::npos &&
           (l.indent == 0 || l.indent == 3);
}

} // namespace

std::vector<OptionDoc> parse_man_options(std::string_view text) {
    std::vector<OptionDoc> out;
    const std::vector<Line> lines = split_lines(text);
    std::string section;
    bool prev_tag = false;        // the previous non-blank line was a tag line
    for (size_t i = 0; i < lines.size(); ++i) {
        const Line& l = lines[i];
        if (l.blank()) continue;
        const bool after_blank = i == 0 || lines[i - 1].blank();
        if (l.indent == 0 && !l.text.empty() && l.text[0] != '-') {
            section = std::string(l.text);
            prev_tag = false;
            continue;
        }
        if (section == "SYNOPSIS" || section == "NAME") { prev_tag = false; continue; }
        const Line* prev = nullptr;
        for (size_t k = i; k-- > 0;)
            if (!lines[k].blank()) { prev = &lines[k]; break; }
        // Not a start: a line at the same indent as the description text just before it.
        const bool can_start = after_blank || !prev || is_heading(*prev) || prev->indent != l.indent ||
                               prev_tag;   // --help lists entries line after line, at two indents
        if (!can_start || !looks_like_tag_start(l.text)) {
            prev_tag = false;
            continue;
        }
        // The next non-blank line, and whether it is this entry's description (deeper).
        const Line* next = nullptr;
        if (i + 1 < lines.size() && !lines[i + 1].blank()) next = &lines[i + 1];
        std::string_view tag = l.text, desc;
        const size_t gap = l.text.find("  ");
        const size_t std_width = 7;   // groff's default .TP indent in rendered man pages
        if (gap != std::string_view::npos && plausible_tag(l.text.substr(0, gap))) {
            tag = l.text.substr(0, gap);
            desc = l.text.substr(gap);
            while (!desc.empty() && desc.front() == ' ') desc.remove_prefix(1);
        } else if (next && (next->indent > l.indent || (next->indent == l.indent && looks_like_tag_start(next->text)))) {
            // The whole line is the tag; the description follows (or another spelling's tag,
            // stacked: "-c command" then "--command=command" then the description).
        } else if (l.text.size() > std_width && l.text[std_width - 1] == ' ' && l.text[std_width] != ' ') {
            tag = l.text.substr(0, std_width - 1);
            desc = l.text.substr(std_width);
        } else if (next == nullptr && l.text.find(' ') == std::string_view::npos) {
            // A lone option word (no description): still an entry.
        } else {
            prev_tag = false;
            continue;
        }
        while (!tag.empty() && tag.back() == ' ') tag.remove_suffix(1);
        OptionDoc d = parse_tag(tag);
        if (d.names.empty()) { prev_tag = false; continue; }
        std::string description(desc);
        // The first paragraph: deeper lines up to the next blank line; when the description
        // began on the tag's line, only lines at its column (--help: the next entry is deeper
        // than the tag but not that deep).
        const size_t desc_col = desc.empty() ? l.indent + 1 : l.indent + static_cast<size_t>(desc.data() - l.text.data());
        for (size_t k = i + 1; k < lines.size() && !lines[k].blank() && lines[k].indent >= desc_col; ++k) {
            if (!description.empty()) description += ' ';
            description += std::string(lines[k].text);
            if (description.size() > 600) break;
        }
        if (description.size() > 600) description = description.substr(0, 597) + "...";
        d.description = std::move(description);
        // Stacked tags ("-c" then "--create" on the next line, then one description): the
        // earlier tags without a description get this one.
        for (auto it = out.rbegin(); it != out.rend() && it->description.empty() && prev_tag; ++it)
            it->description = d.description;
        out.push_back(std::move(d));
        prev_tag = true;
    }
    return out;
}

std::string man_summary(std::string_view text) {
    const std::vector<Line> lines = split_lines(text);
    for (size_t i = 0; i < lines.size(); ++i) {
        if (lines[i].indent != 0 || lines[i].text != "NAME") continue;
        std::string s;
        for (size_t k = i + 1; k < lines.size(); ++k) {
            if (lines[k].blank()) { if (!s.empty()) break; continue; }
            if (lines[k].indent == 0) break;
            if (!s.empty()) s += ' ';
            s += std::string(lines[k].text);
        }
        size_t dash = s.find(" - ");
        if (dash != std::string::npos) return s.substr(dash + 3);
        dash = s.find(" \xe2\x80\x94 ");   // em dash
        if (dash == std::string::npos) dash = s.find(" \xe2\x80\x90 ");
        if (dash == std::string::npos) dash = s.find(" \xe2\x80\x93 ");
        if (dash != std::string::npos) return s.substr(dash + 5);
        return s;
    }
    return "";
}

namespace {

bool valid_program(const std::string& p) {
    if (p.empty() || p.size() > 100 || p[0] == '-' || p[0] == '.') return false;
    return std::all_of(p.begin(), p.end(), [](char c) {
        return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' || c == '.' ||
               c == '+' || c == '-';
    });
}

// Runs the program and its arguments `words` (no shell) with `env` added; stdout up to 4 MB; nullopt on failure, a non-zero exit
// or after `timeout`.
std::optional<std::string> run_capture(const std::vector<std::string>& words, const std::vector<std::string>& env,
                                       std::chrono::milliseconds timeout) {
    int out[2];
    if (::pipe2(out, O_CLOEXEC) != 0) return std::nullopt;
    posix_spawn_file_actions_t fa;
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_adddup2(&fa, out[1], 1);
    posix_spawn_file_actions_addopen(&fa, 2, "/dev/null", O_WRONLY, 0);
    posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
    std::vector<std::string> envs = env;
    for (char** e = environ; e && *e; ++e) {
        std::string_view v(*e);
        bool overridden = false;
        for (const std::string& x : env)
            if (v.substr(0, v.find('=') + 1) == std::string_view(x).substr(0, x.find('=') + 1)) overridden = true;
        if (v.rfind("MAN_KEEP_FORMATTING=", 0) == 0 || v.rfind("PAGER=", 0) == 0) overridden = true;
        if (!overridden) envs.emplace_back(v);
    }
    std::vector<char*> a, e;
    for (const std::string& s : words) a.push_back(const_cast<char*>(s.c_str()));
    a.push_back(nullptr);
    for (const std::string& s : envs) e.push_back(const_cast<char*>(s.c_str()));
    e.push_back(nullptr);
    pid_t pid = -1;
    const int rc = posix_spawnp(&pid, a[0], &fa, nullptr, a.data(), e.data());
    posix_spawn_file_actions_destroy(&fa);
    ::close(out[1]);
    if (rc != 0) {
        ::close(out[0]);
        return std::nullopt;
    }
    std::string text;
    const auto deadline = std::chrono::steady_clock::now() + timeout;
    bool killed = false;
    char buf[65536];
    for (;;) {
        const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now());
        if (left.count() <= 0 || text.size() > (4u << 20)) {
            ::kill(pid, SIGKILL);
            killed = true;
            break;
        }
        pollfd p{out[0], POLLIN, 0};
        const int pr = ::poll(&p, 1, static_cast<int>(left.count()));
        if (pr < 0 && errno == EINTR) continue;
        if (pr <= 0) continue;
        const ssize_t n = ::read(out[0], buf, sizeof buf);
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0) break;
        text.append(buf, static_cast<size_t>(n));
    }
    ::close(out[0]);
    int status = 0;
    while (::waitpid(pid, &status, 0) < 0 && errno == EINTR) {}
    if (killed || !WIFEXITED(status) || WEXITSTATUS(status) != 0 || text.empty()) return std::nullopt;
    // Overstrike formatting (a pager setting that slipped through): "x\bx" -> "x", "_\bx" -> "x".
    std::string clean;
    clean.reserve(text.size());
    for (char c : text) {
        if (c == '\b') { if (!clean.empty()) clean.pop_back(); continue; }
        clean += c;
    }
    return clean;
}

} // namespace

std::string doc_command(const std::string& program) {
    if (!valid_program(program)) return "";
    return "MANWIDTH=200 MANPAGER=cat man --nh --nj -P cat '" + program + "' 2>/dev/null";
}

DocProvider local_docs() {
    return [](const std::string& program) -> std::optional<std::string> {
        if (!valid_program(program)) return std::nullopt;
        return run_capture({"man", "--nh", "--nj", "-P", "cat", program}, {"MANWIDTH=200", "MANPAGER=cat", "LC_ALL=C.UTF-8"},
                           std::chrono::seconds(10));
    };
}

const OptionDoc* ProgramDocs::find(std::string_view name) const {
    for (const OptionDoc& d : options)
        for (const std::string& n : d.names) {
            if (n == name) return &d;
            // find's -newerXY: capital letters at the end stand for any letter.
            size_t k = n.size();
            while (k > 2 && n[k - 1] >= 'A' && n[k - 1] <= 'Z') --k;
            if (k < n.size() && k > 2 && n[k - 1] >= 'a' && n[k - 1] <= 'z' && name.size() == n.size() &&
                name.substr(0, k) == std::string_view(n).substr(0, k))
                return &d;
        }
    return nullptr;
}

const ProgramDocs::TldrOption* ProgramDocs::find_tldr(std::string_view name) const {
    for (const TldrOption& o : tldr_options)
        if (o.name == name) return &o;
    return nullptr;
}

namespace {

// The option spellings the tldr examples of `page` use for `program`.
void add_tldr_options(const Page& page, const std::string& program, std::vector<ProgramDocs::TldrOption>& out) {
    const Example* cur = nullptr;
    auto add = [&](std::string s) {
        for (const auto& o : out)
            if (o.name == s) return;
        out.push_back({std::move(s), cur ? cur->description : std::string()});
    };
    for (const Example& e : page.examples) {
        cur = &e;
        for (const Placeholder& p : e.placeholders)
            if (p.is_option())
                for (const std::string& a : p.alternatives) add(a);
        const std::string filled = fill_placeholders(e, [](const Placeholder&) { return std::string("X"); });
        shell::ParseResult r = shell::parse(filled);
        if (!r.ok()) continue;
        // Simple commands of the top-level list, pipelines and and-or lists included.
        std::vector<const shell::Command*> stack{&r.script->list};
        while (!stack.empty()) {
            const shell::Command* c = stack.back();
            stack.pop_back();
            for (const shell::Command& b : c->body) stack.push_back(&b);
            if (c->kind != shell::Kind::Simple) continue;
            for (const shell::Payload& pl : shell::payloads(*c)) {
                if (pl.words.empty()) continue;
                auto w0 = pl.words[0].literal();
                if (!w0 || shell::program_name(*w0) != program) continue;
                for (size_t k = 1; k < pl.words.size(); ++k) {
                    auto w = pl.words[k].literal();
                    if (!w) continue;
                    if (*w == "--") break;
                    if (w->size() >= 2 && (*w)[0] == '-' && (*w)[1] != '=') add(w->substr(0, w->find('=')));
                    // tar's old-style first word: `tar xzf` -> -x -z -f.
                    if (k == 1 && program == "tar" && !w->empty() && (*w)[0] != '-' &&
                        std::all_of(w->begin(), w->end(), [](char ch) { return (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z'); }))
                        for (char ch : *w) add(std::string("-") + ch);
                }
            }
        }
    }
}

} // namespace

DocCache::DocCache(DocProvider provider, const Knowledge* tldr) : m_provider(std::move(provider)), m_tldr(tldr) {}

const ProgramDocs& DocCache::get(const std::string& program) {
    for (const auto& d : m_docs)
        if (d->program == program) return *d;
    auto d = std::make_unique<ProgramDocs>();
    d->program = program;
    if (m_provider && valid_program(program)) {
        if (std::optional<std::string> text = m_provider(program); text && !text->empty()) {
            d->has_man = true;
            d->options = parse_man_options(*text);
            d->summary = man_summary(*text);
        }
    }
    if (m_tldr && valid_program(program)) {
        Expected<std::optional<Page>> p = m_tldr->page(program);
        if (p && p->has_value()) {
            d->has_tldr = true;
            add_tldr_options(**p, program, d->tldr_options);
            // A subcommand page ("git-commit"): its examples run the top program ("git commit ...").
            if (d->tldr_options.empty() && program.find('-') != std::string::npos)
                add_tldr_options(**p, program.substr(0, program.find('-')), d->tldr_options);
            if (d->summary.empty()) {
                const std::string& desc = (*p)->description;
                d->summary = desc.substr(0, desc.find('\n'));
            }
        }
    }
    m_docs.push_back(std::move(d));
    return *m_docs.back();
}

} // namespace sigmaops::knowledge
