// knowledge/knowledge.h - what the command agent knows about programs, without a model: an SQLite
// FTS5 index of the tldr pages (request words -> real example commands, placeholders marked), the
// options a program's man page (or --help text, or tldr examples) documents, a flag check over a
// parsed command line, and a word-by-word explanation of a command.
//
// Tuned for interactive use: the index is opened once (a Knowledge object; a few MB, read-only)
// and a search is one FTS5 query (well under a millisecond on this machine; docs/benchmarks.md).
// Documentation is fetched through a DocProvider, so the same checks run for this machine
// (local_docs(): `man -P cat PROG`) and for a remote target (a provider that runs the same command
// over SSH). Nothing here runs the command being checked or explained.
//
// The tldr pages are tldr-pages contributors' work, CC BY 4.0 (https://github.com/tldr-pages/tldr);
// the shipped index (resources/knowledge/tldr.sqlite) is a conversion of them into SQLite.
#pragma once

#include <base/result.h>

#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace sigmaops::knowledge {

using Offset = std::size_t;   // byte offset into a command line

// ---------------------------------------------------------------------------------------------
// tldr pages

// A {{placeholder}} of a tldr command: `{{path/to/file}}` is a value the user fills in;
// `{{[-C|--directory]}}` is an option spelled one of several ways (alternatives "-C",
// "--directory"), `{{[ls|list]}}` a subcommand spelled either way.
struct Placeholder {
    Offset begin = 0, end = 0;               // span in Example::command, braces included
    std::string text;                        // between the braces: "path/to/file", "[-C|--directory]"
    std::vector<std::string> alternatives;   // the spellings of `[a|b]`, empty for a value
    bool is_value() const { return alternatives.empty(); }
    bool is_option() const { return !alternatives.empty() && alternatives[0].size() > 1 && alternatives[0][0] == '-'; }
};

struct Example {
    std::int64_t id = 0;          // stable within one index file (row id; pages sorted by name)
    std::string page;             // the page ("tar", "docker-compose")
    std::string platform;         // "common" or "linux"
    std::string description;      // "Extract a (compressed) archive file into the target directory"
                                  // (tldr's [x] mnemonic brackets removed)
    std::string command;          // as tldr writes it: "tar xf {{path/to/source.tar}} {{[-C|--directory]}} ..."
    std::vector<Placeholder> placeholders;   // in order
    double score = 0;             // search rank: higher is better (0 for page())
};

// The command with every placeholder replaced: alternatives by their first spelling ("-C"), values by
// `value(p)` (default: the placeholder text in angle brackets, "<path/to/file>").
std::string fill_placeholders(const Example& e,
                              const std::function<std::string(const Placeholder&)>& value = {});
// The placeholders of a tldr command string, in order.
std::vector<Placeholder> find_placeholders(std::string_view command);

struct Page {
    std::string name;
    std::string platform;
    std::string description;      // the page's `>` lines, "More information" left out
    std::vector<Example> examples;
};

// Parses one tldr page (markdown: `# name`, `> description` lines, `- what:` + `` `command` ``).
// BadFile with the line number for a page without a `# name` title; examples without a command
// line are skipped. Never throws for any input.
Expected<Page> parse_tldr_page(std::string_view markdown, std::string_view platform);

struct BuildStats {
    std::size_t n_pages = 0, n_examples = 0;
    std::size_t n_skipped = 0;    // pages that did not parse (named in `skipped`)
    std::vector<std::string> skipped;
};

// Writes the index of the tldr tree `pages_dir` (holding common/ and linux/ with *.md) to
// `out_path` (replaced atomically). Pages are read in name order; a linux page replaces the common
// one of the same name. The same input gives the same bytes (with the same SQLite version).
Expected<BuildStats> build_index(const std::string& pages_dir, const std::string& out_path,
                                 const std::vector<std::string>& platforms = {"common", "linux"});

// Where the index is looked for, first match wins: $SIGMAOPS_KNOWLEDGE (a file), the data dir
// (<data_dir>/knowledge/tldr.sqlite), the source tree's resources/knowledge, the install prefix
// (<prefix>/share/sigmaops/knowledge).
std::vector<std::string> index_search_paths();
// `explicit_path` when non-empty, else the first existing file of index_search_paths(); NotFound
// lists the places looked at.
Expected<std::string> find_index(const std::string& explicit_path = "");

struct SearchOptions {
    std::size_t n = 5;                       // results wanted
    std::vector<std::int64_t> exclude;       // example ids never returned (leave-one-out evaluation)
    // Rank up (score x2) the examples of a program the request names ("... with rsync"), when the
    // word is not an everyday word of the descriptions ("file", "list" and "time" are pages too).
    bool boost_named_program = true;
};

