// docgen.cpp - the man page and the shell completions, written from the command table
// (docgen.h), and the `man` and `completion` table entries that print them.
#include "docgen.h"
#include "commands.h"

#include <base/paths.h>

#include <cctype>
#include <cstdio>
#include <map>
#include <ostream>
#include <set>

namespace sigmaops::cli {

namespace {

// Every entry under `root`, depth first, with the words that select it ("history list"; "" for root).
struct Entry {
    std::string path;
    const Command* command;
};

void collect(const Command& c, const std::string& path, std::vector<Entry>& out) {
    out.push_back({path, &c});
    for (const Command& s : c.subcommands) collect(s, path.empty() ? s.name : path + " " + s.name, out);
}

std::vector<Entry> entries(const Command& root) {
    std::vector<Entry> out;
    collect(root, "", out);
    return out;
}

// The options a command accepts as the dispatcher sees them: its table entries plus --help/-h.
std::vector<Flag> options_of(const Command& c) {
    std::vector<Flag> out = c.flags;
    out.push_back(Flag{"--help", "-h", "", c.subcommands.empty() ? "show this help" : "show this help; COMMAND --help for a command's options"});
    return out;
}

std::vector<std::string> split(const std::string& s, char sep) {
    std::vector<std::string> out;
    size_t start = 0;
    for (size_t i = 0; i <= s.size(); ++i)
        if (i == s.size() || s[i] == sep) {
            out.push_back(s.substr(start, i - start));
            start = i + 1;
        }
    return out;
}

std::vector<std::string> lines_of(const std::string& s) {
    std::vector<std::string> out = split(s, '\n');
    while (!out.empty() && out.back().empty()) out.pop_back();
    return out;
}

Complete kind_of_placeholder(std::string p) {
    while (!p.empty() && (p.back() == '.' || p.back() == ']')) p.pop_back();   // "FILE...", "FILE]"
    while (!p.empty() && p.front() == '[') p.erase(p.begin());
    if (p == "FILE" || p == "F" || p == "PATH") return Complete::File;
    if (p == "DIR" || p == "D") return Complete::Dir;
    if (p == "H" || p == "HOST" || p == "J") return Complete::Host;
    if (p == "H1,H2" || p == "H1,H2,") return Complete::HostList;
    if (p == "USER") return Complete::User;
    return Complete::None;
}

// Single-quoted for sh, bash, zsh ('it'\''s').
std::string sh_quote(const std::string& s) {
    std::string out = "'";
    for (char ch : s) out += ch == '\'' ? std::string("'\\''") : std::string(1, ch);
    return out + "'";
}

// Single-quoted for fish (only \' and \\ are escapes there).
std::string fish_quote(const std::string& s) {
    std::string out = "'";
    for (char ch : s) {
        if (ch == '\'' || ch == '\\') out += '\\';
        out += ch;
    }
    return out + "'";
}

// The help text of an option or command on one line (zsh and fish show one line per item).
std::string one_line(const std::string& s) {
    std::string out;
    for (char ch : s) out += (ch == '\n' || ch == '\t') ? ' ' : ch;
    return out;
}

// The word the shell scripts use for a value's completion ("" for a switch).
std::string value_word(const Flag& f) {
    if (f.value.empty()) return "";
    if (f.complete == Complete::Auto) {
        const std::vector<std::string> ch = choices_of(f);
        if (!ch.empty()) {
            std::string w = "choice";
            for (const std::string& c : ch) w += " " + c;
            return w;
        }
    }
    switch (completion_of(f)) {
    case Complete::File: return "file";
    case Complete::Dir: return "dir";
    case Complete::Host: return "host";
    case Complete::HostList: return "hosts";
    case Complete::User: return "user";
    default: return "none";
    }
}

std::string positional_word(const Command& c) {
    if (!c.subcommands.empty()) return "";
    switch (positional_of(c)) {
    case Complete::File: return "file";
    case Complete::Dir: return "dir";
    case Complete::Host: return "host";
    case Complete::HostList: return "hosts";
    case Complete::User: return "user";
    default: return "none";
    }
}

// ---- roff ---------------------------------------------------------------------------------

// Text for a roff text line: backslashes, hyphens (\-) and non-ASCII (\[uXXXX]) escaped. A line
// that would start with a control character ('.' or '\'') gets \& in front; `roff_lines` does that.
std::string roff(const std::string& s) {
    std::string out;
    for (size_t i = 0; i < s.size(); ++i) {
        const unsigned char ch = static_cast<unsigned char>(s[i]);
        if (ch == '\\') out += "\\e";
        else if (ch == '-') out += "\\-";
        else if (ch < 0x80) out += static_cast<char>(ch);
        else {
            // UTF-8 to a code point; a malformed byte becomes U+FFFD.
            unsigned cp = 0xFFFD;
            size_t n = ch >= 0xF0 ? 3 : ch >= 0xE0 ? 2 : ch >= 0xC0 ? 1 : 0;
            if (n > 0 && i + n < s.size()) {
                cp = ch & (0x3F >> n);
                for (size_t k = 1; k <= n; ++k) {
                    const unsigned char c2 = static_cast<unsigned char>(s[i + k]);
                    if ((c2 & 0xC0) != 0x80) { cp = 0xFFFD; n = k - 1; break; }
                    cp = (cp << 6) | (c2 & 0x3F);
                }
                i += n;
            }
            char buf[16];
            std::snprintf(buf, sizeof buf, "\\[u%04X]", cp);
            out += buf;
        }
    }
    return out;
}

// Escaped text lines ready to follow a macro: each line of `s`, leading blanks dropped.
std::string roff_lines(const std::string& s) {
    std::string out;
    for (std::string line : lines_of(s)) {
        const size_t b = line.find_first_not_of(" \t");
        line = b == std::string::npos ? "" : line.substr(b);
        if (line.empty()) { out += ".PP\n"; continue; }
        std::string r = roff(line);
        if (r[0] == '.' || r[0] == '\'') r = "\\&" + r;
        out += r + "\n";
    }
    return out;
}

std::string bold(const std::string& s) { return "\\fB" + roff(s) + "\\fR"; }
std::string italic(const std::string& s) { return "\\fI" + roff(s) + "\\fR"; }

std::string roff_option(const Flag& f) {
    std::string s = ".TP\n";
    if (!f.alias.empty()) s += bold(f.alias) + ", ";
    s += bold(f.name);
    if (!f.value.empty()) s += " " + italic(f.value);
    s += "\n" + roff_lines(f.help);
    return s;
}

// The notes of an entry: filled text, a new paragraph where the exit status begins.
std::string roff_notes(const std::string& notes) {
    std::string out;
    for (const std::string& line : lines_of(notes)) {
        if (line.rfind("exit status:", 0) == 0) out += ".PP\n";
        out += roff_lines(line.empty() ? std::string("\n") : line);
    }
    return out;
}

// The "exit status: ..." part of some notes, joined to one line ("" when there is none).
std::string exit_status_of(const std::string& notes) {
    const size_t at = notes.find("exit status:");
    if (at == std::string::npos || (at > 0 && notes[at - 1] != '\n')) return "";
    std::string s = notes.substr(at + 12);
    for (char& ch : s)
        if (ch == '\n') ch = ' ';
    const size_t b = s.find_first_not_of(' ');
    return b == std::string::npos ? "" : s.substr(b);
}

// A $NAME word of the table's help and notes: the first text that names it (an option's help,
// "--backend URL: ...", or a line of notes) and the commands whose help does.
struct Variable {
    std::string text;
    std::set<std::string> commands;
};

std::map<std::string, Variable> variables_named(const std::vector<Entry>& all) {
    std::map<std::string, Variable> out;
    auto scan = [&](const std::string& text, const std::string& shown, const std::string& path) {
        for (size_t i = text.find('$'); i != std::string::npos; i = text.find('$', i + 1)) {
            size_t j = i + 1;
            while (j < text.size() && (std::isupper(static_cast<unsigned char>(text[j])) || std::isdigit(static_cast<unsigned char>(text[j])) || text[j] == '_')) ++j;
            if (j - i <= 2) continue;
            Variable& v = out[text.substr(i + 1, j - i - 1)];
            if (v.text.empty()) v.text = shown;
            v.commands.insert(path.empty() ? "sigmaops" : "sigmaops " + path);
        }
    };
    for (const Entry& e : all) {
        for (const Flag& f : e.command->flags) scan(f.help, f.name + (f.value.empty() ? "" : " " + f.value) + ": " + f.help, e.path);
        for (const std::string& line : lines_of(e.command->summary + "\n" + e.command->usage + "\n" + e.command->notes)) scan(line, line, e.path);
    }
    return out;
}

// What each environment variable the program reads means (the table's help names them too).
const std::vector<std::pair<std::string, std::string>> k_environment = {
    {"SIGMAOPS_MODEL", "The model used when -m is not given: a .gguf file or a directory of them (when set, it must exist); "
                       "it comes before the data directory in the search."},
    {"SIGMAOPS_KNOWLEDGE", "The tldr index file used by explain and cmd when --index is not given."},
    {"XDG_DATA_HOME", "The data directory (default ~/.local/share): sigmaops/history.db, sigmaops/models/ and "
                      "sigmaops/knowledge/ are looked for there."},
    {"XDG_CONFIG_HOME", "The configuration directory (default ~/.config): sigmaops/hosts.conf (host profiles) and "
                        "sigmaops/known_hosts (host keys pinned by sigmaops)."},
    {"NO_COLOR", "When set to a non-empty value, no colour is used on the terminal (https://no-color.org); nor with TERM=dumb."},
    {"SUDO_USER, USER", "Who logs in, for tune sshd's --login-user default."},
    {"SSH_AUTH_SOCK", "The ssh-agent socket; its keys are offered to hosts before key files."},
    {"DBUS_SESSION_BUS_ADDRESS, XDG_RUNTIME_DIR", "The D-Bus session bus ($XDG_RUNTIME_DIR/bus) through which the system "
                                                  "keyring (Secret Service) is asked for a remote backend's API key; without one "
                                                  "the keyring is not used."},
};

} // namespace

// ---- what completes -----------------------------------------------------------------------

Complete completion_of(const Flag& f) {
    if (f.value.empty()) return Complete::None;
    if (f.complete != Complete::Auto) return f.complete;
    return kind_of_placeholder(f.value);
}

std::vector<std::string> choices_of(const Flag& f) {
    if (f.value.find('|') == std::string::npos) return {};
    std::vector<std::string> out;
    for (const std::string& c : split(f.value, '|'))
        if (!c.empty()) out.push_back(c);
    return out;
}

Complete positional_of(const Command& c) {
    if (!c.subcommands.empty()) return Complete::None;
    std::string first_line = c.usage.substr(0, c.usage.find('\n'));
    for (char& ch : first_line)
        if (ch == '[' || ch == ']' || ch == '(' || ch == ')' || ch == '|') ch = ' ';
    bool skip_value = false;
    for (const std::string& w : split(first_line, ' ')) {
        if (w.empty()) continue;
        if (skip_value) { skip_value = false; continue; }
        if (w == "--") return Complete::None;   // what follows is a command line
        if (w[0] == '-' && w.size() > 1) {
            for (const Flag& f : c.flags)
                if ((w == f.name || w == f.alias) && !f.value.empty() && w.find('=') == std::string::npos) skip_value = true;
            continue;
        }
        if (w == "-") continue;
        return kind_of_placeholder(w);
    }
    return Complete::None;
}

// ---- the man page -------------------------------------------------------------------------

std::string man_page(const Command& root, const std::string& version) {
    const std::vector<Entry> all = entries(root);
    std::string summary = root.summary;
    if (summary.rfind("sigmaops - ", 0) == 0) summary = summary.substr(11);

    std::string s;
    s += ".\\\" sigmaops(1), generated by `sigmaops man` from the command table (app/cli/command.h),\n"
         ".\\\" the same one --help prints. Do not edit: change the table.\n";
    s += ".TH SIGMAOPS 1 \"\" \"sigmaops " + roff(version) + "\" \"User Commands\"\n";
    s += ".\\\" No hyphenation, ragged right: paths and options stay whole.\n.nh\n.ad l\n";
    s += ".SH NAME\nsigmaops \\- " + roff(summary) + "\n";

    s += ".SH SYNOPSIS\n";
    s += bold("sigmaops") + " [" + italic("OPTIONS") + "]\n.br\n";
    s += bold("sigmaops") + " " + italic("COMMAND") + " [" + italic("OPTIONS") + "] [" + italic("ARGUMENTS") + "]\n";
    for (const Entry& e : all) {
        if (e.path.empty() || !e.command->run) continue;
        for (const std::string& u : lines_of(e.command->usage.empty() ? std::string(" ") : e.command->usage)) {
            std::string line = u;
            const size_t b = line.find_first_not_of(' ');
            line = b == std::string::npos ? "" : line.substr(b);
            s += ".br\n";
            if (line.rfind("sigmaops ", 0) == 0) s += roff_lines(line);
            else s += bold("sigmaops " + e.path) + (line.empty() ? "" : " " + roff(line)) + "\n";
        }
    }

    s += ".SH DESCRIPTION\n" + bold("sigmaops") + " is " + roff(summary) + ".\n";
    s += "Each command below has its own options; " + bold("sigmaops") + " " + italic("COMMAND") + " " + bold("--help") +
         " prints them, from the same table as this page.\n";
    s += ".PP\n" + roff_notes(root.notes);

    s += ".SH OPTIONS\n";
    for (const Flag& f : options_of(root)) s += roff_option(f);

    s += ".SH COMMANDS\n";
    for (const Entry& e : all) {
        if (e.path.empty()) continue;
        const Command& c = *e.command;
        s += ".SS\n" + roff_lines("sigmaops " + e.path);
        if (!c.subcommands.empty() && c.usage.empty()) s += bold("sigmaops " + e.path) + " " + italic("COMMAND") + " [" + italic("OPTIONS") + "]\n";
        else {
            bool first = true;
            for (const std::string& u : lines_of(c.usage.empty() ? std::string(" ") : c.usage)) {
                std::string line = u;
                const size_t b = line.find_first_not_of(' ');
                line = b == std::string::npos ? "" : line.substr(b);
                if (!first) s += ".br\n";
                first = false;
                if (line.rfind("sigmaops ", 0) == 0) s += roff_lines(line);
                else s += bold("sigmaops " + e.path) + (line.empty() ? "" : " " + roff(line)) + "\n";
            }
        }
        if (!c.summary.empty()) s += ".PP\n" + roff_lines(c.summary);
        if (!c.subcommands.empty()) {
            s += ".PP\nCommands:\n";
            for (const Command& sub : c.subcommands) s += ".TP\n" + bold(sub.name) + "\n" + roff_lines(sub.summary);
        }
        s += ".PP\nOptions:\n.RS\n";
        for (const Flag& f : options_of(c)) s += roff_option(f);
        s += ".RE\n";
        if (!c.notes.empty()) s += ".PP\n" + roff_notes(c.notes);
    }

    s += ".SH \"EXIT STATUS\"\n";
    s += ".TP\n.B " + std::to_string(k_exit_ok) + "\nsuccess\n";
    s += ".TP\n.B " + std::to_string(k_exit_failure) + "\na runtime failure: a model, file, database or host could not be used\n";
    s += ".TP\n.B " + std::to_string(k_exit_usage) + "\na usage error: an unknown option or command, a missing or malformed value "
         "(the message names the option and what it accepts)\n";
    s += ".PP\nWhat each command returns, as its " + bold("--help") + " says:\n";
    for (const Entry& e : all) {
        const std::string x = exit_status_of(e.command->notes);
        if (!x.empty()) s += ".TP\n" + bold(e.path.empty() ? "sigmaops" : "sigmaops " + e.path) + "\n" + roff_lines(x);
    }

    s += ".SH ENVIRONMENT\n";
    std::set<std::string> described;
    for (const auto& [name, text] : k_environment) {
        s += ".TP\n" + bold(name) + "\n" + roff_lines(text);
        for (const std::string& n : split(name, ',')) described.insert(n.substr(n.find_first_not_of(' ')));
    }
    // Variables the table's help names that the list above does not: its own words, and where.
    for (const auto& [name, v] : variables_named(all)) {
        if (described.count(name) || name == "HOME") continue;
        std::string where;
        for (const std::string& p : v.commands) where += (where.empty() ? "" : ", ") + p;
        s += ".TP\n" + bold(name) + "\n" + roff_lines(one_line(v.text)) + "(in the help of " + roff(where) + ")\n";
    }
    s += ".PP\nThe engine reads SIGMA_* variables (SIGMA_CPU_ISA and others) that pick kernels for benchmarks; "
         "users need none of them.\n";

    s += ".SH FILES\n";
    const std::vector<std::pair<std::string, std::string>> files = {
        {"$XDG_CONFIG_HOME/sigmaops/hosts.conf", "Host profiles (ssh_config syntax: Host, HostName, User, Port, IdentityFile, "
                                                 "ProxyJump), written by hosts add and hosts rm."},
        {"$XDG_CONFIG_HOME/sigmaops/known_hosts", "Host keys accepted in sigmaops; a changed key is refused."},
        {"~/.ssh/config", "Read for hosts and their settings; never written."},
        {"$XDG_DATA_HOME/sigmaops/history.db", "The history (SQLite): chats, commands run or refused, config changes with "
                                               "their journals, findings. Secrets are never stored."},
        {"$XDG_DATA_HOME/sigmaops/chat_history", "The terminal chat's input history (libedit; mode 0600, the last 1000 lines); "
                                                 "lines that look like they carry a secret are never added."},
        {"$XDG_DATA_HOME/sigmaops/models/", "Models found without -m."},
        {"PREFIX/share/sigmaops/models/sigma-ops-nano.gguf", "The default model."},
        {"PREFIX/share/sigmaops/knowledge/tldr.sqlite", "The tldr pages index used by explain and cmd."},
        {"PREFIX/share/sigmaops/samples/", "Sample incident logs to try diagnose on."},
    };
    for (const auto& [path, text] : files) s += ".TP\n" + italic(path) + "\n" + roff_lines(text);

    s += ".SH SECURITY\n"
         "Nothing runs on a machine, and nothing on a host is changed, without your consent on the terminal:\n"
         "a proposed command is shown with its risk and asks y for read\\-only to system\\-changing commands,\n"
         "and the host name typed exactly for unknown, destructive and irreversible ones.\n"
         "Without a terminal everything is declined, and no option skips the question.\n"
         "A configuration change shows its diff with a reason and a source per hunk, asks, is journaled\n"
         "before it is made, and is rolled back on any failure (or later with " + bold("sigmaops rollback") + ").\n"
         ".PP\n"
         "Passwords (sudo) are asked on the terminal and never reach disk, logs or history.\n"
         "Text from logs, files and command output is fenced and labelled in the model's prompts, and\n"
         "escape sequences in it are stripped before it is shown. Read every proposed command before\n"
         "you confirm it: the default model is small.\n";

    s += ".SH \"SEE ALSO\"\n" + bold("ssh") + "(1), " + bold("ssh_config") + "(5), " + bold("sshd_config") + "(5), " +
         bold("journalctl") + "(1), " + bold("sudo") + "(8)\n";

    s += ".SH AUTHORS\nThe SigmaOps developers.\n";
    s += ".SH COPYRIGHT\n"
         "The command examples index (" + italic("tldr.sqlite") + ") is derived from the tldr pages,\n"
         "\\[co] the tldr\\-pages team and contributors (https://github.com/tldr\\-pages/tldr), licensed under the\n"
         "Creative Commons Attribution 4.0 International License (CC BY 4.0,\n"
         "https://creativecommons.org/licenses/by/4.0/).\n"
         "Changes: converted to an SQLite index; tldr's [x] mnemonic brackets removed from the example\n"
         "descriptions; the \"More information\" lines left out.\n"
         ".PP\n"
         "The default model was trained on data derived from the tldr pages (tldr\\-pages contributors, CC BY 4.0),\n"
         "Loghub (Zhu et al., ISSRE 2023; research use) and Debian's packaged documentation.\n";
    return s;
}

// ---- bash ---------------------------------------------------------------------------------

// The data every script walks with: per command path its subcommands, options as offered, the
// options (with aliases and earlier names) that take a value and what it completes to, and the
// first argument's completion.
namespace {

struct Tables {
    std::vector<std::pair<std::string, std::string>> subcommands;   // path -> "a b c"
    std::vector<std::pair<std::string, std::string>> options;       // path -> "--a -b --c"
    std::vector<std::pair<std::string, std::string>> values;        // "path|--opt" -> value word
    std::vector<std::pair<std::string, std::string>> positional;    // path -> word
};

Tables tables(const Command& root) {
    Tables t;
    for (const Entry& e : entries(root)) {
        const Command& c = *e.command;
        std::string subs, opts;
        for (const Command& s : c.subcommands) subs += (subs.empty() ? "" : " ") + s.name;
        for (const Flag& f : options_of(c)) {
            opts += (opts.empty() ? "" : " ") + f.name;
            if (!f.alias.empty()) opts += " " + f.alias;
            const std::string w = value_word(f);
            if (w.empty()) continue;
            t.values.push_back({e.path + "|" + f.name, w});
            if (!f.alias.empty()) t.values.push_back({e.path + "|" + f.alias, w});
            for (const std::string& old : f.old_names) t.values.push_back({e.path + "|" + old, w});
        }
        if (!subs.empty()) t.subcommands.push_back({e.path, subs});
        t.options.push_back({e.path, opts});
        const std::string p = positional_word(c);
        if (!p.empty() && p != "none") t.positional.push_back({e.path, p});
    }
    return t;
}

// A host list for the scripts: Host names from ~/.ssh/config and hosts.conf (patterns left out),
// and the names in known_hosts (hashed ones cannot be read), as bash-completion's _known_hosts.
const char* const k_hosts_pipeline =
    "    {\n"
    "        for f in \"$HOME/.ssh/config\" \"${XDG_CONFIG_HOME:-$HOME/.config}/sigmaops/hosts.conf\"; do\n"
    "            [ -r \"$f\" ] && awk 'tolower($1) == \"host\" { for (i = 2; i <= NF; i++) print $i }' \"$f\"\n"
    "        done\n"
    "        for f in \"$HOME/.ssh/known_hosts\" /etc/ssh/ssh_known_hosts; do\n"
    "            [ -r \"$f\" ] && awk '$1 !~ /^[|#@]/ && NF >= 3 { n = split($1, a, \",\"); for (i = 1; i <= n; i++) { h = a[i]; sub(/^\\[/, \"\", h); sub(/\\]:[0-9]+$/, \"\", h); print h } }' \"$f\"\n"
    "        done\n"
    "    } 2>/dev/null | awk '!/[*?!]/ && !seen[$0]++'\n";

std::string bash_case(const std::string& fn, const std::string& what, const std::string& word,
                      const std::vector<std::pair<std::string, std::string>>& rows) {
    std::string s = "# " + what + "\n" + fn + "() {\n    case " + word + " in\n";
    for (const auto& [key, value] : rows) s += "    " + sh_quote(key) + ") REPLY=" + sh_quote(value) + " ;;\n";
    s += "    *) REPLY= ;;\n    esac\n}\n";
    return s;
}

} // namespace

std::string bash_completion(const Command& root) {
    const Tables t = tables(root);
    std::string s;
    s += "# bash completion for sigmaops(1), generated by `sigmaops completion bash` from the command\n"
         "# table (app/cli/command.h), the same one --help prints. Do not edit: change the table.\n"
         "# Installed as share/bash-completion/completions/sigmaops; or: source <(sigmaops completion bash)\n\n";
    s += bash_case("_sigmaops_commands", "The subcommands of a command path (\"\" is sigmaops itself).", "$1", t.subcommands);
    s += bash_case("_sigmaops_options", "The options of a command path.", "$1", t.options);
    s += bash_case("_sigmaops_value", "What the value of option $2 of command path $1 completes to: file dir host hosts\n"
                                      "# user none, or \"choice A B\"; empty for a switch or an unknown option.", "\"$1|$2\"", t.values);
    s += bash_case("_sigmaops_positional", "What a command's arguments complete to.", "$1", t.positional);
    s += "\n# Host names for H, HOST and H1,H2 values.\n_sigmaops_hosts() {\n    local f\n";
    s += k_hosts_pipeline;
    s += "}\n\n";
    s += R"BASH(# Fills COMPREPLY for a value: $1 what (as _sigmaops_value says), $2 the word so far,
# $3 text to put in front of each answer ("--opt=" when the word held it).
_sigmaops_complete_value() {
    local head=
    case $1 in
    file) compopt -o filenames 2>/dev/null; mapfile -t COMPREPLY < <(compgen -f -- "$2") ;;
    dir) compopt -o filenames 2>/dev/null; mapfile -t COMPREPLY < <(compgen -d -- "$2") ;;
    host) mapfile -t COMPREPLY < <(compgen -W "$(_sigmaops_hosts)" -- "$2") ;;
    hosts)
        [[ $2 == *,* ]] && head=${2%,*},
        mapfile -t COMPREPLY < <(compgen -P "$head" -W "$(_sigmaops_hosts)" -- "${2##*,}")
        compopt -o nospace 2>/dev/null ;;
    user) mapfile -t COMPREPLY < <(compgen -u -- "$2") ;;
    choice\ *) mapfile -t COMPREPLY < <(compgen -W "${1#choice }" -- "$2") ;;
    *) COMPREPLY=() ;;
    esac
    [[ -n $3 ]] && COMPREPLY=("${COMPREPLY[@]/#/$3}")
    return 0
}

