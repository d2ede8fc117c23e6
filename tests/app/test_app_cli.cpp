// The `sigmaops` executable as a user meets it: --version, --help, bad flags (exit 2), no model
// (a clear message and exit 1), and a terminal chat fed on stdin whose exchange lands in history.
#include <catch2/catch.hpp>

#include "engine_test_util.h"

#include <cli/command.h>

#include <sigma/engine.h>

#include <array>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <functional>
#include <map>
#include <sstream>
#include <sys/wait.h>
#include <utility>

namespace fs = std::filesystem;

struct Run {
    int rc;
    std::string out;   // stdout + stderr
};

static Run run(const std::string& args, const std::string& env = "", const std::string& stdin_text = "") {
    const std::string bin = std::string(SIGMAOPS_BINARY_DIR) + "/app/sigmaops";
    std::string cmd = env + " " + bin + " " + args + " 2>&1";
    fs::path in;
    if (!stdin_text.empty()) {
        in = fs::temp_directory_path() / ("sigmaops-cli-in-" + std::to_string(::getpid()));
        std::ofstream(in) << stdin_text;
        cmd += " < " + in.string();
    } else {
        cmd += " < /dev/null";
    }
    FILE* p = ::popen(cmd.c_str(), "r");
    REQUIRE(p);
    std::string out;
    std::array<char, 4096> buf{};
    size_t n;
    while ((n = std::fread(buf.data(), 1, buf.size(), p)) > 0) out.append(buf.data(), n);
    const int status = ::pclose(p);
    if (!in.empty()) fs::remove(in);
    return {WIFEXITED(status) ? WEXITSTATUS(status) : -1, out};
}

TEST_CASE("sigmaops --version and --help", "[app][cli]") {
    auto v = run("--version");
    CHECK(v.rc == 0);
    CHECK_THAT(v.out, Catch::StartsWith("sigmaops 0.1.0"));
    auto h = run("--help");
    CHECK(h.rc == 0);
    for (const char* cmd : {"chat", "generate", "logits", "model info", "bench", "perplexity", "history", "hosts", "run"})
        CHECK_THAT(h.out, Catch::Contains(cmd));
    for (const char* sub : {"chat", "generate", "logits", "model", "bench", "perplexity", "history", "hosts", "run"}) {
        auto s = run(std::string(sub) + " --help");
        INFO(sub << ": " << s.out);
        CHECK(s.rc == 0);
        CHECK_THAT(s.out, Catch::Contains("usage"));
    }
}

TEST_CASE("bad flags and commands exit 2 with a clear message", "[app][cli]") {
    const std::pair<const char*, const char*> cases[] = {
        {"--bogus", "unknown option '--bogus'"},
        {"frobnicate", "unknown command 'frobnicate'"},
        {"generate -p hi --temp hot", "--temp expects a number"},
        {"generate --prompt", "needs a value"},
        {"logits --tokens 1,x,3 --out /tmp/x", "comma-separated token ids"},
        {"generate -m '' -p hi", "-m/--model needs a model file, got an empty path"},
        {"generate -p hi --temp -1", "--temp must be between 0 and 100, got '-1'"},
        {"generate -p hi --top-p 1.5", "--top-p must be between 0 and 1, got '1.5'"},
        {"history list --history ''", "--history needs a file, got an empty path"},
        {"history list --limit lots", "--limit expects an integer, got 'lots'"},
        {"run --hosts a uptime", "the command goes after --"},
        {"model info", "expected: model info FILE"},
    };
    for (const auto& [args, message] : cases) {
        auto r = run(args);
        INFO("sigmaops " << args << "\n" << r.out);
        CHECK(r.rc == 2);
        CHECK_THAT(r.out, Catch::Contains(message));
    }
}

TEST_CASE("no model: where models are looked up and how to pass one", "[app][cli]") {
    const fs::path empty = fs::temp_directory_path() / ("sigmaops-nomodel-" + std::to_string(::getpid()));
    fs::create_directories(empty);
    auto r = run("generate -m " + (empty / "missing.gguf").string() + " -p hi");
    CHECK(r.rc == 1);
    CHECK_THAT(r.out, Catch::Contains("missing.gguf"));
    auto m = run("model info " + (empty / "missing.gguf").string());
    CHECK(m.rc == 1);
    CHECK_THAT(m.out, Catch::Contains("no such file"));
    fs::remove_all(empty);
}

