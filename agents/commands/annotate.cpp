// annotate.cpp - the shell commands shown in a chat answer, found in its code fences, parsed and
// risk-rated (issue 17 item 9). See commands.h, "Commands shown in a chat answer".
#include <commands/commands.h>

#include <algorithm>
#include <cctype>

namespace sigmaops::commands {

namespace {

std::string_view trim(std::string_view s) {
    while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
    while (!s.empty() && (s.back() == ' ' || s.back() == '\t' || s.back() == '\r')) s.remove_suffix(1);
    return s;
}

struct Line {
    std::string_view text;
    std::size_t number;
};

std::vector<Line> lines_of(std::string_view s) {
    std::vector<Line> out;
    std::size_t pos = 0, n = 1;
    while (pos <= s.size()) {
        std::size_t nl = s.find('\n', pos);
        if (nl == std::string_view::npos) nl = s.size();
        std::string_view l = s.substr(pos, nl - pos);
        if (!l.empty() && l.back() == '\r') l.remove_suffix(1);
        out.push_back({l, n++});
        if (nl == s.size()) break;
        pos = nl + 1;
    }
    return out;
}

// A fence opener: "```lang" or "~~~lang" (up to 3 spaces of indent). Returns the fence string
// and sets `lang` (lower case, first word of the info string).
std::optional<std::string> fence_open(std::string_view l, std::string& lang) {
    std::size_t indent = 0;
    while (indent < l.size() && indent < 4 && l[indent] == ' ') ++indent;
    if (indent > 3) return std::nullopt;
    l.remove_prefix(indent);
    if (l.size() < 3 || (l[0] != '`' && l[0] != '~')) return std::nullopt;
    std::size_t k = 0;
    while (k < l.size() && l[k] == l[0]) ++k;
    if (k < 3) return std::nullopt;
    std::string_view info = trim(l.substr(k));
    if (l[0] == '`' && info.find('`') != std::string_view::npos) return std::nullopt;
    lang.clear();
    for (char c : info) {
        if (c == ' ' || c == '\t' || c == '{' || c == ',') break;
        lang += char(std::tolower(static_cast<unsigned char>(c)));
    }
    return std::string(l.substr(0, k));
}

bool fence_close(std::string_view l, const std::string& fence) {
    std::string_view t = trim(l);
    return t.size() >= fence.size() && t.find_first_not_of(fence[0]) == std::string_view::npos;
}

bool shell_language(const std::string& lang) {
    return lang.empty() || lang == "sh" || lang == "bash" || lang == "shell" || lang == "console" || lang == "zsh" ||
           lang == "shell-session" || lang == "shellsession" || lang == "terminal";
}

// The text so far is a command cut short: an open quote or substitution, `if` without `fi`, a
// trailing `|` or `&&` (the parser reports the end of input), a trailing backslash, or a
// here-document whose delimiter line has not come yet (then a line that could never parse on its
// own, `;;`, would still be read as part of its body).
bool incomplete(const std::string& text) {
    const shell::ParseResult r = shell::parse(text);
    if (!r.ok()) return r.error->message.rfind("unexpected end of input", 0) == 0;
    std::size_t backslashes = 0;
    for (std::size_t k = text.size(); k > 0 && text[k - 1] == '\\'; --k) ++backslashes;
    if (backslashes % 2 == 1) return true;
    return text.find("<<") != std::string::npos && shell::parse(text + "\n;;").ok();
}

bool prompt_line(std::string_view l, std::string_view& rest) {
    std::string_view t = l;
    while (!t.empty() && t.front() == ' ') t.remove_prefix(1);
    if (t.size() >= 2 && t[0] == '$' && t[1] == ' ') {
        rest = t.substr(2);
        return true;
    }
    if (t == "$") {
        rest = {};
        return true;
    }
    return false;
}

bool blank_or_comment(std::string_view l) {
    std::string_view t = trim(l);
    return t.empty() || t.front() == '#';
}

void emit(std::vector<ShownCommand>& out, std::string text, std::size_t line) {
    while (!text.empty() && (text.back() == '\n' || text.back() == ' ' || text.back() == '\t')) text.pop_back();
    if (trim(text).empty()) return;
    ShownCommand c;
    c.text = std::move(text);
    c.line = line;
    out.push_back(std::move(c));
}

void block_commands(const std::vector<Line>& body, std::vector<ShownCommand>& out) {
    std::string_view rest;
    const bool prompts = std::any_of(body.begin(), body.end(), [&](const Line& l) { return prompt_line(l.text, rest); });
    std::string cur;
    std::size_t start = 0;
    bool open = false;   // collecting a command
    for (const Line& l : body) {
        if (prompts) {
            if (open && incomplete(cur)) {
                cur += '\n';
                cur += l.text;
                continue;
            }
            if (open) emit(out, std::move(cur), start);
            open = false;
            cur.clear();
            if (prompt_line(l.text, rest)) {
                cur = std::string(rest);
                start = l.number;
                open = true;
            }
            continue;
        }
        if (!open) {
            if (blank_or_comment(l.text)) continue;
            cur = std::string(l.text);
            start = l.number;
            open = true;
        } else {
            cur += '\n';
            cur += l.text;
        }
        if (!incomplete(cur)) {
            emit(out, std::move(cur), start);
            cur.clear();
            open = false;
        }
    }
    if (open) emit(out, std::move(cur), start);
}

} // namespace

std::vector<ShownCommand> extract_commands(std::string_view answer) {
    std::vector<ShownCommand> out;
    const std::vector<Line> lines = lines_of(answer);
    for (std::size_t i = 0; i < lines.size(); ++i) {
        std::string lang;
        auto fence = fence_open(lines[i].text, lang);
        if (!fence) continue;
        std::vector<Line> body;
        std::size_t j = i + 1;
        while (j < lines.size() && !fence_close(lines[j].text, *fence)) body.push_back(lines[j++]);
        // An unclosed fence runs to the end of the answer (a cut-off answer still shows its command).
        if (shell_language(lang)) block_commands(body, out);
        i = j;
    }
    return out;
}

std::vector<ShownCommand> annotate_answer(std::string_view answer, const TargetContext* ctx) {
    std::vector<ShownCommand> out = extract_commands(answer);
    for (ShownCommand& c : out) {
        const shell::ParseResult r = shell::parse(c.text);
        if (r.ok()) {
            c.assessment = shell::classify(*r.script);
        } else {
            c.parse_error = r.error;
            c.assessment = shell::classify_source(c.text);
            c.assessment.risk = std::max(c.assessment.risk, shell::Risk::Unknown);
        }
        if (ctx) c.missing_programs = missing_programs(c.assessment, *ctx);
    }
    return out;
}

// asks_for_command: see commands.h, "A chat message that asks for a command".
namespace {

const std::vector<std::string_view>& command_verbs() {
    static const std::vector<std::string_view> v{
        "find", "list", "show", "display", "print", "view", "tail", "grep", "search", "delete", "remove",
        "kill", "restart", "reload", "stop", "start", "enable", "disable", "check", "count", "compress",
        "extract", "unzip", "untar", "archive", "backup", "copy", "move", "rename", "create", "mount",
        "unmount", "umount", "install", "uninstall", "upgrade", "update", "download", "upload", "chmod",
        "chown", "truncate", "empty", "clean", "clear", "free", "monitor", "watch", "follow", "sync",
        "add", "change", "set", "get", "open", "close", "block", "allow", "sort", "rotate", "edit",
        "format", "resize", "schedule", "reboot", "shutdown", "ping", "test", "measure", "see", "locate",
        "purge", "flush", "dump", "restore", "replace", "zip", "tar", "gzip", "trace"};
    return v;
}

bool is_command_verb(std::string_view w) {
    const auto& v = command_verbs();
    return std::find(v.begin(), v.end(), w) != v.end();
}

bool is_wh_word(std::string_view w) {
    for (std::string_view q : {"why", "what", "how", "when", "where", "who", "which", "out"})
        if (w == q) return true;
    return false;
}

bool strip_prefix(std::string_view& s, std::string_view prefix) {
    if (s.substr(0, prefix.size()) != prefix) return false;
    s.remove_prefix(prefix.size());
    return true;
}

std::string_view first_word(std::string_view s) {
    return s.substr(0, std::min(s.size(), s.find(' ')));
}

} // namespace

bool asks_for_command(std::string_view message) {
    if (message.size() > 300) return false;
    std::string m;
    for (char c : trim(message)) {
        const char l = char(std::tolower(static_cast<unsigned char>(c)));
        if (l == '\t' || l == '\n' || l == '\r') m += ' ';
        else if (!(l == ' ' && !m.empty() && m.back() == ' ')) m += l;
    }
    while (!m.empty() && (m.back() == '?' || m.back() == '.' || m.back() == '!' || m.back() == ' ')) m.pop_back();
    std::string_view s = m;
    if (s.empty() || s.front() == '/') return false;
    // An explicit request for a command, anywhere in the message.
    for (std::string_view p : {"command to ", "command for ", "command that ", "command which ", "give me a command",
                               "one-liner", "one liner", "shell command", "bash command"})
        if (s.find(p) != std::string_view::npos) return true;
    if (s.substr(0, 13) == "what command " || s.substr(0, 14) == "which command ") return true;
    // Politeness before the verb.
    for (std::string_view p : {"please ", "pls ", "can you ", "could you ", "would you ", "help me "})
        if (strip_prefix(s, p)) break;
    // "how do I VERB ...", "how to VERB ...": the word after the prefix must be a command verb.
    for (std::string_view p : {"how do i ", "how can i ", "how to ", "how would i ", "how should i ", "how do you ",
                               "how do we ", "how can we "}) {
        if (strip_prefix(s, p)) {
            const std::string_view v = first_word(s);
            return is_command_verb(v) && s.size() > v.size();
        }
    }
    // An imperative: a command verb first, something after it, and not "show me why/how ...".
    const std::string_view verb = first_word(s);
    if (!is_command_verb(verb) || s.size() <= verb.size() + 1) return false;
    std::string_view rest = s.substr(verb.size() + 1);
    strip_prefix(rest, "me ");
    return !is_wh_word(first_word(rest));
}

} // namespace sigmaops::commands
