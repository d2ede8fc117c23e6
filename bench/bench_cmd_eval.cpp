// bench_cmd_eval - the command agent's acceptance measure (issue 17): on held-out request ->
// command pairs that no training saw (tests/fixtures/cmd_eval/heldout_cmd.jsonl, rebuilt by
// tools/data/heldout_cmd.py with the model's own split rule), how often the proposed command has
// the reference's program, and its option set, for:
//   tldr       no model: the best tldr example (retrieval only), the evaluated example left out
//   model      the model alone: the request as it was tuned on, greedy, free text
//   model+c    the model with constrained decoding (the answer grammar), no retrieval
//   model+cp   the model with retrieval and constrained decoding as `sigmaops cmd` runs it: the
//              answer grammar with the command's program restricted to the programs of the best
//              tldr examples (the evaluated one left out); the prompt is the bare request
//   model+cp3  as model+cp with 3 candidates (the first greedy, two sampled at 0.7) ranked by the
//              model's mean token log-probability and the checks (parses, flags known to tldr)
//   model+rc   tldr examples in the prompt (fenced as data) and the answer grammar
//   model+rcp  both: examples in the prompt and the program restricted
// Usage: bench_cmd_eval [-m MODEL] [--index FILE] [--pairs FILE] [--limit N] [--configs a,b,...]
//                       [--examples K] [--show N]
// The first N pairs of the file (sorted by a stable hash of their id) are evaluated.
#include <commands/commands.h>
#include <knowledge/knowledge.h>
#include <llm/llm.h>

#include <nlohmann/json.hpp>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <fstream>
#include <set>
#include <sstream>
#include <string>
#include <vector>

using namespace sigmaops;

namespace {

struct Pair {
    std::string id, page, request, command, tmpl;
};

// Words of a command line: whitespace-separated, quotes kept together (enough for comparing
// programs and options; both sides are read the same way).
std::vector<std::string> words_of(const std::string& s) {
    std::vector<std::string> w;
    std::string cur;
    char q = 0;
    bool in = false;
    for (char c : s) {
        if (q) { cur += c; if (c == q) q = 0; continue; }
        if (c == '\'' || c == '"') { q = c; cur += c; in = true; continue; }
        if (c == ' ' || c == '\t' || c == '\n') { if (in) w.push_back(cur); cur.clear(); in = false; continue; }
        cur += c;
        in = true;
    }
    if (in) w.push_back(cur);
    return w;
}

// The program: the first word that is not a wrapper or an assignment.
std::string program_of(const std::string& cmd) {
    static const std::set<std::string> wrappers = {"sudo", "env", "nice", "time", "nohup", "doas"};
    for (const std::string& w : words_of(cmd)) {
        if (wrappers.count(w) || (w.find('=') != std::string::npos && w[0] != '-')) continue;
        return w;
    }
    return "";
}

// The options: words starting with '-' ("--x=v" -> "--x"; a short bundle "-xzf" -> -x -z -f).
std::set<std::string> flags_of(const std::string& cmd) {
    std::set<std::string> f;
    for (const std::string& w : words_of(cmd)) {
        if (w.size() < 2 || w[0] != '-' || w == "--") continue;
        if (w[1] == '-') { f.insert(w.substr(0, w.find('='))); continue; }
        if (std::isdigit(static_cast<unsigned char>(w[1]))) continue;   // a negative number
        for (size_t k = 1; k < w.size() && std::isalpha(static_cast<unsigned char>(w[k])); ++k) f.insert(std::string("-") + w[k]);
    }
    return f;
}

std::string norm_ws(const std::string& s) {
    std::string out;
    for (const std::string& w : words_of(s)) out += (out.empty() ? "" : " ") + w;
    return out;
}

struct Score {
    int n = 0, program = 0, flags = 0, both = 0, exact = 0, parses = 0, none = 0;
    double seconds = 0;
};

} // namespace

