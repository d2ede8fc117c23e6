// sigmaops-sftgen - instruction data for the agents' own model tasks, made by the agents
// themselves (issue 21 item 1): every prompt is built by the agent's own prompt builder, so the
// text a model is trained on is the text it sees at run time, and every target answer is checked
// against the form the agent holds the model to (its answer grammar) before it is written.
//
//   sigmaops-sftgen --out DIR [--seed N] [--limit N] [--incidents N] [--model GGUF]
//                   [--pairs tldr_pairs.jsonl] [--index tldr.sqlite] [--tasks diagnose,cmd,explain]
//
// Tasks (one JSONL file each in DIR, records in the training pack's SFT format
// {"task","id","unit","messages":[{"role","content"}...], ...}):
//   diagnose  synthetic incidents (incidents.cpp) -> logs::diagnose -> logs::build_prompt with the
//             model's tokenizer (n_ctx 4096 and 1024) -> "Root cause: [F1] ... / Then: ... / Check next: ..."
//             built from the findings' own fields, checked with logs::answer_grammar + check_citations
//   cmd       tldr request (tools/sftgen/tldr_pairs.py) -> commands::Proposer::prompt with the tldr
//             examples knowledge::Knowledge::search retrieves (or none, the default model's setting)
//             -> "```sh\nCMD\n```\nEXPLANATION", checked with commands::answer_grammar + shell::parse;
//             destructive/irreversible commands (shell classifier) get the classifier's caution
//   explain   "what does `CMD` do?" in the chat's format (ChatOptions' system prompt) -> what it does
//             (tldr) + the shell classifier's risk level and reasons
// Plus eval_diagnose_heldout.jsonl: the held-out diagnose prompts with the report's root finding.
#include "incidents.h"

#include <chat/chat.h>
#include <commands/commands.h>
#include <knowledge/knowledge.h>
#include <llm/llm.h>
#include <logs/logs.h>
#include <shell/shell.h>

#include "grammar/grammar.h"

#include <nlohmann/json.hpp>
#include <openssl/evp.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <map>
#include <set>
#include <string>
#include <vector>

namespace logs = sigmaops::logs;
namespace llm = sigmaops::llm;
namespace shell = sigmaops::shell;
namespace kn = sigmaops::knowledge;
namespace cmds = sigmaops::commands;
using json = nlohmann::ordered_json;
using sftgen::Rng;