TEST_CASE("model info says whether the model's own chat template is used, and why not", "[app][cli]") {
    // No template in the file (the tiny test model): the fixed format.
    auto tiny = run("model info " + sigma::testing::tiny_chat_model());
    INFO(tiny.out);
    CHECK(tiny.rc == 0);
    CHECK_THAT(tiny.out, Catch::Contains("\nchat template:  none in the file (the fixed format "));
    const fs::path nano = fs::path(SIGMAOPS_SOURCE_DIR) / "resources/models/sigma-ops-nano.gguf";
    if (!fs::exists(nano)) {
        SUCCEED("skipped: resources/models/sigma-ops-nano.gguf is absent (the shipped model's template)");
        std::puts("skipped: resources/models/sigma-ops-nano.gguf is absent");
        return;
    }
    auto own = run("model info " + nano.string());
    INFO(own.out);
    CHECK(own.rc == 0);
    CHECK_THAT(own.out, Catch::Contains("\nchat template:  the model's own (Jinja, tokenizer.chat_template)\n"));
    // The same file with its template broken (endfor -> endfxr, same length, so the GGUF stays
    // valid): the error (line, column) is shown on one line and the fixed format is named.
    std::ifstream in(nano, std::ios::binary);
    std::string bytes((std::istreambuf_iterator<char>(in)), {});
    const std::size_t at = bytes.find("{% endfor %}", bytes.find("tokenizer.chat_template"));
    REQUIRE(at != std::string::npos);
    bytes.replace(at, 12, "{% endfxr %}");
    const fs::path broken = fs::temp_directory_path() / ("sigmaops-broken-template-" + std::to_string(::getpid()) + ".gguf");
    std::ofstream(broken, std::ios::binary) << bytes;
    auto bad = run("model info " + broken.string());
    fs::remove(broken);
    INFO(bad.out);
    CHECK(bad.rc == 0);
    const std::size_t row = bad.out.find("\nchat template:  not used: ");
    REQUIRE(row != std::string::npos);
    const std::string line = bad.out.substr(row + 1, bad.out.find('\n', row + 1) - row - 1);
    CHECK_THAT(line, Catch::Contains("endfxr") || Catch::Contains("line 1"));
    CHECK_THAT(line, Catch::EndsWith("(the fixed format sigma instead)"));
}

TEST_CASE("diagnose says once on stderr where the model runs, never on --json's stdout", "[app][cli]") {
    const fs::path dir = fs::temp_directory_path() / ("sigmaops-diag-device-" + std::to_string(::getpid()));
    fs::create_directories(dir);
    const fs::path log = dir / "syslog";
    std::ofstream(log) << "Mar  1 09:12:01 db1 kernel: Out of memory: Killed process 4242 (java) total-vm:8000000kB\n"
                          "Mar  1 09:12:02 db1 postgres[900]: PANIC:  could not write to file \"pg_wal/x\": No space left on device\n";
    const std::string bin = std::string(SIGMAOPS_BINARY_DIR) + "/app/sigmaops";
    auto read = [](const fs::path& p) {
        std::ifstream in(p, std::ios::binary);
        return std::string((std::istreambuf_iterator<char>(in)), {});
    };
    // The model's explanation (--json), and --show-prompt --no-model (the model is loaded for its
    // tokenizer; the prompt and the report on stdout).
    for (const std::string& extra : {std::string(" --json"), std::string(" --show-prompt --no-model --ctx 2048")}) {
        const std::string cmd = bin + " diagnose " + log.string() + " --no-history -m " + sigma::testing::tiny_chat_model() +
                                extra + " >" + (dir / "out").string() + " 2>" + (dir / "err").string() + " </dev/null";
        const int status = std::system(cmd.c_str());
        const std::string out = read(dir / "out"), err = read(dir / "err");
        INFO(cmd << "\nstdout:\n" << out << "\nstderr:\n" << err);
        CHECK(WIFEXITED(status));
        CHECK(WEXITSTATUS(status) == 0);
        std::size_t said = 0;
        for (std::size_t at = err.find("device: "); at != std::string::npos; at = err.find("device: ", at + 1)) ++said;
        CHECK(said == 1);
        CHECK_THAT(out, !Catch::Contains("device: cpu"));
    }
    fs::remove_all(dir);
}

