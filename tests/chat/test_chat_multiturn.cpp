// test_chat_multiturn.cpp - issue 21's multi-turn acceptance item: "a scripted 5-turn
// conversation test shows no echoing of earlier answers". A real ChatService (the same one the
// terminal and desktop chats use; no history file) on a real default-size model, greedy, five
// user turns of a sysadmin conversation with follow-ups; each answer is compared with every
// earlier one. An answer echoes an earlier one when, whitespace normalized, it is the same text,
// or more than 90% of its lines (code fences ignored) are lines of that earlier answer.
//
// Which models, and what is expected of each:
//   - $SIGMAOPS_MULTITURN_MODEL (a GGUF; tools/train/eval_agents.sh sets it): strict, no echo.
//   - resources/models/sigma-ops-small.gguf when present (issue 21's new default): strict.
//   - resources/models/sigma-ops-nano.gguf (the default today): nano was tuned on single turns
//     and is known to echo (issue 21). Its measured echo count is printed and held as a ceiling
//     (it must not get worse); build with -DSIGMAOPS_MULTITURN_STRICT=1 (CMake:
//     target_compile_definitions) to hold it to no echo as well, once the default model is one
//     that passes. The lead flips that when sigma-ops-small ships.
// A model file that is absent is skipped ("skipped: ..."). With $SIGMAOPS_MULTITURN_JSON set,
// the counts and answers are written there as JSON (one object per model).
#include <catch2/catch.hpp>

#include <chat/chat.h>
#include <llm/llm.h>

#include <nlohmann/json.hpp>

#include <algorithm>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <sstream>
#include <string>
#include <vector>

using namespace sigmaops;

#ifndef SIGMAOPS_MULTITURN_STRICT
#define SIGMAOPS_MULTITURN_STRICT 0
#endif

namespace {

// The follow-ups of a realistic session: each one only makes sense with the turns before it.
const char* const k_turns[] = {
    "show disk usage",
    "only for /var",
    "and sorted by size",
    "now the same on web2 over ssh",
    "what does -h do there",
};

std::string norm_line(std::string_view s) {
    std::string out;
    bool space = false;
    for (char c : s) {
        if (c == ' ' || c == '\t' || c == '\r' || c == '\n') { space = !out.empty(); continue; }
        if (space) out += ' ';
        space = false;
        out += c;
    }
    return out;
}

// The answer's non-empty lines, whitespace normalized, code fences (```sh, ```) left out.
std::vector<std::string> content_lines(const std::string& text) {
    std::vector<std::string> lines;
    std::stringstream ss(text);
    std::string l;
    while (std::getline(ss, l)) {
        l = norm_line(l);
        if (l.empty() || l.starts_with("```")) continue;
        lines.push_back(l);
    }
    return lines;
}

}  // namespace

// True when `answer` repeats `earlier` verbatim or nearly (see the file comment).
static bool echoes(const std::string& answer, const std::string& earlier) {
    if (norm_line(answer) == norm_line(earlier)) return true;
    const std::vector<std::string> a = content_lines(answer), b = content_lines(earlier);
    if (a.empty()) return false;
    std::size_t same = 0;
    for (const std::string& l : a) same += std::find(b.begin(), b.end(), l) != b.end();
    return same * 10 > a.size() * 9;
}

TEST_CASE("the echo check: verbatim and near-verbatim repeats, and real follow-ups", "[chat][multiturn]") {
    CHECK(echoes("Use `df -h`.\n", "Use   `df -h`."));
    CHECK(echoes("```sh\ndf -h\n```\nShows disk usage.", "```sh\ndf  -h\n```\nShows disk usage."));
    CHECK_FALSE(echoes("```sh\ndu -sh /var\n```\nSize of /var.", "```sh\ndf -h\n```\nShows disk usage."));
    // Nine of ten lines repeated is not more than 90%: not an echo; ten of ten is.
    std::string earlier, nine;
    for (int i = 0; i < 10; ++i) earlier += "line " + std::to_string(i) + "\n";
    for (int i = 0; i < 9; ++i) nine += "line " + std::to_string(i) + "\n";
    CHECK_FALSE(echoes(nine + "something new\n", earlier));
    CHECK(echoes(earlier + "\n\n", earlier));
}