namespace {

// tools/data/common.py's split rule: held out iff int(sha256("sigmaops-split-v1:" + unit)[:12], 16) % 1000 < 30.
bool is_heldout(const std::string& unit) {
    const std::string s = "sigmaops-split-v1:" + unit;
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned int n = 0;
    EVP_Digest(s.data(), s.size(), md, &n, EVP_sha256(), nullptr);
    std::uint64_t v = 0;
    for (int i = 0; i < 6; ++i) v = (v << 8) | md[i];   // 12 hex digits = 6 bytes
    return v % 1000 < 30;
}

std::uint64_t fnv(std::string_view s, std::uint64_t h = 1469598103934665603ULL) {
    for (unsigned char c : s) h = (h ^ c) * 1099511628211ULL;
    return h;
}

// ---- grammar check: the agents' grammars over raw bytes --------------------------------------

bool grammar_accepts(const std::string& grammar, const std::string& text) {
    using namespace sigma::grammar;
    static std::shared_ptr<const TokenTable> table = [] {
        std::vector<TokenInfo> t;
        t.push_back({TokenInfo::Kind::End, "", false, ""});
        return std::make_shared<TokenTable>(std::move(t));
    }();
    try {
        Matcher m(Grammar::parse(grammar), table);
        return m.accept_bytes(text) && m.complete();
    } catch (const std::exception&) {
        return false;
    }
}

// ---- diagnose answers -----------------------------------------------------------------------

std::string lower(std::string s) {
    for (char& c : s) c = char(std::tolower(static_cast<unsigned char>(c)));
    return s;
}

std::string hm(std::int64_t ms) { return sftgen::hms(ms).substr(0, 5); }

std::string when_of(const logs::Finding& f, Rng& r) {
    if (!f.has_time) return "";
    if (f.count > 1 && f.last_ms - f.first_ms >= 1000) {
        switch (r.below(3)) {
        case 0: return "from " + sftgen::hms(f.first_ms) + " to " + sftgen::hms(f.last_ms);
        case 1:
            if (hm(f.first_ms) == hm(f.last_ms)) return "at " + hm(f.first_ms) + " UTC";
            return "between " + hm(f.first_ms) + " and " + hm(f.last_ms) + " UTC";
        default: return "starting " + sftgen::hms(f.first_ms);
        }
    }
    return r.chance(0.7) ? "at " + sftgen::hms(f.first_ms) : "at " + hm(f.first_ms) + " UTC";
}

// Fills {key} from `vars`; "" when a key has no value.
std::string fill(const std::string& tmpl, const std::map<std::string, std::string>& vars) {
    std::string out;
    for (std::size_t i = 0; i < tmpl.size(); ++i) {
        if (tmpl[i] == '{') {
            const std::size_t e = tmpl.find('}', i);
            const auto it = vars.find(tmpl.substr(i + 1, e - i - 1));
            if (it == vars.end() || it->second.empty()) return "";
            out += it->second;
            i = e;
        } else {
            out += tmpl[i];
        }
    }
    return out;
}

const std::map<std::string, std::vector<std::string>>& phrasings() {
    static const std::map<std::string, std::vector<std::string>> p = {
        {"oom-killer", {"the kernel OOM killer ended {proc} (pid {pid}) {when}",
                        "memory ran out and the kernel killed {proc} (pid {pid}) {when}",
                        "{proc} was killed by the out-of-memory killer {when}, {n} OOM records",
                        "out of memory {when}: the kernel killed {proc}",
                        "the kernel ran out of memory and killed {proc} {when}",
                        "the OOM killer fired {when} ({n} records)"}},
        {"disk-full", {"{proc} could not write: no space left on device {when}, {n} times",
                       "a filesystem filled up and writes by {proc} failed {when}",
                       "the disk is full: {n} failed writes {when}",
                       "writes failed with No space left on device {when}",
                       "no space left on device for {path} {when}"}},
        {"io-filesystem-error", {"disk {dev} returned I/O errors {when}, {n} error lines",
                                 "I/O errors on {dev} {when}, then a {what}",
                                 "the kernel reported I/O errors on {dev} {when}",
                                 "storage errors on {dev} {when}: the device may be failing",
                                 "disk I/O or filesystem errors {when}, {n} lines"}},
        {"kernel-hung-task-soft-lockup", {"task {proc} was blocked for more than {secs} seconds {when}",
                                          "the kernel saw hung tasks ({proc}) {when}, {n} reports",
                                          "NFS server {nfs} stopped answering and tasks hung {when}",
                                          "CPU {cpu} hit a soft lockup in {proc} {when}",
                                          "the kernel reported stalls or hung tasks {when}, {n} times"}},
        {"time-jump-ntp", {"the clock was wrong by {secs} seconds and was stepped {when}",
                           "the system clock jumped {when}",
                           "time synchronisation failed or the clock was stepped {when}, {n} times",
                           "the clock lost its time source or jumped {when}"}},
        {"segfault-core-dump", {"{proc} crashed with a segfault (pid {pid}) {when}",
                                "{proc} (pid {pid}) died on a signal and dumped core {when}",
                                "{proc} crashed {when}, {n} crash records",
                                "a program crashed {when}, {n} times"}},
        {"tls-certificate", {"TLS to {peer} failed: the certificate was not accepted {when}",
                             "certificate checks failed for {peer} {when}, {n} times",
                             "TLS handshakes failed {when}, {n} times",
                             "a certificate check failed {when}"}},
        {"network-connection-dns", {"connections to {peer} failed {when}, {n} times",
                                    "{peer} could not be reached {when}, {n} errors",
                                    "the name {name} did not resolve {when}, {n} times",
                                    "DNS lookups of {name} failed {when}",
                                    "network link {nic} went down {when}",
                                    "connections failed or names did not resolve {when}, {n} times"}},
        {"database-error", {"{db} reported errors {when}, {n} times",
                            "the {db} database failed requests {when}",
                            "database errors {when}, {n} of them"}},
        {"permission-denied", {"{proc} was denied access to {path} {when}",
                               "access to {path} was refused {when}, {n} times",
                               "permission denied on {path} {when}",
                               "file permissions or a security module refused access {when}"}},
        {"webserver-config-error", {"{server} rejected its configuration: unknown directive {directive} {when}",
                                    "{server} could not bind to port {port} {when}",
                                    "{server} config error in {file} {when}",
                                    "the web server refused its configuration or could not bind {when}"}},
        {"systemd-unit-failure", {"{unit} failed {when}",
                                  "systemd marked {unit} as failed {when}, {n} records",
                                  "{unit} stopped with an error {when}",
                                  "a systemd unit failed {when}, {n} records"}},
        {"ssh-brute-force", {"{n} failed SSH logins, mostly from {ip}, {when}",
                             "password guessing over SSH from {ip} {when}: {n} failures",
                             "SSH brute force: {n} failed logins {when}, then {accepted} logged in",
                             "repeated failed SSH logins {when}, {n} of them"}},
        {"error-rate-change", {"errors jumped to {n} in the minute from {hm} UTC",
                               "the error rate rose to {n} a minute at {hm} UTC"}},
        {"template-burst", {"one routine message repeated {n} times in the minute from {hm} UTC",
                            "a burst of {n} identical messages at {hm} UTC"}},
    };
    return p;
}

// "1 times" -> "once", "1 records" -> "1 record" (the count is the finding's).
std::string plurals(std::string s) {
    for (std::size_t at = 0; (at = s.find("1 ", at)) != std::string::npos; ++at) {
        if (at > 0 && std::isdigit(static_cast<unsigned char>(s[at - 1]))) continue;
        std::size_t e = at + 2;
        while (e < s.size() && std::isalpha(static_cast<unsigned char>(s[e]))) ++e;
        const std::string word = s.substr(at + 2, e - at - 2);
        if (word == "times") s.replace(at, e - at, "once");
        else if (word.size() > 2 && word.back() == 's' && word != "this") s.erase(e - 1, 1);
    }
    return s;
}

// One line about finding `f`: specific where the facts are in the prompt, never over 100 bytes, no '['.
std::string finding_line(const logs::Finding& f, const std::map<std::string, std::string>& facts, const std::string& prompt, Rng& r) {
    std::map<std::string, std::string> vars;
    const std::string low = lower(prompt);
    for (const auto& [k, v] : facts)
        if (!v.empty() && low.find(lower(v)) != std::string::npos) vars[k] = v;
    vars["when"] = when_of(f, r);
    vars["n"] = std::to_string(f.count);
    if (f.has_time) vars["hm"] = hm(f.first_ms);
    // Specific phrasings (naming a fact of the incident) are preferred; generic ones are fallbacks.
    std::vector<std::string> specific, generic;
    const auto it = phrasings().find(f.category);
    if (it != phrasings().end())
        for (const auto& t : it->second) {
            std::string s = plurals(fill(t, vars));
            if (s.empty() || s.size() > 100 || s.find('[') != std::string::npos || s.find('\n') != std::string::npos) continue;
            bool names_fact = false;
            for (const auto& [k, v] : facts) names_fact |= t.find("{" + k + "}") != std::string::npos;
            (names_fact ? specific : generic).push_back(s);
        }
    if (!specific.empty() && (generic.empty() || r.chance(0.85))) return r.pick(specific);
    if (!generic.empty()) return r.pick(generic);
    std::string s = lower(f.title.substr(0, 1)) + f.title.substr(1);
    if (!vars["when"].empty()) s += " " + vars["when"];
    for (char& c : s) if (c == '[' || c == '\n') c = ' ';
    if (s.size() > 100) { s.resize(100); s.erase(s.find_last_of(' ')); }
    return s;
}

struct Stats {
    std::map<std::string, long> n;
    void add(const std::string& k, long v = 1) { n[k] += v; }
};

struct Out {
    std::ofstream f;
    long n = 0;
    void write(const json& j) { f << j.dump(-1, ' ', false, json::error_handler_t::replace) << "\n"; ++n; }
};

json msg(const std::string& role, const std::string& content) { return json{{"role", role}, {"content", content}}; }

// ---- task: diagnose ------------------------------------------------------------------------

void task_diagnose(const llm::Model& model, long n_incidents, std::uint64_t seed, Out& out, Out& eval, Stats& st) {
    const auto& ids = sftgen::scenario_ids();
    const auto t_start = std::chrono::steady_clock::now();
    for (long i = 0; i < n_incidents; ++i) {
        // Scenarios round-robin (the burst one, info-only, is rarer).
        std::string scen = ids[std::size_t(i) % ids.size()];
        Rng r(fnv(std::to_string(i), seed * 0x9e3779b97f4a7c15ULL + 17));
        if (scen == "burst" && !r.chance(0.3)) scen = ids[r.below(ids.size() - 1)];
        sftgen::Incident inc = sftgen::make_incident(scen, r);
        const std::string unit = "agentsft/diagnose/" + inc.scenario + "/" + inc.family;
        std::vector<logs::Source> sources;
        for (const auto& s : inc.sources) {
            logs::Source src;
            src.name = s.name;
            src.reader = logs::LineReader::from_bytes(s.text, s.name);
            sources.push_back(std::move(src));
        }
        logs::DiagnoseOptions dopt;
        dopt.time.now_ms = inc.now_ms;
        auto rep = logs::diagnose(std::move(sources), dopt);
        if (!rep) { st.add("diagnose.error"); continue; }
        if (rep->findings.empty()) { st.add("diagnose.no_findings." + scen); continue; }
        const logs::Finding& top = rep->findings[0];
        if (top.category != inc.expected) {
            st.add("diagnose.ranked_other." + scen + "->" + top.category);
            continue;
        }
        st.add("diagnose.incidents");
        for (int n_ctx : {4096, 1024}) {
            logs::PromptOptions po;
            po.n_ctx = n_ctx;
            auto prompt = logs::build_prompt(*rep, model, po);
            if (!prompt) { st.add("diagnose.prompt_error"); continue; }
            const std::string& user = prompt->messages[1].second;
            std::vector<std::string> offered;
            for (const auto& f : rep->findings)
                if (std::find(prompt->left_out.begin(), prompt->left_out.end(), "finding " + f.id) == prompt->left_out.end()) offered.push_back(f.id);
            // Root cause: F1. Then: up to two findings the chain caused (in rank order), when offered;
            // never a distractor or a statistical signal (the same rule at both context sizes).
            std::string answer = "Root cause: [" + top.id + "] " + finding_line(top, inc.facts[top.category], user, r) + "\n";
            int n_then = 0;
            json then_ids = json::array();
            std::set<std::string> used_cat = {top.category};
            for (std::size_t k = 1; k < rep->findings.size() && n_then < 2; ++k) {
                const logs::Finding& f = rep->findings[k];
                if (std::find(offered.begin(), offered.end(), f.id) == offered.end()) continue;
                const bool caused = std::find(inc.consequences.begin(), inc.consequences.end(), f.category) != inc.consequences.end();
                if (!caused) continue;   // distractors and statistical signals are not consequences
                if (!used_cat.insert(f.category).second) continue;
                answer += "Then: [" + f.id + "] " + finding_line(f, inc.facts[f.category], user, r) + "\n";
                then_ids.push_back(f.id);
                ++n_then;
            }
            if (!top.next_commands.empty()) answer += "Check next: " + top.next_commands[0];
            // The checks explain() makes: the grammar it decodes under, and the citations.
            auto g = logs::answer_grammar(*rep, offered);
            std::vector<std::string> all_ids;
            for (const auto& f : rep->findings) all_ids.push_back(f.id);
            const auto cit = logs::check_citations(answer, all_ids);
            if (!g || !grammar_accepts(*g, answer) || !cit.flag.empty() || cit.cited.empty() || cit.cited[0] != top.id) {
                st.add("diagnose.answer_rejected");
                continue;
            }
            const std::string id = "agentsft/diagnose/" + std::to_string(i) + "/ctx" + std::to_string(n_ctx);
            json cats = json::array();
            for (const auto& f : rep->findings) cats.push_back(json{{"id", f.id}, {"category", f.category}});
            json j;
            j["task"] = "diagnose";
            j["id"] = id;
            j["unit"] = unit;
            j["messages"] = json::array({msg("system", prompt->messages[0].second), msg("user", user), msg("assistant", answer)});
            j["n_ctx"] = n_ctx;
            j["prompt_tokens"] = prompt->n_tokens;
            j["root_finding"] = top.id;
            j["root_category"] = top.category;
            j["findings"] = cats;
            j["offered"] = offered;
            out.write(j);
            st.add("diagnose.examples.ctx" + std::to_string(n_ctx));
            if (n_then) st.add("diagnose.with_then");
            if (is_heldout(unit)) {
                st.add("diagnose.heldout_examples");
                json e;
                e["id"] = id;
                e["unit"] = unit;
                e["scenario"] = inc.scenario;
                e["family"] = inc.family;
                e["expected_category"] = inc.expected;
                e["root_finding"] = top.id;
                e["root_category"] = top.category;
                e["findings"] = cats;
                e["offered"] = offered;
                // What the reference answer names after the root cause (the chain's consequences
                // the prompt shows): with root_finding, the informative part where several are offered.
                e["then_findings"] = then_ids;
                e["n_ctx"] = n_ctx;
                e["messages"] = json::array({msg("system", prompt->messages[0].second), msg("user", user)});
                e["reference_answer"] = answer;
                e["grammar"] = *g;
                e["now_ms"] = inc.now_ms;
                json src = json::array();
                for (const auto& s : inc.sources) src.push_back(json{{"name", s.name}, {"text", s.text}});
                e["sources"] = src;
                eval.write(e);
            }
        }
        if ((i + 1) % 500 == 0 || i + 1 == n_incidents) {
            const double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t_start).count();
            std::fprintf(stderr, "\rsftgen: diagnose %ld/%ld incidents, %ld examples, %.0f s", i + 1, n_incidents, out.n, s);
            std::fflush(stderr);
        }
    }
    std::fprintf(stderr, "\n");
}