// The opened index. Open once; thread-compatible (one thread at a time per object; open one per
// thread for parallel searches).
class Knowledge {
public:
    // Opens `path` read-only, or find_index() when empty. BadFile for a file that is not an index.
    static Expected<Knowledge> open(const std::string& path = "");
    Knowledge(Knowledge&&) noexcept;
    Knowledge& operator=(Knowledge&&) noexcept;
    ~Knowledge();

    // The examples best matching a plain-words request ("extract a tar.gz into /opt"), best
    // first: FTS5 bm25 over the example descriptions, commands and program names, stop words
    // dropped, examples of a program the request names (a word equal to a page name) ranked up.
    // An empty or all-stop-word request gives no results (not an error).
    Expected<std::vector<Example>> search(std::string_view request, const SearchOptions& options) const;
    Expected<std::vector<Example>> search(std::string_view request, std::size_t n = 5) const;
    // The page of `program` (linux before common), or nullopt when tldr has none.
    Expected<std::optional<Page>> page(std::string_view program) const;
    // The example with this id (Example::id); NotFound when the index has none.
    Expected<Example> example(std::int64_t id) const;
    // Every page name, sorted.
    std::vector<std::string> page_names() const;
    // Number of pages and examples in the index.
    std::size_t n_pages() const;
    std::size_t n_examples() const;
    const std::string& path() const;

private:
    struct Impl;
    explicit Knowledge(std::unique_ptr<Impl> impl);
    std::unique_ptr<Impl> m;
};

// ---------------------------------------------------------------------------------------------
// Program documentation: options from man pages, --help text and tldr

// One documented option: its spellings and whether it takes a value.
struct OptionDoc {
    std::vector<std::string> names;   // "-g", "--listed-incremental"; find's "-name"
    std::string argument;             // "FILE", "[=WHEN]" (optional, attached), "" for none
    bool argument_optional = false;   // --color[=WHEN]: a value only when attached with '='
    std::string description;          // the entry's first paragraph, one line
};

// The options documented in rendered man page text (`man -P cat`) or `--help` output: every
// entry whose tag starts with '-' (OPTIONS, and e.g. find's TESTS/ACTIONS), with its first
// description paragraph. Never throws for any input.
std::vector<OptionDoc> parse_man_options(std::string_view text);
// The NAME section's one-line summary ("tar - an archiving utility" -> "an archiving utility"),
// or "" when there is none.
std::string man_summary(std::string_view text);

// Where documentation comes from: returns the text of `program`'s man page (rendered, as
// `man -P cat` prints it) or its --help output, or nullopt when the target has neither. `program`
// is a bare program name ([A-Za-z0-9_.+-]); providers must not pass it through a shell unquoted.
using DocProvider = std::function<std::optional<std::string>(const std::string& program)>;

// The shell command that prints `program`'s man page on a target the way local_docs() renders it
// here, for a remote provider to run over SSH: "MANWIDTH=200 MANPAGER=cat man --nh --nj -P cat
// 'PROG' 2>/dev/null"; "" when `program` is not a bare program name (then fetch nothing).
std::string doc_command(const std::string& program);

// This machine's man pages: runs `man -P cat PROG` (MANWIDTH=200, no hyphenation or
// justification) without a shell, with a 10 s limit; nullopt when man has no page.
DocProvider local_docs();

// What is known about one program: its man/--help options and the options its tldr examples use.
struct ProgramDocs {
    std::string program;
    std::string summary;              // man NAME line, else the tldr page description's first line
    std::vector<OptionDoc> options;   // from the man page / --help text
    struct TldrOption {
        std::string name;             // a spelling a tldr example uses ("-C", "--directory", "-x" of `tar xf`)
        std::string example;          // the description of the first example using it
    };
    std::vector<TldrOption> tldr_options;
    bool has_man = false;             // the provider returned text
    bool has_tldr = false;            // tldr has a page
    bool documented() const { return has_man || has_tldr; }
    // The option `name` is documented as ("--file" finds "-f, --file=ARCHIVE"), or null.
    const OptionDoc* find(std::string_view name) const;
    // The tldr spelling `name`, or null.
    const TldrOption* find_tldr(std::string_view name) const;
};

// Documentation of programs, fetched once per program from the provider and the tldr index.
// Either source may be absent (no provider: tldr only; no index: man only).
class DocCache {
public:
    DocCache(DocProvider provider, const Knowledge* tldr);
    const ProgramDocs& get(const std::string& program);
    const Knowledge* tldr() const { return m_tldr; }
private:
    DocProvider m_provider;
    const Knowledge* m_tldr;
    std::vector<std::unique_ptr<ProgramDocs>> m_docs;
};