_sigmaops() {
    local cur=${COMP_WORDS[COMP_CWORD]} cmdpath= i w opt= pre= REPLY
    COMPREPLY=()
    # Walk the words before the cursor as the dispatcher does: a subcommand's name selects it, an
    # option that takes a value skips that value ("--opt v", "--opt=v", "--opt = v" when '=' breaks
    # words), everything after "--" is an argument.
    for ((i = 1; i < COMP_CWORD; i++)); do
        w=${COMP_WORDS[i]}
        if [[ $w == -- ]]; then
            _sigmaops_positional "$cmdpath"
            _sigmaops_complete_value "${REPLY:-file}" "$cur" ""
            return 0
        elif [[ $w == -?* ]]; then
            [[ $w == *=* ]] && continue
            _sigmaops_value "$cmdpath" "$w"
            if [[ -n $REPLY ]]; then
                ((i++))
                [[ ${COMP_WORDS[i]} == = ]] && ((i++))
            fi
        else
            _sigmaops_commands "$cmdpath"
            [[ " $REPLY " == *" $w "* ]] && cmdpath=${cmdpath:+$cmdpath }$w
        fi
    done
    # The word being completed: an option's value, an option, a subcommand or an argument.
    local prev=${COMP_WORDS[COMP_CWORD-1]}
    if [[ $cur == = && $prev == -?* ]]; then
        opt=$prev cur=
    elif [[ $prev == = && $COMP_CWORD -ge 2 ]]; then
        opt=${COMP_WORDS[COMP_CWORD-2]}
    elif [[ $cur == --*=* ]]; then
        opt=${cur%%=*} pre=${cur%%=*}= cur=${cur#*=}
    elif [[ $prev == -?* && $prev != *=* && $COMP_CWORD -ge 2 ]]; then
        opt=$prev
    fi
    if [[ -n $opt ]]; then
        _sigmaops_value "$cmdpath" "$opt"
        if [[ -n $REPLY ]]; then
            _sigmaops_complete_value "$REPLY" "$cur" "$pre"
            return 0
        fi
    fi
    if [[ $cur == -* ]]; then
        _sigmaops_options "$cmdpath"
        mapfile -t COMPREPLY < <(compgen -W "$REPLY" -- "$cur")
        return 0
    fi
    _sigmaops_commands "$cmdpath"
    if [[ -n $REPLY ]]; then
        mapfile -t COMPREPLY < <(compgen -W "$REPLY" -- "$cur")
        return 0
    fi
    _sigmaops_positional "$cmdpath"
    _sigmaops_complete_value "$REPLY" "$cur" ""
    return 0
}
complete -F _sigmaops sigmaops
)BASH";
    return s;
}

