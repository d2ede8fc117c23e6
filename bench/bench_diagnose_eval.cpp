// bench_diagnose_eval - the log agent's model measure (issue 21 item 4: "diagnosis answers that
// cite the right finding"), for one model:
//   held-out   tools/sftgen's held-out diagnosis set (.data/raw/agent_sft/eval_diagnose_heldout.jsonl,
//              generated, gitignored; units no training saw). Each record carries the generated log
//              sources and `now_ms`; the pipeline is re-run exactly as `sigmaops diagnose --explain`
//              runs it: logs::diagnose -> logs::explain (build_prompt with the model's own tokenizer
//              at the record's n_ctx, the offered ids, answer_grammar(report, offered), greedy,
//              repeat penalty 1.1, 200 answer tokens). So a model with another tokenizer gets the
//              prompt the agent would give it. The bench also checks that the re-run reproduces the
//              record (its chat-formatted messages and offered ids): with the tokenizer the set was
//              made with (nano's) both must match on every record.
//   samples    the 9 incident samples of resources/samples (as tests/logs/test_logs_answer.cpp):
//              diagnose + explain; right = the model's root cause is the finding of the expected category.
// Measures: root cause right (the answer's "Root cause: [Fn]" == root_finding), the same on
// records with two or more offered findings (where it can be wrong), answers citing an id the
// report does not have (check_citations' unknown), answers with a flag, Then ids equal to
// then_findings (in order; on all records and on those whose reference has Then lines).
// No-model baseline (the rule ranking): root cause = F1, no Then lines.
// Usage: bench_diagnose_eval [-m GGUF] [--eval FILE] [--limit N] [--json OUT] [--show N]
#include <llm/llm.h>
#include <logs/logs.h>

#include <nlohmann/json.hpp>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <fstream>
#include <string>
#include <vector>

using namespace sigmaops;
using nlohmann::json;

namespace {

struct Score {
    int n = 0, root = 0, n_multi = 0, root_multi = 0, unknown = 0, flagged = 0, failed = 0;
    int then_all = 0, n_then = 0, then_with = 0;
    int reproduced_prompt = 0, reproduced_offered = 0;
    double seconds = 0;
    json row(const std::string& name) const {
        auto pct = [](int a, int b) { return b ? 100.0 * a / b : 0.0; };
        return json{{"config", name}, {"records", n}, {"root_right_pct", pct(root, n)}, {"multi_offered", n_multi},
                    {"root_right_multi_pct", pct(root_multi, n_multi)}, {"unknown_id_answers", unknown},
                    {"flagged_answers", flagged}, {"then_match_pct", pct(then_all, n)}, {"with_then", n_then},
                    {"then_match_with_then_pct", pct(then_with, n_then)}, {"errors", failed}, {"seconds", seconds}};
    }
};

// The ids on the answer's "Then: [Fn]" lines, in order.
std::vector<std::string> then_ids(const std::string& text) {
    std::vector<std::string> ids;
    std::size_t at = 0;
    while ((at = text.find("Then: [", at)) != std::string::npos) {
        const std::size_t end = text.find(']', at + 7);
        if (end == std::string::npos) break;
        ids.push_back(text.substr(at + 7, end - at - 7));
        at = end;
    }
    return ids;
}

void print_row(const std::string& name, const Score& s) {
    auto pct = [](int a, int b) { return b ? 100.0 * a / b : 0.0; };
    std::printf("| %s | %d | %.1f%% | %.1f%% (%d) | %d | %d | %.1f%% | %.1f%% (%d) | %.0f |\n", name.c_str(), s.n, pct(s.root, s.n),
                pct(s.root_multi, s.n_multi), s.n_multi, s.unknown, s.flagged, pct(s.then_all, s.n), pct(s.then_with, s.n_then),
                s.n_then, s.seconds);
}

} // namespace

