// flags.cpp - reading a command line word by word against the programs' documentation: the flag
// check and the explanation (knowledge.h). Both walk the same analysis: every simple command of
// the parse tree (substitutions, here-docs, functions, wrapper payloads and `sh -c` strings
// included), each word given a role and, for options, the documentation entry it matched.
#include <knowledge/knowledge.h>

#include <shell/shell.h>

#include <algorithm>

namespace sigmaops::knowledge {

std::string_view role_name(WordRole r) {
    switch (r) {
    case WordRole::Program: return "program";
    case WordRole::Wrapper: return "wrapper";
    case WordRole::Option: return "option";
    case WordRole::OptionValue: return "option-value";
    case WordRole::Unknown: return "unknown-option";
    case WordRole::Argument: return "argument";
    case WordRole::Unchecked: return "unchecked";
    }
    return "argument";
}

namespace {

using shell::Command;
using shell::Word;
using shell::WordPart;

bool is_signal_program(const std::string& p) { return p == "kill" || p == "pkill" || p == "killall" || p == "pgrep"; }
bool is_find_exec(const std::string& w) { return w == "-exec" || w == "-execdir" || w == "-ok" || w == "-okdir"; }
bool all_digits(std::string_view s) {
    return !s.empty() && std::all_of(s.begin(), s.end(), [](char c) { return c >= '0' && c <= '9'; });
}

struct Analysis {
    std::vector<ProgramUse> programs;
    std::vector<WordInfo> words;
    std::vector<FlagProblem> unknown;
    std::vector<std::string> undocumented;
    std::vector<std::string> summaries;     // per WordInfo with role Program/Wrapper: the summary
};

class Analyzer {
public:
    explicit Analyzer(DocCache& docs) : m_docs(docs) {}
    Analysis result;

    void script(const shell::Script& s, int depth) { command(s.list, depth); }

private:
    DocCache& m_docs;

    void parts(const std::vector<WordPart>& ps, int depth) {
        for (const WordPart& p : ps) {
            if (p.body) script(*p.body, depth + 1);
            parts(p.parts, depth + 1);
        }
    }
    void word(const Word& w, int depth) { parts(w.parts, depth); }

    void command(const Command& c, int depth) {
        if (depth > 64) return;
        for (const shell::Assignment& a : c.assignments) {
            word(a.value, depth);
            for (const Word& w : a.elements) word(w, depth);
        }
        for (const shell::Redirect& r : c.redirects) {
            word(r.target, depth);
            parts(r.heredoc_parts, depth);
        }
        if (c.kind == shell::Kind::Simple) {
            simple(c, depth);
        } else {
            for (const Word& w : c.words) word(w, depth);
        }
        for (const Command& b : c.body) command(b, depth + 1);
        for (const shell::CaseItem& it : c.items) {
            for (const Word& w : it.patterns) word(w, depth);
            if (it.body) command(*it.body, depth + 1);
        }
    }

    void simple(const Command& c, int depth) {
        for (const Word& w : c.words) word(w, depth);   // substitutions inside the words
        if (c.words.empty()) return;
        const std::vector<shell::Payload> pls = shell::payloads(c);
        // Words before the first payload word are the wrappers (sudo -u root env A=1 ...).
        shell::Offset first = c.words.back().end + 1;
        for (const shell::Payload& p : pls) first = std::min(first, p.words.empty() ? p.begin : p.words[0].begin);
        for (const Word& w : c.words) {
            if (w.begin >= first) break;
            WordInfo wi;
            wi.offset = w.begin;
            wi.text = w.literal().value_or("");
            wi.role = WordRole::Wrapper;
            wi.program = shell::program_name(wi.text);
            std::string summary;
            for (const shell::Payload& p : pls)
                if (std::find(p.wrappers.begin(), p.wrappers.end(), wi.program) != p.wrappers.end()) {
                    summary = m_docs.get(wi.program).summary;
                    break;
                }
            add_word(std::move(wi), summary);
        }
        for (const shell::Payload& p : pls) {
            if (p.script) script(*p.script, depth + 1);
            else if (!p.words.empty()) payload(p);
        }
    }

    void add_word(WordInfo w, std::string summary) {
        // A word may be reached twice (find's own payload and its -exec payload): keep the first.
        for (const WordInfo& x : result.words)
            if (x.offset == w.offset) return;
        result.words.push_back(std::move(w));
        result.summaries.push_back(std::move(summary));
    }