// ---- zsh ----------------------------------------------------------------------------------

namespace {

// Text inside an _arguments description: brackets and backslashes escaped.
std::string zsh_desc(const std::string& s) {
    std::string out;
    for (char ch : one_line(s)) {
        if (ch == '[' || ch == ']' || ch == '\\') out += '\\';
        out += ch;
    }
    return out;
}

// An _arguments action for a value word.
std::string zsh_action(const std::string& w) {
    if (w == "file") return "_files";
    if (w == "dir") return "_files -/";
    if (w == "host") return "_sigmaops_hosts";
    if (w == "hosts") return "_sequence _sigmaops_hosts";
    if (w == "user") return "_users";
    if (w.rfind("choice ", 0) == 0) return "(" + w.substr(7) + ")";
    return " ";
}

// A zsh function name for a command path ("history list" -> _sigmaops_cmd_history_list).
std::string zsh_fn(const std::string& path) {
    std::string s = "_sigmaops_cmd";
    if (!path.empty()) s += '_';
    for (char ch : path) s += std::isalnum(static_cast<unsigned char>(ch)) ? ch : '_';
    return s;
}

} // namespace

std::string zsh_completion(const Command& root) {
    const Tables t = tables(root);
    std::string s;
    s += "#compdef sigmaops\n"
         "# zsh completion for sigmaops(1), generated by `sigmaops completion zsh` from the command\n"
         "# table (app/cli/command.h), the same one --help prints. Do not edit: change the table.\n"
         "# Installed as share/zsh/vendor-completions/_sigmaops; or: source <(sigmaops completion zsh)\n\n";
    s += "_sigmaops_hosts() {\n    local f\n    local -a hosts expl\n    hosts=(${(f)\"$(\n";
    s += k_hosts_pipeline;
    s += "    )\"})\n    _wanted hosts expl host compadd \"$@\" -a hosts\n}\n\n";

    // One function per command path: a group offers its subcommands, a leaf its options.
    for (const Entry& e : entries(root)) {
        const Command& c = *e.command;
        s += zsh_fn(e.path) + "() {\n    local -a specs\n    specs=(\n";
        for (const Flag& f : options_of(c)) {
            const std::string excl = f.alias.empty() ? "" : "'(" + f.alias + " " + f.name + ")'";
            const std::string w = value_word(f);
            std::vector<std::string> names{f.name};
            if (!f.alias.empty()) names.push_back(f.alias);
            for (const std::string& n : names) {
                std::string spec = n;
                if (!w.empty() && n.rfind("--", 0) == 0) spec += "=";
                spec += "[" + zsh_desc(f.help) + "]";
                if (!w.empty()) {
                    std::string msg = f.value;
                    for (char& ch : msg)
                        if (ch == ':') ch = ' ';
                    spec += ":" + msg + ":" + zsh_action(w);
                }
                s += "        " + excl + sh_quote(spec) + "\n";
            }
        }
        s += "    )\n";
        if (!c.subcommands.empty()) {
            s += "    local -a commands\n    commands=(\n";
            for (const Command& sub : c.subcommands) {
                std::string item = sub.name + ":" + one_line(sub.summary);
                s += "        " + sh_quote(item) + "\n";
            }
            s += "    )\n";
            s += "    if [[ ${words[CURRENT]} == -* ]]; then\n        _arguments -S $specs\n"
                 "    else\n        _describe -t commands " + sh_quote("sigmaops " + (e.path.empty() ? std::string("") : e.path + " ") + "command") +
                 " commands\n    fi\n";
        } else {
            const std::string p = positional_word(c);
            s += "    _arguments -S $specs " + sh_quote("*:argument:" + zsh_action(p)) + "\n";
        }
        s += "}\n\n";
    }

    s += "_sigmaops() {\n    local -A subcommands valued\n    subcommands=(\n";
    for (const auto& [path, subs] : t.subcommands) s += "        " + sh_quote(path.empty() ? "-" : path) + " " + sh_quote(subs) + "\n";
    s += "    )\n    valued=(\n";
    for (const auto& [key, w] : t.values) s += "        " + sh_quote(key) + " 1\n";
    s += "    )\n";
    s += R"ZSH(    # Walk the words before the cursor as the dispatcher does; `start` is the index of the word
    # that named the command being completed.
    # (Not "path": zsh ties that to $PATH.)
    local cmdpath= key w i=2 start=1
    while (( i < CURRENT )); do
        w=${words[i]}
        key="$cmdpath|$w"
        if [[ $w == -- ]]; then
            break
        elif [[ $w == -?* ]]; then
            [[ $w != *=* && -n ${valued[$key]} ]] && (( i++ ))
        elif (( ${${(s: :)subcommands[${cmdpath:--}]}[(Ie)$w]} )); then
            cmdpath=${cmdpath:+$cmdpath }$w
            start=$i
        fi
        (( i++ ))
    done
    words=("${(@)words[start,-1]}")
    (( CURRENT -= start - 1 ))
    local fn=_sigmaops_cmd${cmdpath:+_${cmdpath//[^[:alnum:]]/_}}
    $fn
}

# Autoloaded from $fpath: complete now; sourced (source <(sigmaops completion zsh)): register.
if [[ ${zsh_eval_context[-1]} == loadautofunc ]]; then
    _sigmaops "$@"
else
    compdef _sigmaops sigmaops
fi
)ZSH";
    return s;
}

