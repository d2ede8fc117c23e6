// assistant.cpp - ChatService: model lookup, conversation state, streaming replies, history.
#include "assistant.h"

#include "history/history.h"

#include <algorithm>
#include <cstdlib>
#include <filesystem>
#include <mutex>
#include <sys/stat.h>

namespace fs = std::filesystem;

namespace sigmaops {

using sigma::ErrorCode;
using sigma::Expected;
using sigma::unexpected;

static std::string home_dir() {
    const char* h = std::getenv("HOME");
    return h && *h ? h : "/tmp";
}

static std::string xdg(const char* var, const char* fallback_under_home) {
    const char* v = std::getenv(var);
    if (v && *v && v[0] == '/') return v;   // XDG: relative paths are invalid and ignored
    return home_dir() + "/" + fallback_under_home;
}

AppPaths AppPaths::resolve() {
    AppPaths p;
    p.data_dir = xdg("XDG_DATA_HOME", ".local/share") + "/sigmaops";
    p.config_dir = xdg("XDG_CONFIG_HOME", ".config") + "/sigmaops";
    p.history_db = p.data_dir + "/history.db";
    return p;
}

std::string app_version() { return SIGMAOPS_VERSION; }

std::vector<std::string> model_search_paths() {
    std::vector<std::string> out;
    if (const char* env = std::getenv("SIGMAOPS_MODEL"); env && *env) out.push_back(env);
    out.push_back(AppPaths::resolve().data_dir + "/models");
    out.push_back(SIGMAOPS_SOURCE_MODELDIR);   // the shipped model (resources/models)
    out.push_back(SIGMAOPS_INSTALL_MODELDIR);
    out.push_back(SIGMAOPS_BUILD_MODELDIR);    // the development model the build writes
    return out;
}

Expected<std::string> find_model(const std::string& explicit_path) {
    if (!explicit_path.empty()) {
        std::error_code ec;
        if (!fs::is_regular_file(explicit_path, ec))
            return unexpected(ErrorCode::NotFound, "model file " + explicit_path + " not found (or not a regular file)");
        return explicit_path;
    }
    // A model asked for by name ($SIGMAOPS_MODEL) that is not there is an error: falling back to
    // another model would answer with one the user did not choose.
    if (const char* env = std::getenv("SIGMAOPS_MODEL"); env && *env) {
        std::error_code ec;
        const bool dir = fs::is_directory(env, ec);
        bool has_gguf = false;
        if (dir)
            for (const auto& e : fs::directory_iterator(env, ec))
                if (e.is_regular_file(ec) && e.path().extension() == ".gguf") has_gguf = true;
        if (!fs::is_regular_file(env, ec) && !has_gguf)
            return unexpected(ErrorCode::NotFound, std::string("SIGMAOPS_MODEL=") + env +
                                                       (dir ? ": no .gguf file in this directory" : ": no such model file") +
                                                       " (unset it to use the default model)");
    }
    std::string looked;
    for (const std::string& p : model_search_paths()) {
        looked += "\n  " + p;
        std::error_code ec;
        if (fs::is_regular_file(p, ec)) return p;
        if (!fs::is_directory(p, ec)) continue;
        std::vector<std::string> found;
        for (const auto& e : fs::directory_iterator(p, ec))
            if (e.is_regular_file(ec) && e.path().extension() == ".gguf") found.push_back(e.path().string());
        if (!found.empty()) {
            std::sort(found.begin(), found.end());
            return found.front();
        }
    }
    return unexpected(ErrorCode::NotFound,
                      "no model found. Looked in:" + looked +
                          "\nPass one with -m FILE.gguf (or --model), set SIGMAOPS_MODEL=FILE, "
                          "or copy a .gguf file into the first directory above.");
}

namespace {

class ChatServiceImpl final : public ChatService {
public:
    ChatServiceImpl(std::shared_ptr<sigma::Model> model, ChatOptions opt, std::unique_ptr<sigma::Session> session,
                    std::unique_ptr<history::History> hist)
        : m_model(std::move(model)), m_opt(std::move(opt)), m_session(std::move(session)), m_hist(std::move(hist)) {
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

    Expected<ChatReply> send(const std::string& user_text, const sigma::TokenCallback& on_text) override {
        m_cancel = false;
        if (user_text.empty()) return unexpected(ErrorCode::InvalidArgument, "empty message");
        m_conv.push_back({"user", user_text});
        auto prompt = m_model->format_chat(m_conv, true, m_opt.chat_format);
        if (!prompt) { m_conv.pop_back(); return unexpected(prompt.error()); }
        // Store the user's message before generating: nothing typed is lost if generation fails.
        if (m_hist) {
            if (m_session_id == 0) {
                std::string title = user_text.substr(0, 60);
                for (char& c : title) if (c == '\n' || c == '\r' || c == '\t') c = ' ';
                auto id = m_hist->create_session(title, m_model->info().name.empty() ? m_model->info().path
                                                                                      : m_model->info().name, "localhost");
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
        auto res = m_session->generate(*prompt, m_opt.sampling, cb, &m_cancel);
        if (!res) { m_conv.pop_back(); return unexpected(res.error()); }
        ChatReply reply;
        reply.text = res->text;
        size_t i = 0;
        while (i < reply.text.size() && (reply.text[i] == ' ' || reply.text[i] == '\n')) ++i;
        reply.text.erase(0, i);
        reply.timings = res->timings;
        reply.stop = res->stop;
        m_conv.push_back({"assistant", reply.text});
        if (m_hist) {
            history::MessageStats st;
            st.n_prompt_tokens = res->timings.n_prompt;
            st.n_tokens = res->timings.n_decoded;
            st.prompt_ms = res->timings.prompt_ms;
            st.decode_ms = res->timings.decode_ms;
            std::string stored = reply.text;
            if (reply.stop == sigma::StopReason::Cancelled) stored += "\n\n[stopped by the user]";
            if (auto r = m_hist->add_message(m_session_id, "assistant", stored, st); !r) return unexpected(r.error());
        }
        return reply;
    }

    void cancel() override { m_cancel = true; }
    int64_t session_id() const override { return m_session_id; }
    const std::vector<sigma::ChatMessage>& conversation() const override { return m_conv; }
    const sigma::ModelInfo& model_info() const override { return m_model->info(); }

private:
    std::shared_ptr<sigma::Model> m_model;
    ChatOptions m_opt;
    std::unique_ptr<sigma::Session> m_session;
    std::unique_ptr<history::History> m_hist;
    std::vector<sigma::ChatMessage> m_conv;
    int64_t m_session_id = 0;
    std::atomic<bool> m_cancel{false};
};

} // namespace

Expected<std::unique_ptr<ChatService>> ChatService::create(std::shared_ptr<sigma::Model> model, const ChatOptions& options) {
    if (!model) return unexpected(ErrorCode::InvalidArgument, "no model");
    if (!model->info().has_tokenizer)
        return unexpected(ErrorCode::Unsupported, model->info().path + " has no tokenizer, so it cannot chat");
    auto session = model->new_session(options.session);
    if (!session) return unexpected(session.error());
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
        new ChatServiceImpl(std::move(model), options, std::move(*session), std::move(hist)));
}

} // namespace sigmaops