int main(int argc, char** argv) {
    std::string model_path, index_path, pairs_path = std::string(SIGMAOPS_SOURCE_DIR) + "/tests/fixtures/cmd_eval/heldout_cmd.jsonl";
    std::string configs = "tldr,model,model+c,model+cp,model+rc";
    int limit = 300, show = 0;
    size_t n_examples = 2;   // as ProposeOptions::n_examples
    for (int i = 1; i < argc; ++i) {
        const std::string a = argv[i];
        auto next = [&]() -> std::string {
            if (i + 1 >= argc) { std::fprintf(stderr, "bench_cmd_eval: %s needs a value\n", a.c_str()); std::exit(2); }
            return argv[++i];
        };
        if (a == "-m") model_path = next();
        else if (a == "--index") index_path = next();
        else if (a == "--pairs") pairs_path = next();
        else if (a == "--limit") limit = std::stoi(next());
        else if (a == "--configs") configs = next();
        else if (a == "--examples") n_examples = size_t(std::stoul(next()));
        else if (a == "--show") show = std::stoi(next());
        else {
            std::fprintf(stderr, "usage: bench_cmd_eval [-m MODEL] [--index FILE] [--pairs FILE] [--limit N] "
                                 "[--configs tldr,model,model+rc,model+rcp] [--examples K] [--show N]\n");
            return 2;
        }
    }
    std::vector<Pair> pairs;
    {
        std::ifstream f(pairs_path);
        if (!f) { std::fprintf(stderr, "bench_cmd_eval: cannot read %s (make it with tools/data/heldout_cmd.py)\n", pairs_path.c_str()); return 1; }
        std::string line;
        while (std::getline(f, line) && int(pairs.size()) < limit) {
            auto j = nlohmann::json::parse(line);
            pairs.push_back({j["id"], j["page"], j["request"], j["command"], j["template"]});
        }
    }
    auto tldr = knowledge::Knowledge::open(index_path);
    if (!tldr) { std::fprintf(stderr, "bench_cmd_eval: %s\n", tldr.error().message.c_str()); return 1; }
    std::shared_ptr<llm::Model> model;
    if (configs.find("model") != std::string::npos) {
        auto path = llm::find_model(model_path);
        if (!path) { std::fprintf(stderr, "bench_cmd_eval: %s\n", path.error().message.c_str()); return 1; }
        auto m = llm::load_local(*path);
        if (!m) { std::fprintf(stderr, "bench_cmd_eval: %s\n", m.error().message.c_str()); return 1; }
        model = m->model;
        std::printf("model %s (%s)\n", model->card().display_name().c_str(), path->c_str());
    }
    std::printf("index %s (%zu pages, %zu examples); %zu held-out pairs from %s\n", tldr->path().c_str(), tldr->n_pages(),
                tldr->n_examples(), pairs.size(), pairs_path.c_str());

    // Leave-one-out: the index's example with the pair's tldr template.
    std::vector<std::vector<std::int64_t>> exclude(pairs.size());
    int n_found = 0;
    for (size_t k = 0; k < pairs.size(); ++k) {
        auto page = tldr->page(pairs[k].page);
        if (page && *page)
            for (const knowledge::Example& e : (*page)->examples)
                if (e.command == pairs[k].tmpl) exclude[k].push_back(e.id);
        n_found += !exclude[k].empty();
    }
    std::printf("leave-one-out: %d of %zu evaluated examples found in the index and left out of retrieval\n", n_found, pairs.size());

    std::vector<std::string> names;
    {
        std::stringstream ss(configs);
        std::string c;
        while (std::getline(ss, c, ',')) names.push_back(c);
    }
    std::vector<Score> scores(names.size());
    commands::Proposer with_model(model, tldr.has_value() ? &*tldr : nullptr, nullptr);
    // Flags checked against tldr only (no man pages: the same answer on every machine).
    knowledge::DocCache tldr_docs(knowledge::DocProvider{}, &*tldr);
    commands::Proposer ranked(model, &*tldr, &tldr_docs);
    commands::Proposer model_alone(model, nullptr, nullptr);
    commands::Proposer no_model(nullptr, &*tldr, nullptr);
    for (size_t c = 0; c < names.size(); ++c) {
        const std::string& name = names[c];
        Score& s = scores[c];
        const auto t0 = std::chrono::steady_clock::now();
        for (size_t k = 0; k < pairs.size(); ++k) {
            commands::ProposeOptions o;
            o.n = 1;
            o.exclude = exclude[k];
            commands::Proposer* p = nullptr;
            if (name == "tldr") p = &no_model;
            else if (name == "model") { p = &model_alone; o.constrained = false; o.n_examples = 0; }
            else if (name == "model+c") { p = &model_alone; o.n_examples = 0; }
            else if (name == "model+rc") { p = &with_model; o.n_examples = n_examples; o.programs_from_examples = false; o.examples_in_prompt = true; }
            else if (name == "model+rcp") { p = &with_model; o.n_examples = n_examples; o.examples_in_prompt = true; }
            else if (name == "model+cp") { p = &with_model; o.n_examples = n_examples; }
            else if (name == "model+cp3") { p = &ranked; o.n_examples = n_examples; o.n = 3; }
            else { std::fprintf(stderr, "bench_cmd_eval: unknown config '%s'\n", name.c_str()); return 2; }
            auto r = p->propose(pairs[k].request, o);
            if (!r) { std::fprintf(stderr, "bench_cmd_eval: %s: %s\n", pairs[k].id.c_str(), r.error().message.c_str()); return 1; }
            ++s.n;
            if (r->candidates.empty()) { ++s.none; continue; }
            const commands::Candidate& best = r->candidates.front();
            const std::string got = (best.proposal.sudo ? "sudo " : "") + best.proposal.text;
            const bool prog = !program_of(got).empty() && program_of(got) == program_of(pairs[k].command);
            const bool flags = flags_of(got) == flags_of(pairs[k].command);
            s.program += prog;
            s.flags += flags;
            s.both += prog && flags;
            s.exact += norm_ws(got) == norm_ws(pairs[k].command);
            s.parses += best.parses;
            if (int(k) < show)
                std::fprintf(stderr, "[%s] %s\n  want: %s\n  got:  %s%s\n", name.c_str(), pairs[k].request.c_str(),
                             pairs[k].command.c_str(), got.c_str(), prog && flags ? "   (program+flags)" : prog ? "   (program)" : "");
            if ((k + 1) % 50 == 0) std::fprintf(stderr, "%s: %zu/%zu\n", name.c_str(), k + 1, pairs.size());
        }
        s.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    }
    std::printf("\n| configuration | pairs | program matches | flags match | program and flags | exact | parses | no answer | seconds |\n");
    std::printf("|---|---|---|---|---|---|---|---|---|\n");
    for (size_t c = 0; c < names.size(); ++c) {
        const Score& s = scores[c];
        auto pct = [&](int v) { return s.n ? 100.0 * v / s.n : 0.0; };
        std::printf("| %s | %d | %.1f%% | %.1f%% | %.1f%% | %.1f%% | %.1f%% | %d | %.0f |\n", names[c].c_str(), s.n, pct(s.program),
                    pct(s.flags), pct(s.both), pct(s.exact), pct(s.parses), s.none, s.seconds);
    }
    return 0;
}