// ---- fish ---------------------------------------------------------------------------------

std::string fish_completion(const Command& root) {
    const Tables t = tables(root);
    std::string s;
    s += "# fish completion for sigmaops(1), generated by `sigmaops completion fish` from the command\n"
         "# table (app/cli/command.h), the same one --help prints. Do not edit: change the table.\n"
         "# Installed as share/fish/vendor_completions.d/sigmaops.fish; or: sigmaops completion fish | source\n\n";
    s += "function __sigmaops_subcommands --description 'the subcommands of a sigmaops command path'\n    switch \"$argv\"\n";
    for (const auto& [path, subs] : t.subcommands) s += "        case " + fish_quote(path) + "\n            printf '%s\\n' " + subs + "\n";
    s += "    end\nend\n\n";
    s += "set -g __sigmaops_valued";
    for (const auto& [key, w] : t.values) s += " " + fish_quote(key);
    s += "\n\n";
    s += R"FISH(function __sigmaops_path --description 'the sigmaops command path of the command line'
    set -l cmdpath ''
    set -l skip 0
    set -l words (commandline -opc)
    set -e words[1]
    for w in $words
        if test $skip = 1
            set skip 0
            continue
        end
        switch $w
            case '--'
                break
            case '-*'
                if not string match -q -- '*=*' $w; and contains -- "$cmdpath|$w" $__sigmaops_valued
                    set skip 1
                end
            case '*'
                if contains -- $w (__sigmaops_subcommands $cmdpath)
                    set cmdpath (string trim -- "$cmdpath $w")
                end
        end
    end
    echo $cmdpath
end

function __sigmaops_at --description 'whether the command line is at sigmaops command path $argv'
    set -l p (__sigmaops_path)
    test "$p" = "$argv"
end

function __sigmaops_hosts --description 'host names: ~/.ssh/config, hosts.conf, known_hosts'
    sh -c '
)FISH";
    {
        // The same pipeline as bash and zsh, run by sh; fish quoting: ' and \ escaped.
        std::string p = k_hosts_pipeline;
        std::string q;
        for (char ch : p) {
            if (ch == '\'' || ch == '\\') q += '\\';
            q += ch;
        }
        s += q;
    }
    s += R"FISH('
