// shell/shell.h - the shell agent's deterministic core: a bash parser, the payloads of wrapper
// commands (sudo, env, xargs, find -exec, sh -c, ...), and a risk classifier over the parse tree.
//
// Tuned for one-line commands and scripts of a few thousand lines, as a model or a user would
// propose them: parsing is linear in the input, allocation-light, and never executes or expands
// anything. Every node carries the byte offsets of its source text; a malformed input gives the
// offset of the first error and what was expected there, as `bash -n` would reject it.
//
// The grammar (bash 5.2's, as parsed without executing; see parser.cpp for the productions) and
// the AST follow mvdan/sh's syntax package: a Script is a list of commands; a Command is a simple
// command, a pipeline, an and-or pair, or one of the compound commands; a Word is a list of parts
// (literal text, quoted strings, expansions, substitutions with their own parsed bodies).
#pragma once

#include <cstddef>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace sigmaops::shell {

using Offset = std::size_t;   // byte offset into the parsed source

struct Script;
struct Word;

// ---------------------------------------------------------------------------------------------
// AST

enum class PartKind {
    Literal,       // unquoted text, backslash escapes removed:  ab\ c  -> "ab c"
    SingleQuoted,  // 'text'                   text: the content
    AnsiC,         // $'text'                  text: the content with escapes decoded ($'\x72m' -> "rm")
    DoubleQuoted,  // "text" or $"text"         parts: literals and expansions inside
    Param,         // $x ${x} ${x:-word} ${#x} ${!x} ...   text: the parameter name ("x", "1", "@", "IFS");
                   //                           parts: the operand word's parts (${x:-$(cmd)})
    CommandSubst,  // $(list)                  body: the parsed list
    Backquote,     // `list`                   body: the parsed list (inner escapes removed)
    Arith,         // $((expr))                text: the expression source; parts: expansions in it
    ProcSubst,     // <(list) >(list)           text: "<" or ">"; body: the parsed list
    ExtGlob,       // @(a|b) ?( ) *( ) +( ) !( ) (only with Options::extglob)  text: the source
};

struct WordPart {
    PartKind kind = PartKind::Literal;
    Offset begin = 0, end = 0;           // source span, quotes and $ included
    std::string text;
    std::vector<WordPart> parts;
    std::shared_ptr<Script> body;
};

struct Word {
    Offset begin = 0, end = 0;
    std::vector<WordPart> parts;
    // The word's value after quote removal when it has no expansion ("r''m", "\rm", $'\x72m' all
    // give "rm"); nullopt when any part expands (a parameter, a substitution, arithmetic).
    std::optional<std::string> literal() const;
    // True when some part (or a part inside double quotes) is an expansion or substitution.
    bool has_expansion() const;
    // True when the word is made of quoted parts only ("...", '...', $'...').
    bool fully_quoted() const;
};

struct Redirect {
    Offset begin = 0, end = 0;
    std::string fd;            // "", "2", or "{name}"
    std::string op;            // < > >> >| <> <& >& &> &>> << <<- <<<
    Word target;               // file, fd, here-string word, or here-doc delimiter
    // Here-documents (<< and <<-): the body, and whether the delimiter was quoted (then the
    // body is literal; otherwise heredoc_parts holds its expansions, with offsets into the
    // source: exact for <<, and for <<- counted as if the removed tabs were not there).
    std::string heredoc;
    Offset heredoc_begin = 0;
    bool heredoc_quoted = false;
    std::vector<WordPart> heredoc_parts;
};

struct Assignment {
    Offset begin = 0, end = 0;
    std::string name;          // "x", or "a[1]" with its index source
    bool append = false;       // +=
    bool is_array = false;     // name=( ... )
    Word value;                // scalar value (may be empty)
    std::vector<Word> elements;// array elements
};

enum class Kind {
    Simple,      // assignments, words, redirects
    Pipeline,    // body: two or more stages; pipe_stderr[i]: stage i was joined to i+1 by |&
    And,         // body[0] && body[1]
    Or,          // body[0] || body[1]
    List,        // body: commands separated by ; & or newlines (background marks &)
    Subshell,    // ( body[0] )
    Group,       // { body[0] }
    If,          // body: cond, then, [cond, then]..., [else]   (has_else)
    While,       // body: cond, do
    Until,       // body: cond, do
    For,         // name, words (the `in` list; has_in), body[0]
    Select,      // as For
    ArithFor,    // words: the three expressions as words; body[0]
    Case,        // words[0]: the subject; items
    Function,    // name; body[0]: the compound command
    Test,        // [[ ... ]]: words (operators included as literal words)
    Arith,       // (( ... )): words[0]: the expression
    Coproc,      // name (may be empty); body[0]
};

struct CaseItem {
    Offset begin = 0, end = 0;
    std::vector<Word> patterns;
    std::shared_ptr<struct Command> body;   // a List (may be empty)
    std::string terminator;                 // ";;", ";&", ";;&" or "" (last item)
};

