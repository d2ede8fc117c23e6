// chat/chat.h - the chat assistant the terminal and desktop apps share: keeps a conversation on a
// language model (llm.h), streams replies, and records every exchange in the SQLite history.
// Qt-free; the desktop runs it on a worker thread.
//
// Thread-safety: a ChatService belongs to one thread (it owns its own history connection).
// cancel() may be called from any thread.
#pragma once

#include <base/result.h>
#include <llm/llm.h>

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

namespace sigmaops {

struct ChatOptions {
    std::string system_prompt =
        "You are SigmaOps, a careful assistant for Linux system administrators. "
        "Answer briefly; show shell commands in code blocks and say what they change.";
    llm::Sampling sampling;             // defaults from llm.h
    llm::ContextOptions context;        // context size, overflow policy, selective V, chat format
    std::string history_db;             // empty: AppPaths::resolve().history_db; ":none" keeps no history
};

struct ChatReply {
    std::string text;
    llm::Usage usage;
    llm::StopReason stop = llm::StopReason::MaxTokens;
};

class ChatService {
public:
    // `model` is shared and immutable; the service opens its own context and history connection.
    static Expected<std::unique_ptr<ChatService>> create(std::shared_ptr<const llm::Model> model,
                                                         const ChatOptions& options);
    virtual ~ChatService() = default;

    // Starts a new conversation (a new history session, created lazily on the first message).
    virtual void new_conversation() = 0;
    // Continues history session `session_id`: its messages become the conversation so far.
    virtual Expected<void> resume(int64_t session_id) = 0;
    // Sends one user message and streams the assistant's reply through on_text; both are stored.
    virtual Expected<ChatReply> send(const std::string& user_text, const llm::TextCallback& on_text) = 0;
    // Stops a send() in progress from any thread; the partial reply is kept and marked.
    virtual void cancel() = 0;
    virtual int64_t session_id() const = 0;              // 0 until the first message is stored
    virtual const std::vector<llm::Message>& conversation() const = 0;
    virtual const llm::ModelCard& model_card() const = 0;
};

} // namespace sigmaops
