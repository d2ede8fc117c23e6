// chat.cpp - ChatService: conversation state, streaming replies, history (chat.h).
#include <chat/chat.h>

#include <base/paths.h>
#include <history/history.h>

#include <filesystem>

namespace fs = std::filesystem;

namespace sigmaops {

namespace {

class ChatServiceImpl final : public ChatService {
public:
    ChatServiceImpl(std::shared_ptr<const llm::Model> model, ChatOptions opt, std::unique_ptr<llm::Context> context,
                    std::unique_ptr<history::History> hist)
        : m_model(std::move(model)), m_opt(std::move(opt)), m_context(std::move(context)), m_hist(std::move(hist)) {
        new_conversation();
    }

    void new_conversation() override {
        m_conv.clear();
        if (!m_opt.system_prompt.empty()) m_conv.push_back({"system", m_opt.system_prompt});
        m_session_id = 0;
    }

    Expected<void> resume(int64_t session_id) override {
        if (!m_hist) return unexpected(ErrorCode::NotFound, "history is off: nothing to resume");
        auto msgs = m_hist->messages(session_id);
        if (!msgs) return unexpected(msgs.error());
        auto s = m_hist->session(session_id);
        if (!s) return unexpected(s.error());
        new_conversation();
        for (const auto& m : *msgs)
            if (m.role != "system") m_conv.push_back({m.role, m.content});
        m_session_id = session_id;
        return {};
    }

    Expected<ChatReply> send(const std::string& user_text, const llm::TextCallback& on_text) override {
        if (user_text.empty()) return unexpected(ErrorCode::InvalidArgument, "empty message");
        m_conv.push_back({"user", user_text});
        // The template must accept the conversation before anything is stored.
        if (auto prompt = m_model->format_chat(m_conv, true, m_opt.context.chat_format); !prompt) {
            m_conv.pop_back();
            return unexpected(prompt.error());
        }
        // Store the user's message before generating: nothing typed is lost if generation fails.
        if (m_hist) {
            if (m_session_id == 0) {
                std::string title = user_text.substr(0, 60);
                for (char& c : title) if (c == '\n' || c == '\r' || c == '\t') c = ' ';
                auto id = m_hist->create_session(title, m_model->card().display_name(), "localhost");
                if (!id) return unexpected(id.error());
                m_session_id = *id;
            }
            if (auto r = m_hist->add_message(m_session_id, "user", user_text); !r) return unexpected(r.error());
        }
        // The reply streams without leading whitespace (the template ends the assistant header with a newline).
        bool started = false;
        auto cb = [&](std::string_view piece) {
            if (!started) {
                size_t i = 0;
                while (i < piece.size() && (piece[i] == ' ' || piece[i] == '\n')) ++i;
                piece.remove_prefix(i);
                if (piece.empty()) return true;
                started = true;
            }
            return on_text ? on_text(piece) : true;
        };
        auto res = m_context->chat(m_conv, m_opt.sampling, cb);
        if (!res) { m_conv.pop_back(); return unexpected(res.error()); }
        ChatReply reply;
        reply.text = res->text;
        size_t i = 0;
        while (i < reply.text.size() && (reply.text[i] == ' ' || reply.text[i] == '\n')) ++i;
        reply.text.erase(0, i);
        reply.usage = res->usage;
        reply.stop = res->stop;
        m_conv.push_back({"assistant", reply.text});
        if (m_hist) {
            history::MessageStats st;
            st.n_prompt_tokens = res->usage.n_prompt;
            st.n_tokens = res->usage.n_generated;
            st.prompt_ms = res->usage.prompt_ms;
            st.decode_ms = res->usage.decode_ms;
            std::string stored = reply.text;
            if (reply.stop == llm::StopReason::Cancelled) stored += "\n\n[stopped by the user]";
            if (auto r = m_hist->add_message(m_session_id, "assistant", stored, st); !r) return unexpected(r.error());
        }
        return reply;
    }

    void cancel() override { m_context->cancel(); }
    int64_t session_id() const override { return m_session_id; }
    const std::vector<llm::Message>& conversation() const override { return m_conv; }
    const llm::ModelCard& model_card() const override { return m_model->card(); }

private:
    std::shared_ptr<const llm::Model> m_model;
    ChatOptions m_opt;
    std::unique_ptr<llm::Context> m_context;
    std::unique_ptr<history::History> m_hist;
    std::vector<llm::Message> m_conv;
    int64_t m_session_id = 0;
};

} // namespace

Expected<std::unique_ptr<ChatService>> ChatService::create(std::shared_ptr<const llm::Model> model, const ChatOptions& options) {
    if (!model) return unexpected(ErrorCode::InvalidArgument, "no model");
    if (!model->card().has_tokenizer)
        return unexpected(ErrorCode::Unsupported, model->card().path + " has no tokenizer, so it cannot chat");
    auto context = model->new_context(options.context);
    if (!context) return unexpected(context.error());
    std::unique_ptr<history::History> hist;
    if (options.history_db != ":none") {
        const std::string path = options.history_db.empty() ? AppPaths::resolve().history_db : options.history_db;
        if (auto dir = fs::path(path).parent_path(); !dir.empty()) {
            std::error_code ec;
            if (!fs::exists(dir, ec)) {
                fs::create_directories(dir, ec);
                if (ec) return unexpected(ErrorCode::Io, "cannot create " + dir.string() + ": " + ec.message());
                fs::permissions(dir, fs::perms::owner_all, ec);
            }
        }
        auto h = history::History::open(path);
        if (!h) return unexpected(h.error());
        hist = std::move(*h);
    }
    return std::unique_ptr<ChatService>(
        new ChatServiceImpl(std::move(model), options, std::move(*context), std::move(hist)));
}

} // namespace sigmaops