struct Command {
    Kind kind = Kind::Simple;
    Offset begin = 0, end = 0;
    std::vector<Assignment> assignments;   // Simple
    std::vector<Word> words;               // see Kind
    std::vector<Redirect> redirects;       // any command: those after it (and a simple command's)
    std::vector<Command> body;             // see Kind
    std::vector<CaseItem> items;           // Case
    std::vector<bool> pipe_stderr;         // Pipeline
    std::string name;                      // For/Select variable, Function/Coproc name
    bool negated = false;                  // Pipeline or single command preceded by !
    bool timed = false;                    // preceded by `time`
    bool background = false;               // a List element followed by &
    bool has_in = false;                   // For/Select
    bool has_else = false;                 // If
};

struct Script {
    Offset begin = 0, end = 0;
    Command list;                          // Kind::List (empty body for empty input)
};

struct ParseError {
    Offset offset = 0;
    std::string message;                   // "expected `then' after the condition of `if' at 0"
};

struct Options {
    bool extglob = false;       // accept @(...) ?(...) *(...) +(...) !(...) (bash: shopt -s extglob)
    // Nesting limit; deeper input is rejected ("nesting deeper than N levels"), never a stack
    // overflow. A pipeline and a substitution count one level each: 200 allows about 100 nested
    // $( ... ) (bash has no such limit; real scripts nest a few levels).
    size_t max_depth = 200;
};

struct ParseResult {
    std::shared_ptr<Script> script;        // null on error
    std::optional<ParseError> error;
    bool ok() const { return !error.has_value(); }
};

// Parses `source` as bash would with `bash -n`: returns the tree, or the first syntax error with
// its byte offset. Never throws for any input (bad UTF-8 and NUL bytes included).
ParseResult parse(std::string_view source, const Options& options = {});

// The parse of `source` with every offset moved by `base` (a payload inside a larger command).
ParseResult parse_at(std::string_view source, Offset base, const Options& options = {});

// ---------------------------------------------------------------------------------------------
// Payloads: the command a wrapper runs.

// One effective command of a simple command: its words with the wrappers peeled off
// (`sudo -u x env A=1 nice rm -f f` -> words "rm -f f", wrappers {"sudo", "env", "nice"}), or
// the parsed script a shell is given (`bash -c 'rm -f f'`, `su -c`, `watch`, `eval`).
struct Payload {
    std::vector<Word> words;               // program and arguments (empty when script is set)
    std::vector<std::string> wrappers;     // outermost first
    std::shared_ptr<Script> script;        // sh -c / eval / su -c: the parsed string
    std::optional<ParseError> script_error;// the string did not parse
    bool opaque = false;                   // the payload is computed (sh -c "$x"): cannot be seen
    Offset begin = 0;                      // the payload's first word
};

// The commands `simple` (Kind::Simple) runs: itself when it wraps nothing, else every payload
// (find may have several -exec; find and ssh are also payloads themselves). Wrappers: sudo doas
// env (-S too) nice ionice nohup timeout stdbuf setsid chroot flock sshpass command builtin exec
// /usr/bin/time xargs find (-exec/-execdir/-ok/-okdir) busybox sh/bash/dash/zsh/ksh -c, su -c,
// watch, eval, ssh HOST CMD. Nested wrappers are unwrapped up to 16 deep, then left as they are.
// Safe for any tree parse() returns; never throws.
std::vector<Payload> payloads(const Command& simple);

// The program name of a literal command word: the last path component ("/usr/bin/rm" -> "rm").
std::string program_name(const std::string& word);

// ---------------------------------------------------------------------------------------------
// Risk

// Ordered: a script's risk is its highest. Unknown (unparsable, computed or unknown programs)
// ranks above changes-system: the classifier fails closed.
enum class Risk { ReadOnly, ChangesFiles, ChangesSystem, Unknown, Destructive, Irreversible };

std::string_view risk_name(Risk r);   // "read-only", "changes-files", ..., "irreversible"

struct Reason {
    Risk risk = Risk::Unknown;
    std::string word;                      // the command word (program) the reason is about
    Offset offset = 0;                     // where that word starts
    std::string why;                       // "rm -r on a system path: /etc"
};

struct Assessment {
    Risk risk = Risk::ReadOnly;
    std::vector<Reason> reasons;           // every finding above read-only, in the order the walk meets them
    std::vector<std::string> programs;     // programs run, in order of first appearance
};

// Classifies a parsed script by walking its tree (payloads, substitutions, here-doc bodies,
// functions and aliases defined then used, variables used as the command word included).
// Words whose values are known without running anything (variables and arrays assigned literal
// values, ${x,,}, $(echo ...)/$(printf ...) of literal words, brace expansion of the command
// word) are rated as those values, in command words, arguments and redirections; code given to a
// shell on stdin, through <(...) or as a computed string is rated as that code when known, as
// destructive when a substitution downloads or decodes it, else unknown.
// Data in quotes stays data. Linear in the tree (each function body and alias is rated once;
// at most 8 combinations of a word's values, 1,000 re-read texts per script); nesting deeper
// than 256 levels is rated unknown rather than followed.
Assessment classify(const Script& script);

// Parses and classifies; an unparsable source is Risk::Unknown with the parse error as reason.
Assessment classify_source(std::string_view source, const Options& options = {});

} // namespace sigmaops::shell