// ---- tasks: cmd and explain ----------------------------------------------------------------

struct Pair {
    json j;
    std::string s(const char* k) const { return j.value(k, std::string()); }
};

std::string risk_sentence(const shell::Assessment& a) {
    std::vector<std::string> whys;
    for (const auto& rs : a.reasons)
        if (rs.risk == a.risk && std::find(whys.begin(), whys.end(), rs.why) == whys.end() && whys.size() < 2) whys.push_back(rs.why);
    std::string w;
    for (const auto& x : whys) w += (w.empty() ? "" : "; ") + x;
    switch (a.risk) {
    case shell::Risk::ReadOnly: return "Risk: read-only; it changes nothing.";
    case shell::Risk::ChangesFiles: return "Risk: changes files" + (w.empty() ? std::string(".") : " (" + w + ").");
    case shell::Risk::ChangesSystem: return "Risk: changes the system" + (w.empty() ? std::string(".") : " (" + w + ").");
    case shell::Risk::Unknown: {
        // Unknown programs are the common case: say what that means rather than quote the reason.
        std::vector<std::string> progs;
        for (const auto& rs : a.reasons)
            if (rs.risk == shell::Risk::Unknown && rs.why.rfind("unknown program", 0) == 0 && progs.size() < 2) progs.push_back(rs.word);
        if (!progs.empty() && progs.size() == whys.size())
            return "Risk: not rated: the classifier does not know `" + progs[0] + "`, so SigmaOps treats it as changing the system and asks before running it.";
        return "Risk: unknown" + (w.empty() ? std::string("") : " (" + w + ")") + "; check it before running it.";
    }
    case shell::Risk::Destructive: return "Risk: destructive" + (w.empty() ? std::string("") : " (" + w + ")") + "; double-check the arguments.";
    case shell::Risk::Irreversible: return "Risk: irreversible" + (w.empty() ? std::string("") : " (" + w + ")") + "; it cannot be undone.";
    }
    return "";
}