end

function __sigmaops_host_list --description 'H1,H2: the hosts after what is typed so far'
    set -l head (string replace -r '[^,]*$' '' -- (commandline -ct))
    for h in (__sigmaops_hosts)
        echo $head$h
    end
end

complete -c sigmaops -f
)FISH";
    for (const Entry& e : entries(root)) {
        const Command& c = *e.command;
        const std::string cond = "-n " + fish_quote("__sigmaops_at " + e.path);
        for (const Command& sub : c.subcommands)
            s += "complete -c sigmaops " + cond + " -a " + fish_quote(sub.name) + " -d " + fish_quote(one_line(sub.summary)) + "\n";
        for (const Flag& f : options_of(c)) {
            std::string line = "complete -c sigmaops " + cond + " -l " + fish_quote(f.name.substr(2));
            if (f.alias.size() == 2) line += " -s " + fish_quote(f.alias.substr(1));
            else if (f.alias.size() > 2) line += " -o " + fish_quote(f.alias.substr(1));
            const std::string w = value_word(f);
            if (w == "file") line += " -r -F";
            else if (w == "dir") line += " -x -a '(__fish_complete_directories (commandline -ct))'";
            else if (w == "host") line += " -x -a '(__sigmaops_hosts)'";
            else if (w == "hosts") line += " -x -a '(__sigmaops_host_list)'";
            else if (w == "user") line += " -x -a '(__fish_complete_users)'";
            else if (w.rfind("choice ", 0) == 0) line += " -x -a " + fish_quote(w.substr(7));
            else if (!w.empty()) line += " -x";
            s += line + " -d " + fish_quote(one_line(f.help)) + "\n";
        }
        const std::string p = positional_word(c);
        if (p == "file") s += "complete -c sigmaops " + cond + " -F\n";
        else if (p == "dir") s += "complete -c sigmaops " + cond + " -a '(__fish_complete_directories (commandline -ct))'\n";
        else if (p == "host") s += "complete -c sigmaops " + cond + " -a '(__sigmaops_hosts)'\n";
    }
    return s;
}

