// cmd_serve.cpp - `sigmaops serve`: parses the options, reads the API key from where it is named
// (an environment variable or a file, never the command line), starts the OpenAI-compatible
// server (agents/serve) and waits for SIGINT/SIGTERM, then stops it gracefully. Issue 19 item 3.
#include "commands.h"
#include "common.h"

#include <serve/serve.h>

#include <nlohmann/json.hpp>

#include <csignal>
#include <cstdlib>
#include <fstream>
#include <iostream>
#include <mutex>
#include <pthread.h>
#include <sys/stat.h>

namespace sigmaops::cli {

namespace {

int fail(Io& io, const std::string& message) {
    io.err << "sigmaops: " << message << "\n";
    return k_exit_failure;
}

// The key from --api-key-env NAME or --api-key-file FILE (its first line, spaces trimmed).
// Returns false with a message for a missing variable, an unreadable or empty file.
bool read_api_key(const Args& a, std::string& key, std::string& why) {
    if (a.has("--api-key-env") && a.has("--api-key-file")) throw UsageError("give --api-key-env or --api-key-file, not both");
    if (a.has("--api-key-env")) {
        const std::string name = a.get("--api-key-env");
        const char* v = name.empty() ? nullptr : std::getenv(name.c_str());
        if (!v || !*v) { why = "the environment variable " + name + " (--api-key-env) is not set or empty"; return false; }
        key = v;
    } else if (a.has("--api-key-file")) {
        const std::string path = a.get("--api-key-file");
        std::ifstream f(path);
        if (!f) { why = "cannot read the API key file " + path; return false; }
        std::getline(f, key);
        while (!key.empty() && (key.back() == '\r' || key.back() == ' ' || key.back() == '\t')) key.pop_back();
        while (!key.empty() && (key.front() == ' ' || key.front() == '\t')) key.erase(0, 1);
        if (key.empty()) { why = "the API key file " + path + " is empty"; return false; }
        struct stat st {};
        if (::stat(path.c_str(), &st) == 0 && (st.st_mode & 0077))
            std::cerr << "sigmaops: warning: " << path << " is readable by other users (chmod 600 it)\n";
    }
    return true;
}

int run_serve(const Invocation& c) {
    c.args.at_most(0);
    serve::Options o;
    o.host = c.args.get("--host", "127.0.0.1");
    if (o.host.empty()) throw UsageError("--host needs an address, e.g. 127.0.0.1 or 0.0.0.0");
    o.port = int(c.args.get_int("--port", 8080, 0, 65535));
    o.parallel = int(c.args.get_int("--parallel", 0, 0, 64));
    o.queue = int(c.args.get_int("--queue", 16, 0, 4096));
    o.max_body_bytes = size_t(c.args.get_int("--max-body", 1 << 20, 1024, 1LL << 30));
    o.n_ctx = int(c.args.get_int("--ctx", 0, 0, 1 << 20));
    o.n_threads = int(c.args.get_int("--threads", 0, 0, 1024));
    o.shutdown_grace_ms = int(c.args.get_double("--shutdown-grace", 5, 0, 3600) * 1000);
    o.model_id = c.args.get("--model-id");
    const std::string dev = c.args.get("--device", "auto");
    if (dev == "cpu") o.device = serve::Device::Cpu;
    else if (dev == "cuda") o.device = serve::Device::Cuda;
    else if (dev != "auto") throw UsageError("--device must be auto, cpu or cuda, got '" + dev + "'");
    const std::string sched = c.args.get("--scheduler", "auto");
    if (sched == "fifo") o.scheduling = serve::Scheduling::Fifo;
    else if (sched == "batch") o.scheduling = serve::Scheduling::Batch;
    else if (sched != "auto") throw UsageError("--scheduler must be auto, fifo or batch, got '" + sched + "'");
    std::string why;
    if (!read_api_key(c.args, o.api_key, why)) return fail(c.io, why);
    const bool json = c.args.has("--json");
    auto path = llm::find_model(c.args.get("--model"));
    if (!path) return fail(c.io, path.error().message);
    o.model_path = *path;
    std::mutex log_mu;
    std::ostream& err = c.io.err;
    o.log = [&](std::string_view line) {
        std::lock_guard<std::mutex> lock(log_mu);
        err << "serve: " << line << "\n" << std::flush;
    };

    // SIGINT/SIGTERM are blocked before the server's threads start (they inherit the mask) and
    // taken here with sigwait, so the shutdown runs on this thread, not in a handler.
    sigset_t sigs, old;
    sigemptyset(&sigs);
    sigaddset(&sigs, SIGINT);
    sigaddset(&sigs, SIGTERM);
    pthread_sigmask(SIG_BLOCK, &sigs, &old);
    c.io.err << "serve: loading " << o.model_path << "\n";
    auto server = serve::Server::start(o);
    if (!server) {
        pthread_sigmask(SIG_SETMASK, &old, nullptr);
        return fail(c.io, server.error().message);
    }
    const std::string url = "http://" + o.host + ":" + std::to_string((*server)->port()) + "/v1";
    if (json) {
        c.io.out << nlohmann::json{{"url", url}, {"port", (*server)->port()}, {"model", (*server)->model_id()},
                                   {"backend", (*server)->description()}, {"auth", !o.api_key.empty()}}.dump()
                 << "\n" << std::flush;
    } else {
        c.io.out << "listening on " << url << " (model " << (*server)->model_id() << "; " << (*server)->description()
                 << (o.api_key.empty() ? "; no API key" : "; API key required") << ")\n" << std::flush;
    }
    if (o.api_key.empty() && o.host != "127.0.0.1" && o.host != "localhost" && o.host != "::1")
        c.io.err << "sigmaops: warning: listening on " << o.host << " without an API key (--api-key-env/--api-key-file)\n";
    int sig = 0;
    sigwait(&sigs, &sig);
    c.io.err << "serve: " << (sig == SIGINT ? "SIGINT" : "SIGTERM") << " received\n";
    (*server)->stop();
    server->reset();
    pthread_sigmask(SIG_SETMASK, &old, nullptr);
    return k_exit_ok;
}

} // namespace

Command serve_command() {
    Command c;
    c.name = "serve";
    c.summary = "an OpenAI-compatible HTTP server on the local model (/v1/chat/completions, /v1/completions)";
    c.usage = "[-m FILE] [--host H] [--port P] [--parallel N] [--queue N] [--api-key-env NAME | --api-key-file FILE]";
    // The model's file, threads and device, and the context size: the options of model_flags()
    // and context_flags() that mean something to a server of a local model.
    std::vector<Flag> local;
    for (const auto& group : {model_flags(), context_flags()})
        for (const Flag& f : group)
            if (f.name == "--model" || f.name == "--threads" || f.name == "--device" || f.name == "--ctx") local.push_back(f);
    c.flags = concat({local,
                      {{"--host", "", "H", "the address to listen on (default 127.0.0.1: this machine only)", {}, Complete::None},
                       {"--port", "", "P", "the port (default 8080; 0 = any free port, printed)"},
                       {"--parallel", "", "N", "requests generating at once (default: 1 on the CPU, 8 batched on a GPU)"},
                       {"--queue", "", "N", "requests waiting beyond --parallel; more get HTTP 429 (default 16)"},
                       {"--scheduler", "", "auto|fifo|batch", "fifo: one queue, --parallel contexts; batch: continuous batching (default: batch on a GPU)"},
                       {"--max-body", "", "BYTES", "largest request body; larger ones get HTTP 413 (default 1048576)"},
                       {"--api-key-env", "", "NAME", "require 'Authorization: Bearer KEY', KEY read from environment variable NAME"},
                       {"--api-key-file", "", "FILE", "require 'Authorization: Bearer KEY', KEY the first line of FILE"},
                       {"--model-id", "", "NAME", "the model's name in the API (default: the file name without .gguf)"},
                       {"--shutdown-grace", "", "SECONDS", "on SIGINT/SIGTERM running requests may finish this long, then are cancelled (default 5)"},
                       {"--json", "", "", "print the start line as one JSON object: url, port, model, backend, auth"}}});
    c.notes = "Endpoints: GET /v1/models, POST /v1/chat/completions, POST /v1/completions (stream: true for\n"
              "server-sent events), GET /health. Parameters: max_tokens, temperature, top_p, seed (same seed,\n"
              "same reply), stop (up to 4 strings), stream_options.include_usage; top_k, min_p,\n"
              "repeat_penalty as extensions. n must be 1. Defaults as OpenAI's: temperature 1, top_p 1.\n"
              "Errors are OpenAI error objects: 400 bad JSON or parameter, 401 wrong key, 404 unknown model,\n"
              "413 body too large, 429 queue full, 503 shutting down.\n"
              "The API key never goes on the command line: name an environment variable or a file.\n"
              "exit status: 0 stopped by SIGINT/SIGTERM, 1 error (model, address in use), 2 usage error";
    c.run = run_serve;
    return c;
}

} // namespace sigmaops::cli