TEST_CASE("terminal chat on stdin streams a reply and keeps it in history", "[app][chat]") {
    const fs::path dir = fs::temp_directory_path() / ("sigmaops-clichat-" + std::to_string(::getpid()));
    fs::remove_all(dir);
    fs::create_directories(dir);
    const std::string model = sigma::testing::tiny_chat_model();
    const std::string db = (dir / "history.db").string();
    auto r = run("chat -m " + model + " --history " + db + " -n 8 --seed 1", "", "what is an inode\n/quit\n");
    INFO(r.out);
    CHECK(r.rc == 0);
    CHECK_THAT(r.out, Catch::Contains("sigma> "));
    CHECK_THAT(r.out, Catch::Contains("tok/s"));
    auto l = run("history list --db " + db);
    INFO(l.out);
    CHECK(l.rc == 0);
    CHECK_THAT(l.out, Catch::Contains("what is an inode"));
    fs::remove_all(dir);
}

TEST_CASE("terminal chat: bad /resume and unknown /commands are answered, not sent to the model", "[app][chat]") {
    const fs::path dir = fs::temp_directory_path() / ("sigmaops-clicmd-" + std::to_string(::getpid()));
    fs::remove_all(dir);
    fs::create_directories(dir);
    const std::string model = sigma::testing::tiny_chat_model();
    const std::string db = (dir / "history.db").string();
    auto r = run("chat -m " + model + " --history " + db + " -n 4 --seed 1", "",
                 "/resume abc\n/resume\n/resume 0\n/resume 99\n/hsitory\n/quit\n");
    INFO(r.out);
    CHECK(r.rc == 0);
    const std::string usage = "usage: /resume ID, with ID a session number from /history\n";
    CHECK(r.out.find("you> /resume abc\n" + usage) != std::string::npos);
    CHECK(r.out.find("you> /resume\n" + usage) != std::string::npos);
    CHECK(r.out.find("you> /resume 0\n" + usage) != std::string::npos);
    CHECK_THAT(r.out, Catch::Contains("you> /resume 99\ncannot resume: history session 99 does not exist"));
    CHECK_THAT(r.out, Catch::Contains("you> /hsitory\nunknown command /hsitory (commands: /new, /history, /resume ID, /cmd, /run, /explain, /diagnose, /tune, /hosts, /model, /help, /quit)"));
    CHECK(r.out.find("sigma> ") == std::string::npos);  // nothing went to the model
    // A message that starts with a path is a message.
    auto m = run("chat -m " + model + " --history " + db + " -n 4 --seed 1", "", "/var is full\n/quit\n");
    INFO(m.out);
    CHECK_THAT(m.out, Catch::Contains("sigma> "));
    auto l = run("history list --db " + db);
    CHECK_THAT(l.out, Catch::Contains("/var is full"));
    fs::remove_all(dir);
}