// ---- the table entries --------------------------------------------------------------------

Command man_command() {
    Command c;
    c.name = "man";
    c.summary = "print the sigmaops(1) man page (roff), made from this table: sigmaops man | man -l -";
    c.run = [](const Invocation& inv) {
        inv.args.at_most(0);
        inv.io.out << man_page(sigmaops_command(), app_version());
        return k_exit_ok;
    };
    c.notes = "The build installs it as share/man/man1/sigmaops.1.\nexit status: 0 ok, 2 usage error";
    return c;
}

Command completion_command() {
    Command c;
    c.name = "completion";
    c.summary = "print a shell completion script: bash, zsh or fish";
    auto shell = [](const std::string& name, const std::string& summary, std::string (*make)(const Command&)) {
        Command s;
        s.name = name;
        s.summary = summary;
        s.run = [make](const Invocation& inv) {
            inv.args.at_most(0);
            inv.io.out << make(sigmaops_command());
            return k_exit_ok;
        };
        return s;
    };
    c.subcommands = {shell("bash", "bash: source <(sigmaops completion bash)", bash_completion),
                     shell("zsh", "zsh: source <(sigmaops completion zsh), after compinit", zsh_completion),
                     shell("fish", "fish: sigmaops completion fish | source", fish_completion)};
    c.notes = "The build installs them as share/bash-completion/completions/sigmaops,\n"
              "share/zsh/vendor-completions/_sigmaops and share/fish/vendor_completions.d/sigmaops.fish.\n"
              "They complete subcommands, options, files, hosts (~/.ssh/config, hosts.conf, known_hosts)\n"
              "and fixed choices, all from the table --help prints.\n"
              "exit status: 0 ok, 2 usage error";
    return c;
}

} // namespace sigmaops::cli