namespace {

// The lines inside the answer's code blocks, whitespace normalized, joined by '\n' ("" if none).
std::string commands_of(const std::string& text) {
    std::stringstream ss(text);
    std::string l, out;
    bool in = false;
    while (std::getline(ss, l)) {
        l = norm_line(l);
        if (l.starts_with("```")) { in = !in; continue; }
        if (in && !l.empty()) out += l + "\n";
    }
    return out;
}

struct Run {
    std::vector<std::string> answers;
    int echoed = 0;                     // answers (turns 2-5) that echo an earlier answer
    // Not asserted, shown beside it: follow-ups whose code block is an earlier answer's (every
    // follow-up here asks for a different command, so a repeated one did not follow).
    int same_command = 0;
    std::vector<std::string> pairs;     // "turn 3 echoes turn 1"
};

Run converse(const std::string& path) {
    auto loaded = llm::load_local(path);
    REQUIRE(loaded);
    ChatOptions opt;
    opt.history_db = ":none";
    opt.sampling.temperature = 0;       // greedy: the same answers on every run
    opt.sampling.max_tokens = 160;
    auto svc = ChatService::create(loaded->model, opt);
    REQUIRE(svc);
    Run run;
    for (const char* turn : k_turns) {
        auto reply = (*svc)->send(turn, {});
        REQUIRE(reply);
        INFO("turn: " << turn);
        CHECK(reply->stop != llm::StopReason::ContextFull);
        const std::string text = reply->text;
        bool echo = false;
        for (std::size_t j = 0; j < run.answers.size(); ++j)
            if (echoes(text, run.answers[j])) {
                echo = true;
                run.pairs.push_back("turn " + std::to_string(run.answers.size() + 1) + " echoes turn " + std::to_string(j + 1));
            }
        run.echoed += echo;
        const std::string cmd = commands_of(text);
        bool same = false;
        for (const std::string& e : run.answers) same = same || (!cmd.empty() && commands_of(e) == cmd);
        run.same_command += same;
        run.answers.push_back(text);
    }
    return run;
}

void report(const std::string& name, const std::string& path, const Run& run) {
    std::cout << "=== " << name << " (" << path << "): " << run.echoed << " of 4 follow-up answers echo an earlier answer; "
              << run.same_command << " of 4 repeat an earlier answer's command\n";
    for (std::size_t i = 0; i < run.answers.size(); ++i)
        std::cout << "--- turn " << i + 1 << ": " << k_turns[i] << "\n" << run.answers[i] << "\n";
    for (const std::string& p : run.pairs) std::cout << p << "\n";
    if (const char* out = std::getenv("SIGMAOPS_MULTITURN_JSON"); out && *out) {
        nlohmann::json j{{"model", name}, {"path", path}, {"turns", k_turns}, {"answers", run.answers},
                         {"echoed", run.echoed}, {"same_command", run.same_command}, {"follow_ups", 4}, {"echo_pairs", run.pairs}};
        std::ofstream(out, std::ios::app) << j.dump() << "\n";
    }
}

}  // namespace

TEST_CASE("5-turn conversation: no answer echoes an earlier one (strict models)", "[chat][multiturn][model]") {
    std::vector<std::string> paths;
    if (const char* p = std::getenv("SIGMAOPS_MULTITURN_MODEL"); p && *p) paths.push_back(p);
    const std::string small = std::string(SIGMAOPS_SOURCE_DIR) + "/resources/models/sigma-ops-small.gguf";
    if (std::filesystem::exists(small)) paths.push_back(small);
    if (paths.empty()) {
        std::cout << "skipped: no strict model (set SIGMAOPS_MULTITURN_MODEL or add resources/models/sigma-ops-small.gguf)\n";
        return;
    }
    for (const std::string& path : paths) {
        if (!std::filesystem::exists(path)) {
            FAIL("SIGMAOPS_MULTITURN_MODEL names a file that does not exist: " << path);
        }
        const Run run = converse(path);
        report(std::filesystem::path(path).filename().string(), path, run);
        INFO(path);
        CHECK(run.echoed == 0);
    }
}

TEST_CASE("5-turn conversation with sigma-ops-nano: its echoes are counted", "[chat][multiturn][model]") {
    const std::string path = std::string(SIGMAOPS_SOURCE_DIR) + "/resources/models/sigma-ops-nano.gguf";
    if (!std::filesystem::exists(path)) {
        std::cout << "skipped: resources/models/sigma-ops-nano.gguf is absent\n";
        return;
    }
    const Run run = converse(path);
    report("sigma-ops-nano", path, run);
#if SIGMAOPS_MULTITURN_STRICT
    CHECK(run.echoed == 0);
#else
    // Known weakness (issue 21): nano echoes. Measured 2026-12-08 (greedy, this conversation,
    // 1,024-token context): turn 2 is turn 1 verbatim (1 of 4 follow-ups), and turns 2-3 repeat
    // turn 1's command `showmount -a` (2 of 4 repeat a command). A ceiling, not a pass: it must
    // not get worse; -DSIGMAOPS_MULTITURN_STRICT=1 holds nano to 0 (it fails today).
    constexpr int k_nano_echoes = 1;
    CHECK(run.echoed <= k_nano_echoes);
    if (run.echoed > 0) WARN("sigma-ops-nano echoed " << run.echoed << " of 4 follow-ups (known; see issue 21)");
#endif
}
