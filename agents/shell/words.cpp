// words.cpp - what a parsed word says without expanding it: its literal value after quote
// removal, whether it expands anything, and the program name of a command word.
#include <shell/shell.h>

namespace sigmaops::shell {

namespace {

bool append_literal(const std::vector<WordPart>& parts, std::string& out) {
    for (const WordPart& p : parts) {
        switch (p.kind) {
            case PartKind::Literal:
            case PartKind::SingleQuoted:
            case PartKind::AnsiC:
                out += p.text;
                break;
            case PartKind::DoubleQuoted:
                if (!append_literal(p.parts, out)) return false;
                break;
            case PartKind::ExtGlob:
                out += p.text;
                break;
            default:
                return false;
        }
    }
    return true;
}

bool expands(const std::vector<WordPart>& parts) {
    for (const WordPart& p : parts) {
        if (p.kind == PartKind::DoubleQuoted) {
            if (expands(p.parts)) return true;
        } else if (p.kind != PartKind::Literal && p.kind != PartKind::SingleQuoted && p.kind != PartKind::AnsiC &&
                   p.kind != PartKind::ExtGlob) {
            return true;
        }
    }
    return false;
}

} // namespace

std::optional<std::string> Word::literal() const {
    std::string out;
    if (!append_literal(parts, out)) return std::nullopt;
    return out;
}

bool Word::has_expansion() const { return expands(parts); }

bool Word::fully_quoted() const {
    if (parts.empty()) return false;
    for (const WordPart& p : parts)
        if (p.kind != PartKind::SingleQuoted && p.kind != PartKind::DoubleQuoted && p.kind != PartKind::AnsiC) return false;
    return true;
}

std::string program_name(const std::string& word) {
    size_t slash = word.find_last_of('/');
    if (slash == std::string::npos || slash + 1 == word.size()) return word;
    return word.substr(slash + 1);
}

} // namespace sigmaops::shell
