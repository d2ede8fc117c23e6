// assistant.h - the chat assistant the terminal and desktop apps share: finds and loads the model,
// keeps a conversation (engine session + chat template), streams replies, and records every
// exchange in the SQLite history. Qt-free; the UI runs it on a worker thread.
//
// Thread-safety: a ChatService belongs to one thread (it owns its own history connection).
// cancel() may be called from any thread.
#pragma once

#include <sigma/engine.h>

#include <atomic>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

namespace sigmaops {

// Where SigmaOps keeps things (XDG base directories, created on demand with mode 0700).
struct AppPaths {
    std::string data_dir;     // $XDG_DATA_HOME/sigmaops or ~/.local/share/sigmaops
    std::string config_dir;   // $XDG_CONFIG_HOME/sigmaops or ~/.config/sigmaops
    std::string history_db;   // data_dir/history.db unless overridden
    static AppPaths resolve();
};

std::string app_version();

// The places searched for a model, in order: $SIGMAOPS_MODEL, <data_dir>/models, the source
// tree's resources/models, the install prefix's share/sigmaops/models, the build tree's models/.
std::vector<std::string> model_search_paths();
// `explicit_path` (from -m or settings) wins when non-empty; otherwise the first *.gguf found in the
// search paths. NotFound's message lists every place looked at and how to pass a model.
sigma::Expected<std::string> find_model(const std::string& explicit_path);

struct ChatOptions {
    std::string system_prompt =
        "You are SigmaOps, a careful assistant for Linux system administrators. "
        "Answer briefly; show shell commands in code blocks and say what they change.";
    sigma::SamplingParams sampling;     // defaults from the engine
    sigma::SessionOptions session;      // context size, overflow policy
    std::string history_db;             // empty: AppPaths::resolve().history_db; ":none" keeps no history
    std::string chat_format;            // empty: from the model
};

struct ChatReply {
    std::string text;
    sigma::Timings timings;
    sigma::StopReason stop = sigma::StopReason::MaxTokens;
};

class ChatService {
public:
    // `model` is shared and immutable; the service opens its own history connection.
    static sigma::Expected<std::unique_ptr<ChatService>> create(std::shared_ptr<sigma::Model> model,
                                                                const ChatOptions& options);
    virtual ~ChatService() = default;

    // Starts a new conversation (a new history session, created lazily on the first message).
    virtual void new_conversation() = 0;
    // Continues history session `session_id`: its messages become the conversation so far.
    virtual sigma::Expected<void> resume(int64_t session_id) = 0;
    // Sends one user message and streams the assistant's reply through on_text; both are stored.
    virtual sigma::Expected<ChatReply> send(const std::string& user_text, const sigma::TokenCallback& on_text) = 0;
    // Stops a send() in progress from any thread; the partial reply is kept and marked.
    virtual void cancel() = 0;
    virtual int64_t session_id() const = 0;              // 0 until the first message is stored
    virtual const std::vector<sigma::ChatMessage>& conversation() const = 0;
    virtual const sigma::ModelInfo& model_info() const = 0;
};

} // namespace sigmaops