// ---------------------------------------------------------------------------------------------
// Flag checking and explanation

// How each word of a command is read.
enum class WordRole {
    Program,       // the command word
    Wrapper,       // sudo, env, xargs... (peeled; their own options are not checked)
    Option,        // a documented option (or one letter of a -xzvf bundle: see OptionUse)
    OptionValue,   // the value of the option before it (-f ARCHIVE, -C /opt)
    Unknown,       // an option the documentation does not list
    Argument,      // anything else: files, patterns, subcommands
    Unchecked,     // the program has no documentation here, or the word is computed ($x)
};

// One option found in a word: `-xzvf` gives four, "-x", "-z", "-v", "-f".
struct OptionUse {
    std::string name;              // "-x", "--directory", "-name"
    std::string value;             // an attached value (--file=a.tgz, -fa.tgz), else ""
    std::optional<OptionDoc> doc;  // the man/--help entry, if any
    std::string tldr_example;      // the description of a tldr example using this spelling, if any
    bool in_tldr = false;          // a tldr example of the program uses this spelling
    bool known() const { return doc.has_value() || in_tldr; }
};

struct WordInfo {
    Offset offset = 0;             // where the word starts in the checked command line
    std::string text;              // its literal value ("" when it expands)
    std::string program;           // the program this word belongs to
    WordRole role = WordRole::Argument;
    std::vector<OptionUse> options;// Option / Unknown words
};

struct ProgramUse {
    std::string program;
    Offset offset = 0;
    std::vector<std::string> wrappers;   // sudo, env, ...: outermost first
    bool documented = false;             // man page, --help or tldr page found
    std::string summary;
};

struct FlagProblem {
    std::string program;
    std::string word;              // the whole word ("--frobnicate", "-xzq")
    std::string option;            // the unknown option in it ("--frobnicate", "-q")
    Offset offset = 0;             // where the word starts
    std::string message;           // "tar has no option --frobnicate (checked: man page, tldr)"
    // Only tldr was there to check against (no man page or --help text): tldr's examples use a
    // few options of each program, so such a finding is weak (docker run --rm without docker's
    // man page). Callers may show it as "not confirmed" rather than "invented".
    bool tldr_only = false;
};

struct FlagReport {
    std::vector<ProgramUse> programs;      // every simple command, payloads included, in order
    std::vector<WordInfo> words;           // every word of those commands, in order
    std::vector<FlagProblem> unknown;      // options the documentation does not list
    std::vector<std::string> undocumented; // programs with no documentation here ("no documentation")
    bool ok() const { return unknown.empty(); }
};

// Parses `command_line` (shell::parse) and checks each option word of every simple command,
// wrapper payloads included (sudo tar ..., find -exec grep ...), against the program's
// documentation from `docs`: combined short flags (-xzvf) letter by letter (a letter taking a
// value ends the bundle), --long and --long=VALUE (a unique GNU abbreviation is accepted),
// single-dash long options (find -name), values of options that take one skipped, `--` ends
// options, tar's old-style first word (tar xzf) read as a bundle. A program with no
// documentation is listed in `undocumented` and its flags are not guessed at. InvalidArgument
// with the parse error's offset for input that does not parse.
Expected<FlagReport> check_flags(std::string_view command_line, DocCache& docs);
// The same with a fresh cache: man pages from `provider` (may be empty), tldr from `tldr` (may be null).
Expected<FlagReport> check_flags(std::string_view command_line, const DocProvider& provider,
                                 const Knowledge* tldr);

// One explained word: what it is and where the explanation comes from.
struct WordExplanation {
    Offset offset = 0;
    std::string text;              // the word, or one option of a bundle ("-x" of "-xzvf")
    std::string program;
    WordRole role = WordRole::Argument;
    std::string explanation;       // the man entry's first paragraph, the tldr example's description,
                                   // the program summary, or "not documented here"
    std::string source;            // "man", "tldr", "" (none)
};

struct Explanation {
    std::vector<ProgramUse> programs;
    std::vector<WordExplanation> words;    // in command-line order; bundles split into letters
    std::vector<FlagProblem> unknown;      // as check_flags
    std::vector<std::string> undocumented;
};

// Explains `command_line` word by word from the documentation (see check_flags for how words are
// read). The risk is not part of it: shell::classify gives that. InvalidArgument with the parse
// error ("offset N: message") for input that does not parse.
Expected<Explanation> explain(std::string_view command_line, DocCache& docs);

std::string_view role_name(WordRole r);   // "program", "wrapper", "option", "option-value", ...

} // namespace sigmaops::knowledge