int main(int argc, char** argv) {
    std::string model_path, eval_path = std::string(SIGMAOPS_SOURCE_DIR) + "/.data/raw/agent_sft/eval_diagnose_heldout.jsonl";
    std::string json_out;
    int limit = 1 << 30, show = 0;
    for (int i = 1; i < argc; ++i) {
        const std::string a = argv[i];
        auto next = [&]() -> std::string {
            if (i + 1 >= argc) { std::fprintf(stderr, "bench_diagnose_eval: %s needs a value\n", a.c_str()); std::exit(2); }
            return argv[++i];
        };
        if (a == "-m") model_path = next();
        else if (a == "--eval") eval_path = next();
        else if (a == "--limit") limit = std::stoi(next());
        else if (a == "--json") json_out = next();
        else if (a == "--show") show = std::stoi(next());
        else {
            std::fprintf(stderr, "usage: bench_diagnose_eval [-m GGUF] [--eval FILE] [--limit N] [--json OUT] [--show N]\n");
            return 2;
        }
    }
    std::vector<json> records;
    {
        std::ifstream f(eval_path);
        if (!f) {
            std::fprintf(stderr, "bench_diagnose_eval: cannot read %s (make it with tools/sftgen: see tools/sftgen/README.md)\n", eval_path.c_str());
            return 1;
        }
        std::string line;
        while (int(records.size()) < limit && std::getline(f, line)) {
            if (line.empty()) continue;
            try {
                records.push_back(json::parse(line));
            } catch (const std::exception& e) {
                std::fprintf(stderr, "bench_diagnose_eval: %s: line %zu is not JSON: %s\n", eval_path.c_str(), records.size() + 1, e.what());
                return 1;
            }
        }
    }
    auto path = llm::find_model(model_path);
    if (!path) { std::fprintf(stderr, "bench_diagnose_eval: %s\n", path.error().message.c_str()); return 1; }
    auto loaded = llm::load_local(*path);
    if (!loaded) { std::fprintf(stderr, "bench_diagnose_eval: %s\n", loaded.error().message.c_str()); return 1; }
    const llm::Model& model = *loaded->model;
    std::printf("model %s (%s); %zu held-out records from %s\n", model.card().display_name().c_str(), path->c_str(), records.size(),
                eval_path.c_str());

    Score m, rule;
    const auto t0 = std::chrono::steady_clock::now();
    for (std::size_t k = 0; k < records.size(); ++k) {
        const json& r = records[k];
        const std::string want_root = r.at("root_finding");
        const std::vector<std::string> want_then = r.at("then_findings");
        const std::vector<std::string> rec_offered = r.at("offered");
        std::vector<logs::Source> sources;
        for (const json& s : r.at("sources")) {
            logs::Source src;
            src.name = s.at("name");
            src.reader = logs::LineReader::from_bytes(s.at("text").get<std::string>(), src.name);
            sources.push_back(std::move(src));
        }
        logs::DiagnoseOptions dopt;
        dopt.time.now_ms = r.at("now_ms");
        auto rep = logs::diagnose(std::move(sources), dopt);
        // The rule ranking (no model): F1 is its root cause, it names no consequences.
        ++rule.n;
        const bool multi = rec_offered.size() >= 2;
        rule.n_multi += multi;
        rule.n_then += !want_then.empty();
        if (rep && !rep->findings.empty()) {
            const bool right = rep->findings[0].id == want_root;
            rule.root += right;
            rule.root_multi += multi && right;
        } else {
            ++rule.failed;
        }
        rule.then_all += want_then.empty();
        ++m.n;
        m.n_multi += multi;
        m.n_then += !want_then.empty();
        if (!rep || rep->findings.empty()) {
            std::fprintf(stderr, "bench_diagnose_eval: %s: diagnose: %s\n", r.at("id").get<std::string>().c_str(),
                         rep ? "no findings" : rep.error().message.c_str());
            ++m.failed;
            continue;
        }
        logs::ExplainOptions eo;
        eo.prompt.n_ctx = r.at("n_ctx");
        if (auto e = logs::explain(*rep, model, eo); !e || !rep->model) {
            std::fprintf(stderr, "bench_diagnose_eval: %s: explain: %s\n", r.at("id").get<std::string>().c_str(),
                         e ? "no answer" : e.error().message.c_str());
            ++m.failed;
            continue;
        }
        const logs::ModelAnswer& a = *rep->model;
        // Does the re-run give the record's prompt and offered ids?
        std::vector<llm::Message> msgs;
        for (const json& x : r.at("messages")) msgs.push_back({x.at("role"), x.at("content")});
        auto want_prompt = model.format_chat(msgs, true);
        m.reproduced_prompt += want_prompt && *want_prompt == a.prompt;
        std::vector<std::string> offered;
        for (const auto& f : rep->findings)
            if (std::find(a.left_out.begin(), a.left_out.end(), "finding " + f.id) == a.left_out.end()) offered.push_back(f.id);
        m.reproduced_offered += offered == rec_offered;

        const bool right = a.root_cause == want_root;
        m.root += right;
        m.root_multi += multi && right;
        m.unknown += !a.unknown.empty();
        m.flagged += !a.flag.empty();
        const bool then_ok = then_ids(a.text) == want_then;
        m.then_all += then_ok;
        m.then_with += !want_then.empty() && then_ok;
        if (int(k) < show)
            std::fprintf(stderr, "--- %s (root %s, then %zu)\n%s\n", r.at("id").get<std::string>().c_str(), want_root.c_str(), want_then.size(),
                         a.text.c_str());
        if ((k + 1) % 25 == 0)
            std::fprintf(stderr, "bench_diagnose_eval: %zu/%zu, %.0f s\n", k + 1, records.size(),
                         std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count());
    }
    m.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();

    // The 9 incident samples: the real diagnose + explain on the shipped sample files.
    const std::pair<const char*, const char*> expected[] = {
        {"oom-java.log", "oom-killer"},
        {"disk-full-postgres.log", "disk-full"},
        {"segfault-php.log", "segfault-core-dump"},
        {"unit-failure-config.log", "systemd-unit-failure"},
        {"ssh-brute-force.log", "ssh-brute-force"},
        {"tls-expired.log", "tls-certificate"},
        {"hung-task-io.log", "kernel-hung-task-soft-lockup"},
        {"dns-failure.log", "network-connection-dns"},
        {"nginx-config.log", "webserver-config-error"},
    };
    int samples_right = 0, samples_rule = 0, samples_n = 0;
    json samples = json::array();
    for (const auto& [file, category] : expected) {
        std::vector<logs::Source> s;
        s.push_back(logs::open_source(std::string(SIGMAOPS_SOURCE_DIR) + "/resources/samples/" + file));
        auto rep = logs::diagnose(std::move(s));
        ++samples_n;
        if (!rep || rep->findings.empty()) { samples.push_back(json{{"file", file}, {"error", "no findings"}}); continue; }
        const auto want = std::find_if(rep->findings.begin(), rep->findings.end(), [&](const logs::Finding& f) { return f.category == category; });
        const std::string want_id = want != rep->findings.end() ? want->id : "";
        samples_rule += rep->findings[0].id == want_id;
        auto e = logs::explain(*rep, model);
        const std::string named = e && rep->model ? rep->model->root_cause : "";
        samples_right += !want_id.empty() && named == want_id;
        samples.push_back(json{{"file", file}, {"expected", want_id}, {"model_root", named}, {"answer", rep->model ? rep->model->text : ""}});
    }

    std::printf("\nheld-out diagnosis records (%s)\n", eval_path.c_str());
    std::printf("| configuration | records | root cause right | ... with >= 2 offered (n) | unknown-id answers | flagged | Then ids match | ... with Then in reference (n) | seconds |\n");
    std::printf("|---|---|---|---|---|---|---|---|---|\n");
    print_row("no model: rule ranking (F1, no Then)", rule);
    print_row(model.card().display_name() + " (diagnose + explain, greedy, grammar)", m);
    std::printf("re-run reproduces the record: prompt %d/%d, offered ids %d/%d\n", m.reproduced_prompt, m.n, m.reproduced_offered, m.n);
    std::printf("incident samples (resources/samples): the model names the expected finding %d/%d; the rule ranking %d/%d\n",
                samples_right, samples_n, samples_rule, samples_n);

    if (!json_out.empty()) {
        json j;
        j["model"] = model.card().display_name();
        j["model_path"] = *path;
        j["eval"] = eval_path;
        j["heldout"] = json::array({rule.row("no-model"), m.row("model")});
        j["reproduced_prompt"] = m.reproduced_prompt;
        j["reproduced_offered"] = m.reproduced_offered;
        j["samples"] = json{{"n", samples_n}, {"model_right", samples_right}, {"rule_right", samples_rule}, {"detail", samples}};
        std::ofstream o(json_out);
        o << j.dump(1) << "\n";
        if (!o) { std::fprintf(stderr, "bench_diagnose_eval: cannot write %s\n", json_out.c_str()); return 1; }
    }
    return m.failed ? 1 : 0;
}