std::string lower_first(std::string s) {
    if (s.size() > 1 && std::isupper(static_cast<unsigned char>(s[0])) && std::islower(static_cast<unsigned char>(s[1]))) s[0] = char(std::tolower(static_cast<unsigned char>(s[0])));
    return s;
}

void task_cmd_explain(const std::string& pairs_path, const kn::Knowledge* index, long limit, std::uint64_t seed, bool do_cmd,
                      bool do_explain, Out& out_cmd, Out& out_exp, Stats& st) {
    std::ifstream in(pairs_path);
    if (!in) { std::fprintf(stderr, "sftgen: cannot read %s (make it with tools/sftgen/tldr_pairs.py); cmd/explain skipped\n", pairs_path.c_str()); return; }
    const std::string chat_system = sigmaops::ChatOptions{}.system_prompt;
    const std::string& cmd_grammar = cmds::answer_grammar();
    static const std::vector<std::string> k_explain_q = {
        "What does `{c}` do?", "Explain this command: {c}", "Is this safe to run?\n```sh\n{c}\n```", "What will `{c}` change on my system?",
        "explain {c}", "Before I run it: what does `{c}` do?", "Can you tell me what this does and whether it is risky: `{c}`",
        "{c}\n\nWhat does that do, and is it dangerous?", "I found `{c}` in a script. What does it do?", "Is `{c}` safe?"};
    std::string line;
    long n = 0;
    const auto t_start = std::chrono::steady_clock::now();
    while (std::getline(in, line)) {
        if (limit > 0 && n >= limit) break;
        ++n;
        Pair p{json::parse(line, nullptr, false)};
        if (p.j.is_discarded()) { st.add("pairs.bad_json"); continue; }
        const std::string pid = p.s("id");
        Rng r(fnv(pid, seed * 31 + 7));
        // Each pair feeds one task: cmd for ~half, explain for the other half (hash of the id).
        const bool to_cmd = (fnv(pid, 99) & 1) == 0;
        if (to_cmd && do_cmd) {
            const std::string request = p.s("request"), command = p.s("command");
            auto parsed = shell::parse(command);
            if (!parsed.ok() || command.find('\n') != std::string::npos) { st.add("cmd.unparsable"); continue; }
            const auto a = shell::classify(*parsed.script);
            std::string explanation = p.s("explanation");
            if (a.risk == shell::Risk::Destructive || a.risk == shell::Risk::Irreversible) {
                std::string why = a.reasons.empty() ? std::string() : a.reasons.front().why;
                explanation += " Careful: " + std::string(shell::risk_name(a.risk)) + (why.empty() ? "" : " (" + why + ")") + "; check the target before confirming.";
                st.add("cmd.cautions");
            }
            std::vector<kn::Example> examples;
            // The default model's setting is a bare request; a larger one may be shown the retrieved
            // examples (ProposeOptions::examples_in_prompt): both forms, as Proposer::prompt writes them.
            const bool with_examples = index && r.chance(0.6);
            if (with_examples) {
                kn::SearchOptions so;
                so.n = 2;
                auto found = index->search(request, so);
                if (found) examples = *found;
                st.add(examples.empty() ? "cmd.retrieval_empty" : "cmd.with_examples");
            }
            const auto msgs = cmds::Proposer::prompt(request, examples);
            const std::string answer = "```sh\n" + command + "\n```\n" + explanation;
            if (!grammar_accepts(cmd_grammar, answer) || cmds::Proposer::command_of(answer) != command) { st.add("cmd.answer_rejected"); continue; }
            json m = json::array();
            for (const auto& x : msgs) m.push_back(msg(x.role, x.content));
            m.push_back(msg("assistant", answer));
            json j;
            j["task"] = "cmd";
            j["id"] = "agentsft/cmd/" + pid;
            j["unit"] = p.s("unit");
            j["messages"] = m;
            j["request"] = request;
            j["command"] = command;
            j["template"] = p.s("template");
            j["desc"] = p.s("desc");
            j["risk"] = std::string(shell::risk_name(a.risk));
            j["retrieved"] = int(examples.size());
            out_cmd.write(j);
        } else if (!to_cmd && do_explain) {
            const std::string command = p.s("explain_command");
            auto parsed = shell::parse(command);
            if (!parsed.ok() || command.find('\n') != std::string::npos) { st.add("explain.unparsable"); continue; }
            const auto a = shell::classify(*parsed.script);
            // Most tldr programs are unknown to the classifier; keep a third of those so the
            // rated answers (read-only .. irreversible, with reasons) are not drowned out.
            if (a.risk == shell::Risk::Unknown && !r.chance(0.35)) { st.add("explain.unknown_skipped"); continue; }
            std::string q = r.pick(k_explain_q);
            for (std::size_t at; (at = q.find("{c}")) != std::string::npos;) q.replace(at, 3, command);
            if (cmds::asks_for_command(q)) { st.add("explain.routes_to_cmd"); continue; }   // the chat would send it to the command agent
            std::string what = p.s("explain_desc");
            std::string pd = p.s("page_desc");
            pd.erase(std::remove(pd.begin(), pd.end(), '`'), pd.end());
            const std::string tool = p.s("tool");
            std::string ans;
            switch (r.below(3)) {
            case 0: ans = "`" + command + "` " + lower_first(what); break;
            case 1: ans = what; break;
            default: ans = "This runs `" + tool + "`" + (pd.empty() ? "" : " (" + lower_first(pd.substr(0, pd.find_last_not_of(".") + 1)) + ")") + ". " + what; break;
            }
            ans += "\n" + risk_sentence(a);
            json j;
            j["task"] = "explain";
            j["id"] = "agentsft/explain/" + pid;
            j["unit"] = p.s("unit");
            j["messages"] = json::array({msg("system", chat_system), msg("user", q), msg("assistant", ans)});
            j["cmd_raw"] = command;
            j["risk"] = std::string(shell::risk_name(a.risk));
            out_exp.write(j);
            st.add("explain.risk." + std::string(shell::risk_name(a.risk)));
        }
        if (n % 5000 == 0) {
            const double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t_start).count();
            std::fprintf(stderr, "\rsftgen: tldr pairs %ld, cmd %ld, explain %ld, %.0f s", n, out_cmd.n, out_exp.n, s);
            std::fflush(stderr);
        }
    }
    std::fprintf(stderr, "\rsftgen: tldr pairs %ld, cmd %ld, explain %ld\n", n, out_cmd.n, out_exp.n);
}

