// common.cpp - shared options and what they build (common.h).
#include "common.h"

#include <base/paths.h>
#include <base/text.h>

#include <chrono>
#include <map>
#include <mutex>
#include <tuple>
#include <csignal>
#include <iostream>
#include <sstream>
#include <thread>
#include <ostream>
#include <unistd.h>

#include <cstdlib>   // the backend's environment variables
#include <map>
#include <mutex>

namespace sigmaops::cli {

std::string progress_text(std::uint64_t bytes_read, std::uint64_t bytes_total, std::uint64_t lines, double seconds) {
    std::ostringstream o;
    const std::uint64_t rate = seconds > 0 ? std::uint64_t(double(lines) / seconds) : 0;
    o << "logs: ";
    if (bytes_total) {
        o << human_bytes(double(bytes_read)) << " / " << human_bytes(double(bytes_total)) << ", " << lines << " lines, " << rate << " lines/s";
    } else {
        o << lines << " lines, " << rate << " lines/s, " << human_bytes(double(bytes_read)) << " read";
    }
    return o.str();
}

bool progress_wanted(const Io& io, bool json) {
    return !json && &io.err == &std::cerr && ::isatty(STDERR_FILENO) == 1;
}

std::vector<Flag> model_flags() {
    return {{"--model", "-m", "FILE", "model file (.gguf); default: the first one found (see sigmaops --help)"},
            {"--threads", "", "N", "CPU threads (default: all cores)"},
            {"--device", "", "auto|cpu|cuda", "where to run; auto: the GPU when one is usable, else the CPU (default: auto)"},
            {"--backend", "", "URL", "use an OpenAI-compatible server (vLLM, llama.cpp, sigmaops serve) instead of a model file; "
                                     "default: $SIGMAOPS_BACKEND. The API key comes from $SIGMAOPS_API_KEY or the keyring "
                                     "(sigmaops backend set-key URL)"},
            {"--backend-model", "", "NAME", "the backend's model (default: $SIGMAOPS_BACKEND_MODEL, else the first it lists)"}};
}

std::vector<Flag> context_flags() {
    return {{"--ctx", "", "N", "context size in tokens (default: min(model's, 4096))"},
            {"--selective-v", "", "K", "selective V fetching: each query head reads only its top-K V rows (0 = off)"},
            {"--sliding-window", "", "", "on a full context drop old tokens instead of stopping"}};
}

std::vector<Flag> sampling_flags() {
    return {{"--n-predict", "-n", "N", "tokens to generate at most (default 256)"},
            {"--temp", "", "T", "temperature; 0 = greedy (default 0.7)"},
            {"--top-k", "", "K", "top-k (default 40, 0 = off)"},
            {"--top-p", "", "P", "top-p (default 0.95)"},
            {"--min-p", "", "P", "min-p (default 0.05)"},
            {"--repeat-penalty", "", "R", "repetition penalty (default 1.1, 1 = off)"},
            {"--seed", "", "S", "random seed (default: random)"},
            {"--stop", "", "TEXT", "stop when TEXT is generated"}};
}

Flag history_flag() {
    return {"--history", "", "FILE", "history database (default: $XDG_DATA_HOME/sigmaops/history.db)", {"--db"}};
}

std::vector<Flag> concat(std::vector<std::vector<Flag>> groups) {
    std::vector<Flag> out;
    for (auto& g : groups) out.insert(out.end(), g.begin(), g.end());
    return out;
}

llm::Sampling sampling_from(const Args& a) {
    llm::Sampling p;
    p.max_tokens = int(a.get_int("--n-predict", 256, 0, 1 << 20));
    p.temperature = float(a.get_double("--temp", 0.7, 0, 100));
    p.top_k = int(a.get_int("--top-k", 40, 0, 1 << 30));
    p.top_p = float(a.get_double("--top-p", 0.95, 0, 1));
    p.min_p = float(a.get_double("--min-p", 0.05, 0, 1));
    p.repeat_penalty = float(a.get_double("--repeat-penalty", 1.1, 0.01, 100));
    p.seed = uint64_t(a.get_int("--seed", 0, 0, (1LL << 62)));
    if (a.has("--stop")) p.stop.push_back(a.get("--stop"));
    return p;
}

llm::ContextOptions context_from(const Args& a) {
    llm::ContextOptions c;
    c.n_ctx = int(a.get_int("--ctx", 0, 0, 1 << 22));
    c.selective_v = int(a.get_int("--selective-v", 0, 0, 1 << 22));
    if (a.has("--sliding-window")) {
        c.sliding_window = true;
        c.n_keep = 16;
    }
    return c;
}

std::string history_path(const Args& a) {
    if (a.has("--history") && a.get("--history").empty()) throw UsageError("--history needs a file, got an empty path");
    return a.has("--history") ? a.get("--history") : AppPaths::resolve().history_db;
}

namespace {
std::string env_or(const char* name) {
    const char* v = std::getenv(name);
    return v && *v ? std::string(v) : std::string();
}
std::string backend_url(const Args& a) { return a.has("--backend") ? a.get("--backend") : env_or("SIGMAOPS_BACKEND"); }

// The remote backend of --backend/$SIGMAOPS_BACKEND, connected once per (URL, model) per process
// and announced once.
std::shared_ptr<llm::Model> load_backend(const Args& a, Io& io) {
    llm::RemoteOptions ro;
    ro.url = backend_url(a);
    ro.model = a.has("--backend-model") ? a.get("--backend-model") : env_or("SIGMAOPS_BACKEND_MODEL");
    static std::mutex mutex;
    static std::map<std::pair<std::string, std::string>, std::weak_ptr<llm::Model>> held;
    std::lock_guard<std::mutex> lock(mutex);
    if (auto m = held[{ro.url, ro.model}].lock()) return m;
    auto m = llm::load_remote(ro);
    if (!m) {
        io.err << "sigmaops: " << m.error().message << "\n";
        return nullptr;
    }
    io.err << "sigmaops: model " << m->model->card().name << " at " << m->model->card().path << " (remote backend"
           << (m->fallback_note.empty() ? "" : "; " + m->fallback_note) << ")\n";
    held[{ro.url, ro.model}] = m->model;
    return std::move(m->model);
}
} // namespace

bool remote_backend_selected(const Args& a) { return !backend_url(a).empty() && !a.has("--model"); }

std::shared_ptr<llm::Model> load_model(const Args& a, Io& io) {
    if (a.has("--model") && a.get("--model").empty()) throw UsageError("-m/--model needs a model file, got an empty path");
    if (a.has("--backend") && a.get("--backend").empty()) throw UsageError("--backend needs a URL, got an empty one");
    if (a.has("--backend") && a.has("--model")) throw UsageError("-m/--model and --backend name two different models: pick one");
    if (a.has("--backend-model") && backend_url(a).empty()) throw UsageError("--backend-model needs --backend URL");
    if (remote_backend_selected(a)) return load_backend(a, io);
    llm::LoadOptions lo;
    lo.n_threads = int(a.get_int("--threads", 0, 0, 1024));
    const std::string dev = a.get("--device", "auto");
    if (dev == "cuda") lo.device = llm::Device::Cuda;
    else if (dev == "auto") lo.device = llm::Device::Auto;
    else if (dev != "cpu") throw UsageError("--device must be auto, cpu or cuda, got '" + dev + "'");
    auto path = llm::find_model(a.get("--model"));
    if (!path) {
        io.err << "sigmaops: " << path.error().message << "\n";
        return nullptr;
    }
    // One model per (file, device, threads) per process: the chat's /cmd and /diagnose get the
    // model the chat already holds instead of loading it again.
    static std::mutex cache_mutex;
    static std::map<std::tuple<std::string, int, int>, std::weak_ptr<llm::Model>> cache;
    const auto key = std::make_tuple(*path, int(lo.device), lo.n_threads);
    {
        std::lock_guard<std::mutex> lock(cache_mutex);
        if (auto held = cache[key].lock()) return held;
    }
    auto m = llm::load_local(*path, lo);
    if (!m) {
        io.err << "sigmaops: " << m.error().message << "\n";
        return nullptr;
    }
    // --device auto says once per process, on stderr, where the model runs and why.
    static std::atomic<bool> device_said{false};
    if (lo.device == llm::Device::Auto && !device_said.exchange(true)) io.err << device_choice_text(*m) << "\n";
    std::lock_guard<std::mutex> lock(cache_mutex);
    cache[key] = m->model;
    return std::move(m->model);
}

std::string device_choice_text(const llm::Loaded& loaded) {
    const std::string& backend = loaded.model->card().backend;
    if (backend != "cpu") return "device: " + backend;
    if (!llm::engine_info().cuda_built) return "device: cpu (this build has no CUDA)";
    std::string why = loaded.fallback_note;
    if (why.rfind("running on the CPU: ", 0) == 0) why.erase(0, 20);
    return "device: cpu (" + (why.empty() ? std::string("no usable CUDA device") : why) + ")";
}


std::atomic<bool> Interrupt::cancel{false};
std::atomic<bool> Interrupt::generating{false};

static void on_sigint(int) {
    if (Interrupt::generating.load()) {
        Interrupt::cancel = true;
    } else {
        const char nl[] = "\n";
        (void)!write(STDOUT_FILENO, nl, 1);
        _exit(130);
    }
}

void Interrupt::install() { std::signal(SIGINT, on_sigint); }

void Interrupt::while_cancellable(const std::function<void()>& stop, const std::function<void()>& work) {
    cancel = false;
    generating = true;
    std::thread watcher([&] {
        while (generating) {
            if (cancel) stop();
            std::this_thread::sleep_for(std::chrono::milliseconds(20));
        }
    });
    work();
    generating = false;
    watcher.join();
}

} // namespace sigmaops::cli