// `sigmaops perplexity` against perplexity computed here from the engine's own logits over the
// same windows, with and without selective V, and its errors for bad input.
TEST_CASE("sigmaops perplexity scores a text file", "[app][cli]") {
    const std::string model_path = sigma::testing::tiny_chat_model("F32");
    const fs::path txt = fs::temp_directory_path() / ("sigmaops-ppl-" + std::to_string(::getpid()) + ".txt");
    const std::string text = "systemctl restart nginx reloads the web server after a config change.\n"
                             "journalctl -u ssh shows the log of the SSH daemon; df -h shows free disk space.\n";
    std::ofstream(txt) << text;

    auto loaded = sigma::Model::load(model_path);
    REQUIRE(loaded);
    auto& model = *loaded;
    auto toks = model->tokenize(text, false, false);
    REQUIRE(toks);
    const auto bos = model->tokenize("", true, false);
    REQUIRE(bos);
    REQUIRE(bos->size() == 1);
    const int ctx = 16, window = ctx - 1, n_vocab = int(model->info().n_vocab);
    for (int k : {0, 4}) {
        sigma::SessionOptions so;
        so.n_ctx = ctx;
        so.selective_v = k;
        auto session = model->new_session(so);
        REQUIRE(session);
        double nll = 0;
        size_t n = 0;
        for (size_t start = 0; start < toks->size(); start += window) {
            std::vector<sigma::TokenId> in{(*bos)[0]};
            in.insert(in.end(), toks->begin() + long(start), toks->begin() + long(std::min(toks->size(), start + window)));
            auto lg = (*session)->logits(in);
            REQUIRE(lg);
            for (size_t i = 0; i + 1 < in.size(); ++i, ++n) {
                const float* row = lg->data() + i * size_t(n_vocab);
                double mx = row[0], sum = 0;
                for (int v = 0; v < n_vocab; ++v) mx = std::max<double>(mx, row[v]);
                for (int v = 0; v < n_vocab; ++v) sum += std::exp(row[v] - mx);
                nll += std::log(sum) + mx - row[in[i + 1]];
            }
        }
        REQUIRE(n == toks->size());
        const double want = std::exp(nll / double(n));
        auto r = run("perplexity -m " + model_path + " -f " + txt.string() + " --ctx 16 --json" +
                     (k ? " --selective-v " + std::to_string(k) : std::string()));
        INFO(r.out);
        REQUIRE(r.rc == 0);
        CHECK_THAT(r.out, Catch::Contains("\"tokens\":" + std::to_string(n) + ","));
        const auto at = r.out.find("\"ppl\":");
        REQUIRE(at != std::string::npos);
        CHECK(std::stod(r.out.substr(at + 6)) == Approx(want).epsilon(1e-5));
    }

    auto missing = run("perplexity -m " + model_path + " -f /nonexistent/held-out.txt");
    CHECK(missing.rc == 1);
    CHECK_THAT(missing.out, Catch::Contains("cannot read /nonexistent/held-out.txt"));
    std::ofstream(txt, std::ios::trunc).flush();
    auto empty = run("perplexity -m " + model_path + " -f " + txt.string());
    CHECK(empty.rc == 1);
    CHECK_THAT(empty.out, Catch::Contains("holds no text"));
    auto dir_arg = run("perplexity -m " + model_path + " -f " + fs::temp_directory_path().string());
    CHECK(dir_arg.rc == 1);
    CHECK_THAT(dir_arg.out, Catch::Contains(" is a directory; --file takes a text file"));
    CHECK(dir_arg.out.find("basic_filebuf") == std::string::npos);
    auto tiny_ctx = run("perplexity -m " + model_path + " -f /nonexistent/held-out.txt --ctx 1");
    CHECK(tiny_ctx.rc == 2);
    CHECK_THAT(tiny_ctx.out, Catch::Contains("--ctx must be at least 2"));
    auto noarg = run("perplexity -m " + model_path);
    CHECK(noarg.rc == 2);
    CHECK_THAT(noarg.out, Catch::Contains("--file is required"));
    fs::remove(txt);
}

TEST_CASE("sigmaops bench --device cuda without a GPU says why and exits 1", "[app][cli]") {
    const std::string model_path = sigma::testing::tiny_chat_model("F32");
    if (sigma::gpu_copy_bandwidth()) {
        SUCCEED("skipped: a GPU is present (the GPU path is timed by bench_forward on the device)");
        return;
    }
    const Run r = run("bench -m " + model_path + " --device cuda -p 4 -n 4 --reps 1");
    CHECK(r.rc == 1);
    // Either the build has no CUDA or the machine has no GPU; both name CUDA and the way out.
    CHECK(r.out.find("CUDA") != std::string::npos);
    CHECK(r.out.find("--device cpu") != std::string::npos);
    CHECK(r.out.find("% copy BW") == std::string::npos);   // no table printed
    // The engine call itself reports Unsupported with a message.
    auto g = sigma::gpu_copy_bandwidth();
    REQUIRE_FALSE(g);
    CHECK(g.error().code == sigmaops::ErrorCode::Unsupported);
    CHECK_FALSE(g.error().message.empty());
}

// ---- the command table: generated help, one name per option, old names -------------------

namespace {

// Every entry of the table with the words that reach it ("history list").
void walk(const sigmaops::cli::Command& c, const std::string& path,
          const std::function<void(const sigmaops::cli::Command&, const std::string&)>& f) {
    f(c, path);
    for (const auto& s : c.subcommands) walk(s, path.empty() ? s.name : path + " " + s.name, f);
}

std::pair<int, std::string> in_process(std::vector<std::string> argv) {
    std::istringstream in;
    std::ostringstream out, err;
    sigmaops::cli::Io io{in, out, err};
    const int rc = sigmaops::cli::dispatch(sigmaops::cli::sigmaops_command(), argv, io);
    return {rc, out.str() + err.str()};
}

} // namespace

