// edit.cpp - changes to config documents as hunks over the original bytes (config.h:
// plan_changes, apply_hunks, unified_diff). A hunk replaces one span of one file; every byte
// outside the spans is copied as read, so comments, blank lines, order and includes survive, and
// applying no hunk gives the file back byte for byte.
#include "config_internal.h"

#include <algorithm>
#include <cctype>
#include <string>

namespace sigmaops::config {

namespace {

std::string base_name(const std::string& path) {
    const size_t slash = path.rfind('/');
    return slash == std::string::npos ? path : path.substr(slash + 1);
}

// The args `value` parses to when written after `key` in `format` (so quoting is read as the
// service reads it); nullopt when the line would not parse.
std::optional<std::vector<std::string>> value_args(Format format, const std::string& key, const std::string& value) {
    std::string line;
    switch (format) {
    case Format::Nginx: line = key + " " + value + ";\n"; break;
    case Format::Systemd: line = "[S]\n" + key + "=" + value + "\n"; break;
    case Format::Sysctl:
    case Format::Postgres: line = key + " = " + value + "\n"; break;
    default: line = key + " " + value + "\n"; break;
    }
    auto d = parse(format, "value", line);
    if (!d) return std::nullopt;
    for (const Item& it : d->items)
        if (it.kind == ItemKind::Setting || it.kind == ItemKind::Include) return it.args;
    return std::nullopt;
}

// A postgres value with a unit (guc.c's memory and time units: B kB MB GB TB, us ms s min h d) as
// bytes or microseconds, with its class (1 memory, 2 time); 0 when it has no unit.
std::pair<int, double> pg_quantity(const std::string& v) {
    size_t i = 0;
    while (i < v.size() && (std::isdigit(static_cast<unsigned char>(v[i])) || v[i] == '.')) ++i;
    if (i == 0 || i == v.size()) return {0, 0};
    double n = 0;
    try { n = std::stod(v.substr(0, i)); } catch (...) { return {0, 0}; }
    size_t u = i;
    while (u < v.size() && v[u] == ' ') ++u;
    const std::string unit = v.substr(u);
    static const std::pair<const char*, std::pair<int, double>> units[] = {
        {"B", {1, 1}}, {"kB", {1, 1024.0}}, {"MB", {1, 1024.0 * 1024}}, {"GB", {1, 1024.0 * 1024 * 1024}},
        {"TB", {1, 1024.0 * 1024 * 1024 * 1024}}, {"us", {2, 1}}, {"ms", {2, 1e3}}, {"s", {2, 1e6}},
        {"min", {2, 60e6}}, {"h", {2, 3600e6}}, {"d", {2, 86400e6}}};
    for (const auto& [name, k] : units)
        if (unit == name) return {k.first, n * k.second};
    return {0, 0};
}

bool same_value(Format format, const std::vector<std::string>& a, const std::vector<std::string>& b) {
    std::string x = joined(a), y = joined(b);
    if (format == Format::Postgres) {
        // "128MB" and "131072kB" are the same setting.
        const auto qx = pg_quantity(x), qy = pg_quantity(y);
        if (qx.first != 0 && qx.first == qy.first) return qx.second == qy.second;
    }
    if (format == Format::Sshd || format == Format::Redis || format == Format::Postgres) {
        x = lower_ascii(x);
        y = lower_ascii(y);
    }
    return x == y;
}

std::string new_line(Format format, const std::string& key, const std::string& value, const std::string& indent) {
    switch (format) {
    case Format::Nginx: return indent + key + " " + value + ";\n";
    case Format::Systemd: return key + "=" + value + "\n";
    case Format::Sysctl:
    case Format::Postgres: return key + " = " + value + "\n";
    default: return key + " " + value + "\n";
    }
}

// The byte offset of the start of the line holding `pos`, and of the line after it.
size_t line_start(const std::string& t, size_t pos) {
    const size_t nl = pos == 0 ? std::string::npos : t.rfind('\n', pos - 1);
    return nl == std::string::npos ? 0 : nl + 1;
}
size_t next_line(const std::string& t, size_t pos) {
    const size_t nl = t.find('\n', pos);
    return nl == std::string::npos ? t.size() : nl + 1;
}
int line_of(const std::string& t, size_t pos) {
    return 1 + static_cast<int>(std::count(t.begin(), t.begin() + static_cast<long>(std::min(pos, t.size())), '\n'));
}

struct Place {
    size_t file = 0;
    size_t at = 0;
    std::string indent;
};

// Where a new setting for `ctx` goes (see plan_changes' contract).
std::optional<Place> insertion_point(const ConfigSet& set, const std::string& ctx) {
    const Format f = set.format;
    if (set.files.empty()) return std::nullopt;
    if (f == Format::Sshd) {
        if (ctx.empty()) {
            const Document& d = set.files[0];
            for (const Item& it : d.items)
                if (it.kind == ItemKind::BlockOpen) return Place{0, it.begin, ""};
            return Place{0, d.text.size(), ""};
        }
        for (const auto& b : set.blocks)
            if (b.context == ctx) {
                const Item& m = set.at(b.open);
                return Place{b.open.file, m.end, "\t"};
            }
        return std::nullopt;
    }
    if (f == Format::Nginx) {
        if (ctx.empty()) {
            const Document& d = set.files[0];
            size_t at = 0;
            for (const Item& it : d.items) {
                if (it.kind == ItemKind::BlockOpen) break;
                if (it.kind == ItemKind::Setting || it.kind == ItemKind::Include) at = next_line(d.text, it.end);
            }
            return Place{0, at, ""};
        }
        for (const auto& b : set.blocks)
            if (b.context == ctx) {
                const Document& d = set.files[b.open.file];
                const Item& open = set.at(b.open);
                const size_t at = next_line(d.text, open.end);
                const size_t ls = line_start(d.text, open.begin);
                std::string indent;
                for (size_t i = ls; i < open.begin && (d.text[i] == ' ' || d.text[i] == '\t'); ++i) indent += d.text[i];
                // The first child's indentation when there is one, else the block's plus one tab/4 spaces.
                std::string child;
                bool found = false;
                for (size_t i = b.open.item + 1; i < d.items.size(); ++i) {
                    const Item& c = d.items[i];
                    if (c.parent != static_cast<int>(b.open.item)) continue;
                    if (c.kind == ItemKind::BlockClose) break;
                    const size_t cs = line_start(d.text, c.begin);
                    for (size_t k = cs; k < c.begin && (d.text[k] == ' ' || d.text[k] == '\t'); ++k) child += d.text[k];
                    found = cs >= at;
                    break;
                }
                if (!found) child = indent + (indent.find('\t') != std::string::npos || indent.empty() ? "\t" : "    ");
                return Place{b.open.file, at, child};
            }
        return std::nullopt;
    }
    if (f == Format::Systemd) {
        for (size_t fi = set.files.size(); fi-- > 0;) {
            const Document& d = set.files[fi];
            int sec = -1;
            size_t at = 0;
            for (size_t i = 0; i < d.items.size(); ++i) {
                const Item& it = d.items[i];
                if (it.kind == ItemKind::Section) {
                    if (sec >= 0 && d.items[static_cast<size_t>(sec)].key == ctx) break;
                    sec = static_cast<int>(i);
                    at = it.end;
                } else if (sec >= 0 && it.kind == ItemKind::Setting) {
                    at = it.end;
                }
            }
            if (sec >= 0 && d.items[static_cast<size_t>(sec)].key == ctx) return Place{fi, at, ""};
        }
        return std::nullopt;
    }
    if (f == Format::Sysctl) {
        for (size_t fi = set.files.size(); fi-- > 0;)
            if (set.files[fi].path.size() >= 12 && set.files[fi].path.substr(set.files[fi].path.size() - 12) == "/sysctl.conf")
                return Place{fi, set.files[fi].text.size(), ""};
        return Place{set.files.size() - 1, set.files.back().text.size(), ""};
    }
    return Place{0, set.files[0].text.size(), ""};  // postgres, redis: the end of the main file
}

} // namespace

Expected<Plan> plan_changes(const ConfigSet& set, const std::vector<Change>& changes) {
    Plan plan;
    for (const Change& ch : changes) {
        const std::string k = normalize_key(set.format, ch.key);
        auto make = [&](size_t file, size_t begin, size_t end, std::string repl) {
            Hunk h;
            h.file = file;
            h.begin = begin;
            h.end = end;
            h.replacement = std::move(repl);
            h.line = line_of(set.files[file].text, begin);
            h.change = ch;
            h.id = (ch.rule_id.empty() ? k : ch.rule_id) + "@" + base_name(set.files[file].path) + ":" + std::to_string(h.line);
            return h;
        };
        if (!ch.value) {
            // Comment out every setting of the key in the context, so the built-in default applies.
            for (size_t i = 0; i < set.order.size(); ++i) {
                const Item& it = set.at(set.order[i]);
                if (it.key_norm != k || set.contexts[i] != ch.context) continue;
                const Document& d = set.files[set.order[i].file];
                // '#' before each line of the setting (a continued systemd value or a multi-line nginx
                // directive is commented out as a whole).
                std::string repl;
                for (size_t p = it.begin; p < it.end; ++p) {
                    if (p == it.begin || d.text[p - 1] == '\n') repl += '#';
                    repl += d.text[p];
                }
                Hunk h = make(set.order[i].file, it.begin, it.end, repl);
                if (set.format == Format::Nginx) {
                    // A directive may share its line with others: comment it out only when alone on the line.
                    const size_t ls = line_start(d.text, it.begin);
                    bool alone = true;
                    for (size_t p = ls; p < it.begin; ++p) alone = alone && (d.text[p] == ' ' || d.text[p] == '\t');
                    for (size_t p = it.end; p < d.text.size() && d.text[p] != '\n' && d.text[p] != '#'; ++p)
                        alone = alone && (d.text[p] == ' ' || d.text[p] == '\t' || d.text[p] == '\r');
                    if (!alone) return unexpected(ErrorCode::InvalidArgument, d.path + ":" + std::to_string(it.line) + ": " + ch.key +
                                                                                  " shares its line with another directive; edit it by hand");
                }
                plan.hunks.push_back(std::move(h));
            }
            continue;
        }
        auto wanted = value_args(set.format, ch.key, *ch.value);
        if (!wanted) return unexpected(ErrorCode::InvalidArgument, ch.key + ": the value '" + *ch.value + "' does not parse as " +
                                                                       std::string(format_name(set.format)) + " writes it");
        auto eff = effective(set, ch.key, ch.context);
        if (eff && same_value(set.format, eff->args, *wanted)) continue;  // already in effect: never recommend what is set
        bool in_context = eff.has_value();
        if (eff && set.format == Format::Nginx) {
            for (size_t i = 0; i < set.order.size(); ++i)
                if (set.order[i].file == eff->where.file && set.order[i].item == eff->where.item) in_context = set.contexts[i] == ch.context;
        }
        if (in_context) {
            const Item& it = set.at(eff->where);
            const std::string& t = set.files[eff->where.file].text;
            std::string repl = *ch.value;
            // A value right after the key (no value yet: "gzip;"; postgres "name'value'"): keep a space after the key.
            if (it.value_begin > 0) {
                const char prev = t[it.value_begin - 1];
                const bool eq_separates = set.format != Format::Nginx && set.format != Format::Redis;
                if (prev != ' ' && prev != '\t' && !(prev == '=' && eq_separates)) repl.insert(0, " ");
            }
            Hunk h = make(eff->where.file, it.value_begin, it.value_end, repl);
            if (set.format == Format::Postgres && base_name(eff->file) == "postgresql.auto.conf")
                h.notes.push_back(eff->file + " (ALTER SYSTEM) sets " + ch.key + " and is read last: edited there, where it takes effect");
            if (!eff->shadowed.empty())
                h.notes.push_back(std::to_string(eff->shadowed.size()) + " other line(s) set " + ch.key + " too; this one takes effect (" + eff->rule + ")");
            plan.hunks.push_back(std::move(h));
            continue;
        }
        auto place = insertion_point(set, ch.context);
        if (!place) {
            if (set.format == Format::Systemd) {
                const size_t fi = set.files.size() - 1;
                const std::string& t = set.files[fi].text;
                std::string repl = (t.empty() || t.back() == '\n' ? "" : "\n") + std::string("[") + ch.context + "]\n" +
                                   new_line(set.format, ch.key, *ch.value, "");
                plan.hunks.push_back(make(fi, t.size(), t.size(), repl));
                continue;
            }
            return unexpected(ErrorCode::InvalidArgument, ch.key + ": no context '" + ch.context + "' in " + set.files[0].path);
        }
        const std::string& t = set.files[place->file].text;
        std::string repl = new_line(set.format, ch.key, *ch.value, place->indent);
        if (place->at == t.size() && !t.empty() && t.back() != '\n') repl.insert(0, "\n");
        Hunk h = make(place->file, place->at, place->at, repl);
        if (set.format == Format::Nginx && eff)
            h.notes.push_back("inherited " + joined(eff->args) + " from " + eff->file + ":" + std::to_string(eff->line) + "; set here for this context");
        plan.hunks.push_back(std::move(h));
    }
    std::stable_sort(plan.hunks.begin(), plan.hunks.end(), [](const Hunk& a, const Hunk& b) {
        return a.file != b.file ? a.file < b.file : a.begin < b.begin;
    });
    for (size_t i = 1; i < plan.hunks.size(); ++i) {
        const Hunk& a = plan.hunks[i - 1];
        const Hunk& b = plan.hunks[i];
        if (a.file == b.file && b.begin < a.end)
            return unexpected(ErrorCode::InvalidArgument, "changes " + a.id + " and " + b.id + " edit the same bytes; give one change per setting");
    }
    return plan;
}

Expected<std::vector<std::pair<size_t, std::string>>> apply_hunks(const ConfigSet& set, const std::vector<Hunk>& hunks) {
    std::vector<const Hunk*> sorted;
    for (const Hunk& h : hunks) sorted.push_back(&h);
    std::stable_sort(sorted.begin(), sorted.end(), [](const Hunk* a, const Hunk* b) {
        return a->file != b->file ? a->file < b->file : a->begin < b->begin;
    });
    std::vector<std::pair<size_t, std::string>> out;
    size_t i = 0;
    while (i < sorted.size()) {
        const size_t fi = sorted[i]->file;
        if (fi >= set.files.size()) return unexpected(ErrorCode::InvalidArgument, "hunk " + sorted[i]->id + ": no such file in the set");
        const std::string& t = set.files[fi].text;
        std::string r;
        size_t pos = 0;
        for (; i < sorted.size() && sorted[i]->file == fi; ++i) {
            const Hunk& h = *sorted[i];
            if (h.begin > h.end || h.end > t.size()) return unexpected(ErrorCode::InvalidArgument, "hunk " + h.id + ": span out of range");
            if (h.begin < pos) return unexpected(ErrorCode::InvalidArgument, "hunk " + h.id + " overlaps another hunk");
            r.append(t, pos, h.begin - pos);
            r += h.replacement;
            pos = h.end;
        }
        r.append(t, pos, std::string::npos);
        out.emplace_back(fi, std::move(r));
    }
    return out;
}

namespace {

std::vector<std::string_view> lines_of(std::string_view s) {
    std::vector<std::string_view> out;
    size_t p = 0;
    while (p < s.size()) {
        size_t nl = s.find('\n', p);
        size_t e = nl == std::string_view::npos ? s.size() : nl + 1;
        out.push_back(s.substr(p, e - p));
        p = e;
    }
    return out;
}

} // namespace

std::string unified_diff(const std::string& path, std::string_view before, std::string_view after, int context) {
    if (before == after) return "";
    const auto a = lines_of(before), b = lines_of(after);
    size_t pre = 0;
    while (pre < a.size() && pre < b.size() && a[pre] == b[pre]) ++pre;
    size_t suf = 0;
    while (suf < a.size() - pre && suf < b.size() - pre && a[a.size() - 1 - suf] == b[b.size() - 1 - suf]) ++suf;
    const size_t n = a.size() - pre - suf, m = b.size() - pre - suf;
    // LCS over the middle (config edits leave it small); ops: 0 same, 1 delete (a), 2 insert (b).
    std::vector<int> ops;
    for (size_t i = 0; i < pre; ++i) ops.push_back(0);
    if (n * m <= 4u * 1000u * 1000u) {
        std::vector<std::vector<unsigned>> L(n + 1, std::vector<unsigned>(m + 1, 0));
        for (size_t i = n; i-- > 0;)
            for (size_t j = m; j-- > 0;)
                L[i][j] = a[pre + i] == b[pre + j] ? L[i + 1][j + 1] + 1 : std::max(L[i + 1][j], L[i][j + 1]);
        size_t i = 0, j = 0;
        while (i < n || j < m) {
            if (i < n && j < m && a[pre + i] == b[pre + j]) { ops.push_back(0); ++i; ++j; }
            else if (i < n && (j == m || L[i + 1][j] >= L[i][j + 1])) { ops.push_back(1); ++i; }
            else { ops.push_back(2); ++j; }
        }
    } else {
        for (size_t i = 0; i < n; ++i) ops.push_back(1);
        for (size_t j = 0; j < m; ++j) ops.push_back(2);
    }
    for (size_t i = 0; i < suf; ++i) ops.push_back(0);

    std::string out = "--- a" + (path.empty() || path[0] != '/' ? "/" + path : path) + "\n+++ b" +
                      (path.empty() || path[0] != '/' ? "/" + path : path) + "\n";
    auto emit = [&](char mark, std::string_view line) {
        out += mark;
        out += line;
        if (line.empty() || line.back() != '\n') out += "\n\\ No newline at end of file\n";
    };
    // Walk ops; gather hunks of changes with `context` lines around, merging close ones.
    const size_t total = ops.size();
    std::vector<size_t> ai(total + 1), bi(total + 1);  // line index in a / b before op k
    for (size_t k = 0, x = 0, y = 0; k <= total; ++k) {
        ai[k] = x;
        bi[k] = y;
        if (k < total) { if (ops[k] != 2) ++x; if (ops[k] != 1) ++y; }
    }
    size_t k = 0;
    const size_t ctx = static_cast<size_t>(std::max(0, context));
    while (k < total) {
        if (ops[k] == 0) { ++k; continue; }
        size_t start = k >= ctx ? k - ctx : 0;
        size_t end = k;
        // extend while changes are within 2*ctx of each other
        size_t last_change = k;
        for (size_t q = k; q < total; ++q) {
            if (ops[q] != 0) last_change = q;
            else if (q - last_change > 2 * ctx) break;
        }
        end = std::min(total, last_change + 1 + ctx);
        size_t na = 0, nb = 0;
        for (size_t q = start; q < end; ++q) { if (ops[q] != 2) ++na; if (ops[q] != 1) ++nb; }
        out += "@@ -" + std::to_string(na ? ai[start] + 1 : ai[start]) + "," + std::to_string(na) + " +" +
               std::to_string(nb ? bi[start] + 1 : bi[start]) + "," + std::to_string(nb) + " @@\n";
        for (size_t q = start; q < end; ++q) {
            if (ops[q] == 0) emit(' ', a[ai[q]]);
            else if (ops[q] == 1) emit('-', a[ai[q]]);
            else emit('+', b[bi[q]]);
        }
        k = end;
    }
    return out;
}

} // namespace sigmaops::config