int usage() {
    std::fprintf(stderr,
                 "usage: sigmaops-sftgen --out DIR [--seed N] [--limit N] [--incidents N] [--model GGUF]\n"
                 "                       [--pairs FILE] [--index FILE] [--tasks diagnose,cmd,explain]\n");
    return 2;
}

} // namespace

int main(int argc, char** argv) {
    std::string out_dir, model_path, pairs, index_path, tasks = "diagnose,cmd,explain";
    std::uint64_t seed = 20261207;
    long limit = 0, incidents = 9000;
    for (int i = 1; i < argc; ++i) {
        const std::string a = argv[i];
        auto val = [&]() -> std::string {
            if (i + 1 >= argc) { std::fprintf(stderr, "sigmaops-sftgen: %s needs a value\n", a.c_str()); std::exit(2); }
            return argv[++i];
        };
        if (a == "--out") out_dir = val();
        else if (a == "--seed") seed = std::strtoull(val().c_str(), nullptr, 10);
        else if (a == "--limit") limit = std::atol(val().c_str());
        else if (a == "--incidents") incidents = std::atol(val().c_str());
        else if (a == "--model") model_path = val();
        else if (a == "--pairs") pairs = val();
        else if (a == "--index") index_path = val();
        else if (a == "--tasks") tasks = val();
        else if (a == "-h" || a == "--help") return usage();
        else { std::fprintf(stderr, "sigmaops-sftgen: unknown argument %s\n", a.c_str()); return usage(); }
    }
    if (out_dir.empty()) return usage();
    const bool do_diag = tasks.find("diagnose") != std::string::npos, do_cmd = tasks.find("cmd") != std::string::npos,
               do_exp = tasks.find("explain") != std::string::npos;
    std::filesystem::create_directories(out_dir);
    if (pairs.empty()) pairs = out_dir + "/tldr_pairs.jsonl";
    Stats st;
    Out diag, eval, cmd, exp;
    diag.f.open(out_dir + "/sft_agent_diagnose.jsonl");
    eval.f.open(out_dir + "/eval_diagnose_heldout.jsonl");
    cmd.f.open(out_dir + "/sft_agent_cmd.jsonl");
    exp.f.open(out_dir + "/sft_agent_explain.jsonl");
    if (!diag.f || !eval.f || !cmd.f || !exp.f) { std::fprintf(stderr, "sigmaops-sftgen: cannot write into %s\n", out_dir.c_str()); return 1; }
    if (do_diag) {
        auto path = llm::find_model(model_path);
        if (!path) { std::fprintf(stderr, "sigmaops-sftgen: %s\n", path.error().message.c_str()); return 1; }
        llm::LoadOptions lo;
        lo.n_threads = 1;
        auto loaded = llm::load_local(*path, lo);
        if (!loaded) { std::fprintf(stderr, "sigmaops-sftgen: %s\n", loaded.error().message.c_str()); return 1; }
        std::fprintf(stderr, "sftgen: tokenizer of %s\n", path->c_str());
        task_diagnose(*loaded->model, limit > 0 ? std::min(limit, incidents) : incidents, seed, diag, eval, st);
    }
    if (do_cmd || do_exp) {
        std::optional<kn::Knowledge> index;
        if (auto p = kn::find_index(index_path); p) {
            auto k = kn::Knowledge::open(*p);
            if (k) index.emplace(std::move(*k));
            else std::fprintf(stderr, "sftgen: %s: no retrieval\n", k.error().message.c_str());
        } else {
            std::fprintf(stderr, "sftgen: no tldr index (%s): cmd prompts without retrieved examples\n", p.error().message.c_str());
        }
        task_cmd_explain(pairs, index ? &*index : nullptr, limit, seed, do_cmd, do_exp, cmd, exp, st);
    }
    json s;
    s["seed"] = seed;
    s["counts"] = json{{"diagnose", diag.n}, {"cmd", cmd.n}, {"explain", exp.n}, {"eval_diagnose_heldout", eval.n}};
    json d;
    for (const auto& [k, v] : st.n) d[k] = v;
    s["details"] = d;
    std::ofstream(out_dir + "/stats.json") << s.dump(2) << "\n";
    std::fprintf(stderr, "sftgen: diagnose %ld, cmd %ld, explain %ld, held-out diagnose eval %ld -> %s\n", diag.n, cmd.n, exp.n, eval.n, out_dir.c_str());
    return 0;
}