    void problem(const std::string& program, const std::string& word, const std::string& option, shell::Offset at,
                 const ProgramDocs& d) {
        std::string sources = d.has_man && d.has_tldr ? "man page, tldr" : d.has_man ? "man page" : "tldr";
        FlagProblem f{program, word, option, at,
                      d.has_man ? program + " has no option " + option + " (checked: " + sources + ")"
                                : program + "'s tldr examples do not use " + option +
                                      " (no man page here to confirm it is invented)"};
        f.tldr_only = !d.has_man;
        result.unknown.push_back(std::move(f));
    }

    // Looks `name` up in `d`: the man entry (a unique --long abbreviation too) and the tldr spelling.
    OptionUse lookup(const ProgramDocs& d, const std::string& name) {
        OptionUse u;
        u.name = name;
        if (const OptionDoc* o = d.find(name)) u.doc = *o;
        if (!u.doc && name.size() > 3 && name[0] == '-' && name[1] == '-') {
            const OptionDoc* only = nullptr;
            int n = 0;
            for (const OptionDoc& o : d.options)
                for (const std::string& s : o.names)
                    if (s.size() > name.size() && s.compare(0, name.size(), name) == 0 && only != &o) { only = &o; ++n; }
            if (n == 1) u.doc = *only;
        }
        if (const ProgramDocs::TldrOption* t = d.find_tldr(name)) {
            u.in_tldr = true;
            u.tldr_example = t->example;
        }
        return u;
    }
    static bool takes_value(const OptionUse& u) {
        return u.doc && !u.doc->argument.empty() && !u.doc->argument_optional;
    }

    // -xzvf (or tar's xzvf): letter by letter; a letter taking a value ends the bundle.
    // Returns whether the next word is that value.
    bool bundle(const ProgramDocs& d, const std::string& prog, const std::string& text, size_t from, WordInfo& wi) {
        bool unknown = false;
        for (size_t j = from; j < text.size(); ++j) {
            OptionUse u = lookup(d, std::string("-") + text[j]);
            const bool known = u.known();
            if (!known) {
                unknown = true;
                problem(prog, text, u.name, wi.offset, d);
            }
            const bool value = takes_value(u);
            wi.options.push_back(std::move(u));
            if (value) {
                if (j + 1 < text.size()) {
                    wi.options.back().value = text.substr(j + 1);
                    break;
                }
                wi.role = unknown ? WordRole::Unknown : WordRole::Option;
                return true;
            }
        }
        wi.role = unknown ? WordRole::Unknown : WordRole::Option;
        return false;
    }

