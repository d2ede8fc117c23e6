// fuzz_config.cpp - libFuzzer target for the config document parsers (agents/config): sshd,
// nginx, postgres, sysctl, redis and systemd, picked by the first input byte (mod 6).
//
// Contract under test, on every input the parser accepts:
// - the document holds the input's bytes exactly; items lie inside it, in order, and line
//   formats cover every byte (so writing back with no edit is byte-identical);
// - an edit of the first setting (set to "1", then comment it out) changes only bytes inside its
//   hunk, the result parses again, and the setting's effective value is then "1";
// - the rules for the format (nginx_rules with its time and size parsers, sysctl_rules,
//   redis_rules) never crash and every change they make carries a rule id, a reason and a source;
// and on any input: parse either accepts or fails with a BadFile "f:LINE: why" message. Includes
// resolve to nothing (the FileSource knows only the one file). Build and run: docs/fuzzing.md.
#include <config/config.h>

#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>

using namespace sigmaops;
using namespace sigmaops::config;

namespace {

void check(bool ok) {
    if (!ok) std::abort();
}

} // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    if (size == 0) return 0;
    const Format format = static_cast<Format>(data[0] % 6);
    const std::string text(reinterpret_cast<const char*>(data + 1), size - 1);
    auto doc = parse(format, "f", text);
    if (!doc) {
        check(doc.error().code == ErrorCode::BadFile);
        check(doc.error().message.rfind("f:", 0) == 0);
        return 0;
    }
    check(doc->text == text);
    std::size_t pos = 0;
    for (const Item& it : doc->items) {
        check(it.begin <= it.end && it.end <= text.size());
        check(it.line >= 1 && it.last_line >= it.line);
        if (format != Format::Nginx) check(it.begin == pos);
        else check(it.begin >= pos);
        pos = it.end;
        if (it.kind == ItemKind::Setting) check(it.value_begin <= it.value_end && it.value_end <= it.end && it.value_begin >= it.begin);
    }
    if (format != Format::Nginx) check(pos == text.size());

    // The same bytes as a one-file set (includes find nothing), then edits of the first setting.
    FileSource fs;
    fs.read = [&](const std::string& p) -> Expected<std::string> {
        if (p == "/f") return text;
        return unexpected(ErrorCode::NotFound, p + ": no such file");
    };
    fs.glob = [](const std::string&) -> Expected<std::vector<std::string>> { return std::vector<std::string>{}; };
    auto set = load(format, "/f", fs);
    if (!set) return 0;  // an include of a missing file (postgres, nginx, redis): a clean failure
    check(set->order.size() == set->contexts.size());
    std::vector<Change> ruled;
    if (format == Format::Nginx) ruled = nginx_rules(*set, {4, 1024, 8u << 20});
    if (format == Format::Sysctl) ruled = sysctl_rules(*set, {SysctlWorkload::Web, 8u << 20, false, {}});
    if (format == Format::Redis) ruled = redis_rules(*set, {8u << 20, true});
    for (const Change& r : ruled) check(!r.rule_id.empty() && !r.reason.empty() && !r.source.empty());
    auto none = apply_hunks(*set, {});
    check(none && none->empty());
    if (set->order.empty()) return 0;
    const Item& first = set->at(set->order[0]);
    if (set->order[0].file != 0) return 0;
    Change c;
    c.key = first.key;
    c.context = set->contexts[0];
    c.value = "1";
    auto plan = plan_changes(*set, {c});
    if (plan && !plan->hunks.empty()) {
        auto out = apply_hunks(*set, plan->hunks);
        check(out.has_value() && out->size() == 1 && out->front().first == 0);
        const std::string& after = out->front().second;
        // Bytes before the first hunk and after the last are untouched.
        const Hunk& h0 = plan->hunks.front();
        const Hunk& hn = plan->hunks.back();
        check(after.compare(0, h0.begin, text, 0, h0.begin) == 0);
        const std::size_t tail = text.size() - hn.end;
        check(after.size() >= tail && after.compare(after.size() - tail, tail, text, hn.end, tail) == 0);
        auto re = parse(format, "f", after);
        check(re.has_value());
        FileSource fs2 = fs;
        fs2.read = [&](const std::string& p) -> Expected<std::string> {
            if (p == "/f") return after;
            return unexpected(ErrorCode::NotFound, p + ": no such file");
        };
        auto set2 = load(format, "/f", fs2);
        check(set2.has_value());
        auto e = effective(*set2, c.key, c.context);
        check(e.has_value() && e->args.size() == 1 && e->args[0] == "1");
    }
    c.value.reset();
    auto removal = plan_changes(*set, {c});
    if (removal && !removal->hunks.empty()) {
        auto out = apply_hunks(*set, removal->hunks);
        check(out.has_value());
        // Commenting out may expose a bad continuation (systemd) only if the parser is wrong: must parse.
        check(parse(format, "f", out->front().second).has_value());
    }
    return 0;
}
