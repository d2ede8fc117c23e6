// cli/common.h - options several subcommands share, declared once so that one option has one
// name, one meaning and one help text everywhere, and what they build (llm.h settings, a loaded
// model, the history path).
#pragma once

#include "command.h"

#include <llm/llm.h>

#include <atomic>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

namespace sigmaops::cli {

// -m/--model, --threads, --device, --backend, --backend-model.
std::vector<Flag> model_flags();
// --ctx, --selective-v, --sliding-window.
std::vector<Flag> context_flags();
// -n/--n-predict, --temp, --top-k, --top-p, --min-p, --repeat-penalty, --seed, --stop.
std::vector<Flag> sampling_flags();
// --history FILE (earlier name: --db).
Flag history_flag();
std::vector<Flag> concat(std::vector<std::vector<Flag>> groups);

llm::Sampling sampling_from(const Args& a);
llm::ContextOptions context_from(const Args& a);
// The history database: --history FILE, or the default under $XDG_DATA_HOME.
std::string history_path(const Args& a);
// Finds and loads the model named by -m (or the search); prints the reason to io.err and returns
// null on failure. Throws UsageError for a bad --device/--threads/-m ''.
// --device auto (the default) loads on the GPU when this build has CUDA and a device is usable,
// else on the CPU, and says which once per process on io.err ("device: cpu (no CUDA device)").
// The same file, device and threads give the model this process already holds.
// With --backend URL (or $SIGMAOPS_BACKEND) the model is the endpoint's (--backend-model NAME or
// $SIGMAOPS_BACKEND_MODEL; default: the first it lists), reached through llm::load_remote; the
// choice is printed once per process on io.err. The API key never comes from the command line.
std::shared_ptr<llm::Model> load_model(const Args& a, Io& io);
// Whether a remote backend is chosen (--backend or $SIGMAOPS_BACKEND, and no -m): no model file
// is needed.
bool remote_backend_selected(const Args& a);
// "device: cuda", "device: cpu (this build has no CUDA)", "device: cpu (WHY the GPU was not used)".
std::string device_choice_text(const llm::Loaded& loaded);

// The progress line of long work on stderr (`diagnose`, `logs parse`): "logs: 12.00 MB / 1.00 GB,
// 150000 lines, 125000 lines/s" when the size is known (bytes_total > 0), else "logs: 150000 lines,
// 125000 lines/s, 12.00 MB read" (a journal, a host, stdin).
std::string progress_text(std::uint64_t bytes_read, std::uint64_t bytes_total, std::uint64_t lines, double seconds);
// Whether a progress line may be drawn on io.err: it is the process's stderr and a terminal, and
// the output is not --json (a pipe or a log file gets no "\r" lines).
bool progress_wanted(const Io& io, bool json);

// Ctrl-C: while `generating` is set, SIGINT sets `cancel` instead of ending the process.
struct Interrupt {
    static std::atomic<bool> cancel;
    static std::atomic<bool> generating;
    static void install();
    // Runs `work` with Ctrl-C turned into calls of `stop` (thread-safe, e.g. a context's
    // cancel()) from a watcher thread; outside it Ctrl-C ends the process as usual.
    static void while_cancellable(const std::function<void()>& stop, const std::function<void()>& work);
};

} // namespace sigmaops::cli
