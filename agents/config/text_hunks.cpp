// config/text_hunks.cpp - hunks over a file's text without a format model: a line diff (LCS over
// the lines between the common prefix and suffix) turned into byte-span hunks, applying any
// subset of them, rendering them for the user with each hunk's reason and source, and
// postgresql.conf setting edits as text. Bytes outside a hunk are never touched, so applying no
// hunk gives the file back byte for byte (line endings and a missing final newline included).
#include "config/config.h"

#include <algorithm>
#include <cctype>
#include <sstream>

namespace sigmaops::config {

namespace {

struct Line {
    std::size_t begin = 0, end = 0;   // bytes, the newline included
};

std::vector<Line> split_lines(std::string_view t) {
    std::vector<Line> out;
    std::size_t pos = 0;
    while (pos < t.size()) {
        std::size_t nl = t.find('\n', pos);
        std::size_t end = nl == std::string_view::npos ? t.size() : nl + 1;
        out.push_back({pos, end});
        pos = end;
    }
    return out;
}

std::string lower(std::string_view s) {
    std::string o(s);
    for (char& c : o) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    return o;
}

// The setting a line sets: its first word, lowercased, with a leading '#' (a commented-out
// setting) and a '=' or ';' after the key dropped. "" for blank lines.
std::string line_key(std::string_view line) {
    std::size_t i = 0;
    while (i < line.size() && (std::isspace(static_cast<unsigned char>(line[i])) || line[i] == '#')) ++i;
    std::size_t b = i;
    while (i < line.size() && !std::isspace(static_cast<unsigned char>(line[i])) && line[i] != '=' && line[i] != ';') ++i;
    return lower(line.substr(b, i - b));
}

// Runs of changed lines: [old_b, old_e) of `a` replaced by [new_b, new_e) of `b`.
struct Run {
    std::size_t old_b, old_e, new_b, new_e;
};

std::vector<Run> diff_runs(const std::vector<std::string_view>& a, const std::vector<std::string_view>& b) {
    std::size_t pre = 0;
    while (pre < a.size() && pre < b.size() && a[pre] == b[pre]) ++pre;
    std::size_t suf = 0;
    while (suf < a.size() - pre && suf < b.size() - pre && a[a.size() - 1 - suf] == b[b.size() - 1 - suf]) ++suf;
    const std::size_t n = a.size() - pre - suf, m = b.size() - pre - suf;
    std::vector<Run> runs;
    if (n == 0 && m == 0) return runs;
    if (n * m > 16'000'000) {  // too large to align line by line: one hunk for the middle
        runs.push_back({pre, pre + n, pre, pre + m});
        return runs;
    }
    // lcs[i][j]: LCS length of a[pre+i..] and b[pre+j..].
    std::vector<std::vector<std::uint32_t>> lcs(n + 1, std::vector<std::uint32_t>(m + 1, 0));
    for (std::size_t i = n; i-- > 0;)
        for (std::size_t j = m; j-- > 0;)
            lcs[i][j] = a[pre + i] == b[pre + j] ? lcs[i + 1][j + 1] + 1 : std::max(lcs[i + 1][j], lcs[i][j + 1]);
    std::size_t i = 0, j = 0;
    std::optional<Run> open;
    auto close = [&] {
        if (open) runs.push_back(*open);
        open.reset();
    };
    while (i < n || j < m) {
        if (i < n && j < m && a[pre + i] == b[pre + j]) {
            close();
            ++i, ++j;
        } else if (j < m && (i == n || lcs[i][j + 1] >= lcs[i + 1][j])) {
            if (!open) open = Run{pre + i, pre + i, pre + j, pre + j};
            open->old_e = pre + i;
            open->new_e = pre + ++j;
        } else {
            if (!open) open = Run{pre + i, pre + i, pre + j, pre + j};
            open->old_e = pre + ++i;
            open->new_e = pre + j;
        }
    }
    close();
    // A run that replaces n lines by n lines is n one-line hunks, so each setting can be approved
    // on its own.
    std::vector<Run> split;
    for (const Run& r : runs) {
        if (r.old_e - r.old_b == r.new_e - r.new_b && r.old_e - r.old_b > 1) {
            for (std::size_t k = 0; k < r.old_e - r.old_b; ++k) split.push_back({r.old_b + k, r.old_b + k + 1, r.new_b + k, r.new_b + k + 1});
        } else {
            split.push_back(r);
        }
    }
    return split;
}

std::vector<std::string_view> views(std::string_view t, const std::vector<Line>& lines) {
    std::vector<std::string_view> v;
    for (const Line& l : lines) v.push_back(t.substr(l.begin, l.end - l.begin));
    return v;
}

// A line for a unified diff: the prefix, the line without its newline, and the
// "\ No newline at end of file" marker when it had none.
void diff_line(std::ostringstream& o, char prefix, std::string_view line) {
    o << prefix;
    if (!line.empty() && line.back() == '\n') {
        o << line;
    } else {
        o << line << "\n\\ No newline at end of file\n";
    }
}

std::vector<std::size_t> chosen(const FileChange& c, const std::vector<bool>& selected) {
    std::vector<std::size_t> idx;
    for (std::size_t i = 0; i < c.hunks.size(); ++i)
        if (selected.empty() || (i < selected.size() && selected[i])) idx.push_back(i);
    std::sort(idx.begin(), idx.end(), [&](std::size_t x, std::size_t y) { return c.hunks[x].begin < c.hunks[y].begin; });
    return idx;
}

// Line number (0-based) of byte `pos` in `lines` (the line starting there, or the line count at the end).
std::size_t line_at(const std::vector<Line>& lines, std::size_t pos) {
    auto it = std::lower_bound(lines.begin(), lines.end(), pos, [](const Line& l, std::size_t p) { return l.begin < p; });
    return static_cast<std::size_t>(it - lines.begin());
}

// The whole lines a hunk touches, [first, last), and what they become. A hunk may cover part of
// a line (a value edited in place): the line is shown whole, before and after.
struct HunkLines {
    std::size_t first = 0, last = 0;
    std::string after;
};
HunkLines hunk_lines(std::string_view text, const std::vector<Line>& lines, const Hunk& h) {
    HunkLines r;
    // The line containing h.begin (begin == size: after the last line).
    auto containing = [&](std::size_t pos) {
        auto it = std::upper_bound(lines.begin(), lines.end(), pos, [](std::size_t p, const Line& l) { return p < l.begin; });
        return it == lines.begin() ? std::size_t{0} : static_cast<std::size_t>(it - lines.begin()) - 1;
    };
    const bool at_line_start = h.begin == text.size() || (line_at(lines, h.begin) < lines.size() && lines[line_at(lines, h.begin)].begin == h.begin);
    if (h.begin == h.end && at_line_start) {
        r.first = r.last = line_at(lines, h.begin);
        r.after = h.replacement;
        return r;
    }
    r.first = containing(h.begin);
    r.last = containing(h.end > h.begin ? h.end - 1 : h.begin) + 1;
    r.after = std::string(text.substr(lines[r.first].begin, h.begin - lines[r.first].begin)) + h.replacement +
              std::string(text.substr(h.end, lines[r.last - 1].end - h.end));
    return r;
}

// One "@@" group of the given hunks (indices into c.hunks, sorted, not sharing lines, close
// enough to share context).
void render_group(std::ostringstream& o, const FileChange& c, const std::vector<Line>& lines,
                  const std::vector<std::size_t>& group, long& delta, int context) {
    const std::string_view text = c.before;
    const HunkLines first_h = hunk_lines(text, lines, c.hunks[group.front()]);
    const HunkLines last_h = hunk_lines(text, lines, c.hunks[group.back()]);
    const std::size_t from = first_h.first >= static_cast<std::size_t>(context) ? first_h.first - context : 0;
    const std::size_t to = std::min(lines.size(), last_h.last + context);
    std::ostringstream body;
    std::size_t n_old = 0, n_new = 0, at = from;
    long group_delta = 0;
    for (std::size_t gi : group) {
        const HunkLines hl = hunk_lines(text, lines, c.hunks[gi]);
        for (; at < hl.first; ++at, ++n_old, ++n_new) diff_line(body, ' ', text.substr(lines[at].begin, lines[at].end - lines[at].begin));
        for (; at < hl.last; ++at, ++n_old) diff_line(body, '-', text.substr(lines[at].begin, lines[at].end - lines[at].begin));
        auto repl = split_lines(hl.after);
        for (const Line& l : repl) {
            diff_line(body, '+', std::string_view(hl.after).substr(l.begin, l.end - l.begin));
            ++n_new;
        }
        group_delta += static_cast<long>(repl.size()) - static_cast<long>(hl.last - hl.first);
    }
    for (; at < to; ++at, ++n_old, ++n_new) diff_line(body, ' ', text.substr(lines[at].begin, lines[at].end - lines[at].begin));
    const long new_from = static_cast<long>(from) + delta;
    auto range = [](long start0, std::size_t n) {
        // diff -u: a range of n lines starting at line start0+1; an empty range names the line before it.
        return std::to_string(n == 0 ? start0 : start0 + 1) + (n == 1 ? "" : "," + std::to_string(n));
    };
    o << "@@ -" << range(static_cast<long>(from), n_old) << " +" << range(new_from, n_new) << " @@\n" << body.str();
    delta += group_delta;
}

} // namespace

std::vector<Hunk> line_hunks(std::string_view before, std::string_view after, const std::vector<Change>& why) {
    const auto a_lines = split_lines(before), b_lines = split_lines(after);
    const auto a = views(before, a_lines), b = views(after, b_lines);
    std::vector<Hunk> out;
    for (const Run& r : diff_runs(a, b)) {
        Hunk h;
        h.file = 0;
        h.begin = r.old_b < a_lines.size() ? a_lines[r.old_b].begin : before.size();
        h.end = r.old_e == 0 ? h.begin : (r.old_e <= a_lines.size() ? a_lines[r.old_e - 1].end : before.size());
        if (r.old_e == r.old_b) h.end = h.begin;
        for (std::size_t j = r.new_b; j < r.new_e; ++j) h.replacement += b[j];
        h.line = static_cast<int>(r.old_b) + 1;
        // The reason: the first `why` entry whose key one of the changed lines sets.
        std::vector<std::string> keys;
        for (std::size_t i = r.old_b; i < r.old_e; ++i) keys.push_back(line_key(a[i]));
        for (std::size_t j = r.new_b; j < r.new_e; ++j) keys.push_back(line_key(b[j]));
        const Change* found = nullptr;
        for (const Change& c : why) {
            if (std::find(keys.begin(), keys.end(), lower(c.key)) != keys.end()) {
                found = &c;
                break;
            }
        }
        if (found) {
            h.change = *found;
        } else {
            h.change.reason = "edited text";
            h.change.rule_id = "text";
        }
        h.id = (h.change.rule_id.empty() ? std::string("text") : h.change.rule_id) + "@" + std::to_string(h.line);
        out.push_back(std::move(h));
    }
    return out;
}

Expected<std::string> apply_text_hunks(std::string_view before, const std::vector<Hunk>& hunks) {
    std::vector<const Hunk*> sorted;
    for (const Hunk& h : hunks) sorted.push_back(&h);
    std::sort(sorted.begin(), sorted.end(), [](const Hunk* x, const Hunk* y) { return x->begin < y->begin; });
    std::string out;
    std::size_t at = 0;
    for (const Hunk* h : sorted) {
        if (h->begin > h->end || h->end > before.size())
            return unexpected(ErrorCode::InvalidArgument, "hunk " + h->id + " covers bytes " + std::to_string(h->begin) + ".." +
                                                         std::to_string(h->end) + " of a " + std::to_string(before.size()) + "-byte file");
        if (h->begin < at) return unexpected(ErrorCode::InvalidArgument, "hunk " + h->id + " overlaps the hunk before it");
        out.append(before.substr(at, h->begin - at));
        out += h->replacement;
        at = h->end;
    }
    out.append(before.substr(at));
    return out;
}

std::string render_file_change(const FileChange& c, const std::vector<bool>& selected, int context) {
    const auto lines = split_lines(c.before);
    std::ostringstream o;
    o << "--- a" << (c.path.rfind('/', 0) == 0 ? "" : "/") << c.path << "\n+++ b" << (c.path.rfind('/', 0) == 0 ? "" : "/") << c.path << "\n";
    long delta = 0;
    const auto idx = chosen(c, selected);
    for (std::size_t k = 0; k < idx.size(); ++k) {
        const Hunk& h = c.hunks[idx[k]];
        o << "# hunk " << (idx[k] + 1) << "/" << c.hunks.size() << ": " << h.change.reason << "\n";
        if (!h.change.source.empty()) o << "#   source: " << h.change.source << "\n";
        if (!h.change.disagreement.empty()) o << "#   sources disagree: " << h.change.disagreement << "\n";
        for (const std::string& n : h.notes) o << "#   note: " << n << "\n";
        render_group(o, c, lines, {idx[k]}, delta, context);
    }
    return o.str();
}

std::string file_change_diff(const FileChange& c, const std::vector<bool>& selected) {
    constexpr int context = 3;
    const auto lines = split_lines(c.before);
    std::ostringstream o;
    const auto idx = chosen(c, selected);
    if (idx.empty()) return {};
    o << "--- a" << (c.path.rfind('/', 0) == 0 ? "" : "/") << c.path << "\n+++ b" << (c.path.rfind('/', 0) == 0 ? "" : "/") << c.path << "\n";
    long delta = 0;
    std::vector<std::size_t> group;
    std::size_t group_end_line = 0;
    for (std::size_t i : idx) {
        const HunkLines hl = hunk_lines(c.before, lines, c.hunks[i]);
        if (!group.empty() && (hl.first > group_end_line + 2 * context || hl.first < group_end_line)) {
            render_group(o, c, lines, group, delta, context);
            group.clear();
        }
        group.push_back(i);
        group_end_line = hl.last;
    }
    render_group(o, c, lines, group, delta, context);
    return o.str();
}

FileChange postgres_text_change(const std::string& path, const std::string& before, const std::vector<PgSetting>& settings) {
    // postgresql.conf: `name = value` or `name value`, '#' starts a comment; the last line wins.
    const auto lines = split_lines(before);
    std::vector<std::string> text;
    for (const Line& l : lines) text.emplace_back(before.substr(l.begin, l.end - l.begin));
    std::vector<std::string> appended;
    std::vector<Change> why;
    auto strip_value = [](std::string v) {
        while (!v.empty() && std::isspace(static_cast<unsigned char>(v.back()))) v.pop_back();
        if (v.size() >= 2 && v.front() == '\'' && v.back() == '\'') v = v.substr(1, v.size() - 2);
        return v;
    };
    for (const PgSetting& s : settings) {
        int last_active = -1, last_commented = -1;
        for (std::size_t i = 0; i < text.size(); ++i) {
            const std::string& t = text[i];
            std::size_t p = t.find_first_not_of(" \t");
            if (p == std::string::npos) continue;
            const bool commented = t[p] == '#';
            if (line_key(t) != lower(s.name)) continue;
            if (commented) last_commented = static_cast<int>(i);
            else last_active = static_cast<int>(i);
        }
        Change c;
        c.key = s.name;
        c.value = s.value;
        c.rule_id = "postgres." + s.name;
        c.source = s.source;
        if (last_active >= 0) {
            std::string& t = text[last_active];
            std::size_t k = t.find_first_not_of(" \t");
            std::size_t after_key = k + s.name.size();
            std::size_t vb = t.find_first_not_of(" \t=", after_key);
            // The value runs to a '#' outside quotes or the end of the line.
            std::size_t ve = vb;
            bool quoted = false;
            while (ve < t.size() && t[ve] != '\n' && (quoted || t[ve] != '#')) {
                if (t[ve] == '\'') quoted = !quoted;
                ++ve;
            }
            std::string current = vb == std::string::npos ? "" : strip_value(t.substr(vb, ve - vb));
            if (current == s.value) continue;  // already set: nothing to recommend
            std::string comment = ve < t.size() && t[ve] == '#' ? "\t" + t.substr(ve) : "\n";
            if (comment.back() != '\n' && t.back() == '\n') comment += "\n";
            c.reason = "set " + s.name + " to " + s.value + " (now " + current + ")";
            t = t.substr(0, k) + s.name + " = " + s.value + comment;
        } else if (last_commented >= 0) {
            c.reason = "set " + s.name + " to " + s.value + " (now the built-in default)";
            std::string& t = text[last_commented];
            if (!t.empty() && t.back() != '\n') t += "\n";
            t += s.name + " = " + s.value + "\n";
        } else {
            c.reason = "set " + s.name + " to " + s.value + " (now the built-in default)";
            appended.push_back(s.name + " = " + s.value + "\n");
        }
        why.push_back(std::move(c));
    }
    std::string after;
    for (const std::string& t : text) after += t;
    if (!appended.empty()) {
        if (!after.empty() && after.back() != '\n') after += "\n";
        after += "\n# Added by SigmaOps (PGTune's rules)\n";
        for (const std::string& a : appended) after += a;
    }
    FileChange fc;
    fc.path = path;
    fc.before = before;
    fc.hunks = line_hunks(before, after, why);
    return fc;
}

} // namespace sigmaops::config