TEST_CASE("every command's --help is generated from its table entry", "[app][cli]") {
    int n_entries = 0;
    walk(sigmaops::cli::sigmaops_command(), "", [&](const sigmaops::cli::Command& c, const std::string& path) {
        ++n_entries;
        std::vector<std::string> argv;
        std::istringstream words(path);
        for (std::string w; words >> w;) argv.push_back(w);
        argv.push_back("--help");
        auto [rc, text] = in_process(argv);
        INFO("sigmaops " << path << " --help\n" << text);
        CHECK(rc == 0);
        CHECK(text == sigmaops::cli::help_text(c, path));
        CHECK_THAT(text, Catch::StartsWith("usage: sigmaops" + std::string(path.empty() ? "" : " " + path)));
        for (const auto& f : c.flags) {
            CHECK_THAT(text, Catch::Contains(f.name));
            for (const auto& old : f.old_names) CHECK_THAT(text, !Catch::Contains(old + " "));   // old names stay hidden
        }
        for (const auto& s : c.subcommands) CHECK_THAT(text, Catch::Contains("  " + s.name + " "));
        // A usage line that names an option of fixed choices gives the table's choices (--device
        // auto|cpu|cuda, not an older cpu|cuda).
        for (const auto& f : c.flags) {
            const std::size_t at = c.usage.find(f.name + " ");
            if (f.value.find('|') == std::string::npos || at == std::string::npos) continue;
            INFO("usage: " << c.usage);
            CHECK(c.usage.substr(at + f.name.size() + 1, f.value.size()) == f.value);
        }
    });
    CHECK(n_entries >= 20);
}

TEST_CASE("one option name means one thing in every command", "[app][cli]") {
    // Collect (name -> help text) over the whole table: the same name must carry the same value
    // placeholder everywhere, and no alias may stand for two different options.
    std::map<std::string, std::string> value_of, alias_of;
    walk(sigmaops::cli::sigmaops_command(), "", [&](const sigmaops::cli::Command& c, const std::string& path) {
        for (const auto& f : c.flags) {
            INFO(path << ": " << f.name);
            auto [it, fresh] = value_of.emplace(f.name, f.value);
            if (!fresh) CHECK(it->second == f.value);
            if (!f.alias.empty()) {
                auto [a, afresh] = alias_of.emplace(f.alias, f.name);
                if (!afresh) CHECK(a->second == f.name);
            }
        }
    });
    CHECK(value_of.count("--history") == 1);
    CHECK(value_of.count("--db") == 0);   // the history database is --history everywhere
}

TEST_CASE("old option names keep working", "[app][cli]") {
    const fs::path dir = fs::temp_directory_path() / ("sigmaops-oldnames-" + std::to_string(::getpid()));
    fs::remove_all(dir);
    fs::create_directories(dir);
    const std::string db = (dir / "h.db").string();
    // history --db FILE (before or after the subcommand) is --history FILE.
    for (const auto& argv : {std::vector<std::string>{"history", "list", "--db", db},
                             std::vector<std::string>{"--db", db, "history", "list"},   // as the old help wrote it
                             std::vector<std::string>{"history", "--db", db, "list"},
                             std::vector<std::string>{"history", "--history", db, "list"}}) {
        auto [rc, text] = in_process(argv);
        INFO(text);
        CHECK(rc == 0);
        CHECK_THAT(text, Catch::Contains("no history yet (" + db + ")"));
    }
    auto binary = run("--db " + db + " history list");   // the program decides chat or command
    CHECK(binary.rc == 0);
    CHECK_THAT(binary.out, Catch::Contains("no history yet (" + db + ")"));
    // logits --out is --output.
    const std::string model = sigma::testing::tiny_chat_model();
    const std::string out = (dir / "l.f32").string();
    auto r = run("logits -m " + model + " --tokens 1,2,3 --out " + out);
    INFO(r.out);
    CHECK(r.rc == 0);
    CHECK(fs::file_size(out) > 0);
    // hosts add --host is --hostname: shown by its message when the name is missing.
    auto [rc, text] = in_process({"hosts", "add", "x", "--host"});
    CHECK(rc == 2);
    CHECK_THAT(text, Catch::Contains("option --hostname needs a value"));
    fs::remove_all(dir);
}