    void payload(const shell::Payload& p) {
        std::optional<std::string> w0 = p.words[0].literal();
        const std::string prog = w0 ? shell::program_name(*w0) : std::string();
        ProgramUse use;
        use.program = prog;
        use.offset = p.words[0].begin;
        use.wrappers = p.wrappers;
        const ProgramDocs* d = prog.empty() ? nullptr : &m_docs.get(prog);
        use.documented = d && d->documented();
        use.summary = d ? d->summary : "";
        result.programs.push_back(use);
        if (d && !d->documented() &&
            std::find(result.undocumented.begin(), result.undocumented.end(), prog) == result.undocumented.end())
            result.undocumented.push_back(prog);
        {
            WordInfo wi;
            wi.offset = p.words[0].begin;
            wi.text = w0.value_or("");
            wi.program = prog;
            wi.role = prog.empty() ? WordRole::Unchecked : WordRole::Program;
            add_word(std::move(wi), use.summary);
        }
        bool end_of_options = false, expect_value = false, first_arg = true;
        for (size_t k = 1; k < p.words.size(); ++k) {
            const Word& w = p.words[k];
            WordInfo wi;
            wi.offset = w.begin;
            wi.program = prog;
            std::optional<std::string> lit = w.literal();
            wi.text = lit.value_or("");
            if (!lit || !d || !d->documented()) {
                wi.role = WordRole::Unchecked;
                expect_value = false;
                add_word(std::move(wi), "");
                continue;
            }
            const std::string& t = *lit;
            if (expect_value) {
                wi.role = WordRole::OptionValue;
                expect_value = false;
                add_word(std::move(wi), "");
                continue;
            }
            if (prog == "find" && is_find_exec(t)) {
                // The command -exec runs is a payload of its own; skip to its ; or +.
                wi.options.push_back(lookup(*d, t));
                wi.role = WordRole::Option;
                add_word(std::move(wi), "");
                while (k + 1 < p.words.size()) {
                    auto e = p.words[k + 1].literal();
                    ++k;
                    if (e && (*e == ";" || *e == "+")) {
                        WordInfo end;
                        end.offset = p.words[k].begin;
                        end.text = *e;
                        end.program = prog;
                        end.role = WordRole::OptionValue;
                        add_word(std::move(end), "");
                        break;
                    }
                }
                continue;
            }
            if (end_of_options || t.size() < 2 || t[0] != '-') {
                // tar's old-style first word: `tar xzf a.tgz`.
                if (k == 1 && prog == "tar" && !t.empty() && t.find_first_not_of("AcdrtuxGnSkUWOmpsMBiajJzZhPlRvwo") == std::string::npos) {
                    expect_value = bundle(*d, prog, t, 0, wi);
                    add_word(std::move(wi), "");
                    continue;
                }
                wi.role = WordRole::Argument;
                // A subcommand with its own page ("git commit", "docker run"): its options are checked
                // against that page from here on.
                if (first_arg && !end_of_options && m_docs.tldr()) {
                    const std::string sub = prog + "-" + t;
                    Expected<std::optional<Page>> sp = m_docs.tldr()->page(sub);
                    if (sp && sp->has_value()) {
                        d = &m_docs.get(sub);
                        add_word(std::move(wi), d->summary);
                        first_arg = false;
                        continue;
                    }
                }
                first_arg = false;
                add_word(std::move(wi), "");
                continue;
            }
            if (t == "--") {
                end_of_options = true;
                wi.role = WordRole::Argument;
                add_word(std::move(wi), "");
                continue;
            }
            // -5 (head -5, nice -5), kill -9 / -TERM / -SIGKILL: numbers and signal names.
            if (all_digits(std::string_view(t).substr(1)) ||
                (is_signal_program(prog) && t.find_first_not_of("ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789+", 1) == std::string::npos)) {
                OptionUse u;
                u.name = t;
                u.in_tldr = true;
                u.tldr_example = all_digits(std::string_view(t).substr(1)) ? "a number given as an option" : "a signal";
                wi.options.push_back(std::move(u));
                wi.role = WordRole::Option;
                add_word(std::move(wi), "");
                continue;
            }
            const size_t eq = t.find('=');
            const std::string name = t.substr(0, eq);
            if (t[1] == '-') {   // --long[=value]
                OptionUse u = lookup(*d, name);
                if (eq != std::string::npos) u.value = t.substr(eq + 1);
                const bool known = u.known();
                if (!known) problem(prog, t, name, w.begin, *d);
                expect_value = known && eq == std::string::npos && takes_value(u);
                wi.options.push_back(std::move(u));
                wi.role = known ? WordRole::Option : WordRole::Unknown;
                add_word(std::move(wi), "");
                continue;
            }
            // -x, -name (single-dash long), or a bundle -xzvf.
            OptionUse whole = lookup(*d, name);
            if (whole.known() || t.size() == 2) {
                if (eq != std::string::npos) whole.value = t.substr(eq + 1);
                const bool known = whole.known();
                if (!known) problem(prog, t, name, w.begin, *d);
                expect_value = known && eq == std::string::npos && takes_value(whole);
                wi.options.push_back(std::move(whole));
                wi.role = known ? WordRole::Option : WordRole::Unknown;
                add_word(std::move(wi), "");
                continue;
            }
            expect_value = bundle(*d, prog, t, 1, wi);
            add_word(std::move(wi), "");
        }
    }
};

Expected<Analysis> analyze(std::string_view command_line, DocCache& docs) {
    shell::ParseResult r = shell::parse(command_line);
    if (!r.ok())
        return unexpected(ErrorCode::InvalidArgument, "the command does not parse at offset " +
                                                          std::to_string(r.error->offset) + ": " + r.error->message);
    return catch_to_expected([&]() -> Analysis {
        Analyzer a(docs);
        a.script(*r.script, 0);
        // Words in command-line order (payload walks can meet them out of order).
        std::vector<size_t> order(a.result.words.size());
        for (size_t i = 0; i < order.size(); ++i) order[i] = i;
        std::stable_sort(order.begin(), order.end(),
                         [&](size_t x, size_t y) { return a.result.words[x].offset < a.result.words[y].offset; });
        Analysis out;
        out.programs = std::move(a.result.programs);
        out.unknown = std::move(a.result.unknown);
        out.undocumented = std::move(a.result.undocumented);
        for (size_t i : order) {
            out.words.push_back(std::move(a.result.words[i]));
            out.summaries.push_back(std::move(a.result.summaries[i]));
        }
        return out;
    });
}

} // namespace

Expected<FlagReport> check_flags(std::string_view command_line, DocCache& docs) {
    Expected<Analysis> a = analyze(command_line, docs);
    if (!a) return unexpected(a.error());
    FlagReport r;
    r.programs = std::move(a->programs);
    r.words = std::move(a->words);
    r.unknown = std::move(a->unknown);
    r.undocumented = std::move(a->undocumented);
    return r;
}

Expected<FlagReport> check_flags(std::string_view command_line, const DocProvider& provider, const Knowledge* tldr) {
    DocCache cache(provider, tldr);
    return check_flags(command_line, cache);
}

Expected<Explanation> explain(std::string_view command_line, DocCache& docs) {
    Expected<Analysis> a = analyze(command_line, docs);
    if (!a) return unexpected(a.error());
    Explanation e;
    e.programs = a->programs;
    e.unknown = a->unknown;
    e.undocumented = a->undocumented;
    for (size_t i = 0; i < a->words.size(); ++i) {
        const WordInfo& w = a->words[i];
        auto base = [&]() {
            WordExplanation x;
            x.offset = w.offset;
            x.text = w.text;
            x.program = w.program;
            x.role = w.role;
            return x;
        };
        if ((w.role == WordRole::Option || w.role == WordRole::Unknown) && !w.options.empty()) {
            for (const OptionUse& u : w.options) {
                WordExplanation x = base();
                x.text = u.name + (u.value.empty() ? "" : "=" + u.value);
                if (w.options.size() > 1) x.text = u.name;
                x.role = u.known() ? WordRole::Option : WordRole::Unknown;
                if (u.doc && !u.doc->description.empty()) {
                    x.explanation = u.doc->description;
                    x.source = "man";
                } else if (!u.tldr_example.empty()) {
                    x.explanation = u.tldr_example;
                    x.source = u.doc ? "man" : "tldr";
                } else if (u.doc) {
                    x.explanation = "documented, without a description";
                    x.source = "man";
                } else {
                    x.explanation = "not documented here: " + w.program + " has no option " + u.name;
                }
                if (!u.value.empty() && w.options.size() > 1) x.explanation += " (value: " + u.value + ")";
                e.words.push_back(std::move(x));
            }
            continue;
        }
        WordExplanation x = base();
        const std::string& summary = a->summaries[i];
        switch (w.role) {
        case WordRole::Program:
        case WordRole::Wrapper:
            x.explanation = !summary.empty() ? summary : "not documented here";
            if (w.role == WordRole::Wrapper)
                x.explanation = summary.empty() ? "an option of the wrapper before it" : summary + " (runs the command that follows)";
            if (!summary.empty()) {
                const ProgramDocs& d = docs.get(w.program);
                x.source = d.has_man ? "man" : "tldr";
            }
            break;
        case WordRole::OptionValue: {
            std::string of;
            for (size_t k = i; k-- > 0;)
                if (a->words[k].role == WordRole::Option || a->words[k].role == WordRole::Unknown) {
                    const WordInfo& o = a->words[k];
                    of = o.options.empty() ? o.text : o.options.back().name;
                    if (!o.options.empty() && o.options.back().doc && !o.options.back().doc->argument.empty())
                        of += " (" + o.options.back().doc->argument + ")";
                    break;
                }
            x.explanation = "the value of " + (of.empty() ? std::string("the option before it") : of);
            break;
        }
        case WordRole::Argument:
            if (!summary.empty()) {
                x.explanation = "subcommand: " + summary;
                x.source = "tldr";
            } else {
                x.explanation = "an argument of " + w.program + " (a file, pattern or value)";
            }
            break;
        case WordRole::Unchecked:
            x.explanation = w.text.empty() ? "computed when the command runs (not checked)"
                                           : "not documented here";
            break;
        default:
            x.explanation = "not documented here";
        }
        e.words.push_back(std::move(x));
    }
    return e;
}

} // namespace sigmaops::knowledge
