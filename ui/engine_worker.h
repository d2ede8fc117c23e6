// engine_worker.h - the chat engine on its own thread (STYLE rule 11).
//
// EngineWorker owns the model and the ChatService. It is created without a parent, moved to a
// QThread owned by MainWindow, and driven only through queued signal/slot connections; its
// results come back as signals. The one exception is cancel(), which MainWindow calls directly
// from the UI thread: it only flips the ChatService's atomic cancel flag, under a mutex that
// guards the service pointer against being replaced at the same moment.
//
// Load: a model file is read once (seconds for a multi-GB file) and shared by the services made
// from it; changing sampling settings rebuilds the service, not the model.
#pragma once

#include <QMetaType>
#include <QObject>
#include <QString>
#include <QVector>

#include <llm/llm.h>

#include <memory>
#include <mutex>

namespace sigmaops { class ChatService; }

namespace sigmaops::ui {

// What the user can tune in Settings that reaches the engine. Copied across threads.
struct ChatSettings {
    QString history_db;          // empty: AppPaths default; ":none": keep no history
    double temperature = 0.7;    // <= 0: greedy
    int max_tokens = 512;        // reply length limit in tokens
    bool prefer_gpu = true;      // try CUDA first when built with it, fall back to the CPU
    int selective_v = 0;         // selective V fetching at decode: top-k V rows per head; 0 = off
};

// What the status bar and About show of a loaded model.
struct ModelSummary {
    QString path;
    QString name;                // general.name, or the file name when empty
    QString architecture;        // "sigma", "llama", "qwen2"
    QString device;              // "CPU" or "CUDA"
    QString device_note;         // why the GPU was not used when it was preferred ("" otherwise)
    QString chat_format;
    quint64 n_params = 0;
    double load_ms = 0;
};

// Timings of one finished reply.
struct ReplyStats {
    int n_prompt = 0;
    int n_decoded = 0;
    double prompt_tps = 0;
    double decode_tps = 0;       // tokens/s of the reply, shown in the status bar
    llm::StopReason stop = llm::StopReason::MaxTokens;   // llm::stop_reason_text() names it
    qint64 session_id = 0;       // history session the exchange was stored in (0: none)
};

// One turn of a conversation, for display.
struct Turn {
    QString role;                // "user" or "assistant"
    QString text;
};

class EngineWorker : public QObject {
    Q_OBJECT
public:
    EngineWorker();              // no parent: it is moved to its thread
    ~EngineWorker() override;

    // Thread-safe: stops a reply in progress (its partial text is kept and stored). Called directly
    // from the UI thread; a no-op when nothing is loaded.
    void cancel();
    // Thread-safe: the loaded model (null before one loads), shared with views that only read it
    // (llm::Model is immutable): the log view's "what the model saw" prompt.
    std::shared_ptr<const llm::Model> model() const;

public slots:
    // Sets what the next service is built with; rebuilds the current one (resuming its session)
    // when a model is loaded.
    void configure(const sigmaops::ui::ChatSettings& settings);
    // Loads `path` and builds a fresh conversation. Emits modelLoaded or loadFailed.
    void loadModel(const QString& path);
    // Sends one user message; streams token() and ends with replyFinished or error.
    void send(const QString& text);
    // Starts a new conversation; emits conversationReset.
    void newChat();
    // Continues history session `id`; emits conversationReset with its messages, or error.
    void resume(qint64 id);

signals:
    void modelLoaded(const sigmaops::ui::ModelSummary& info);
    void loadFailed(const QString& message);
    void token(const QString& piece);
    void replyFinished(const sigmaops::ui::ReplyStats& stats);
    void error(const QString& message);
    // The conversation now holds `turns` (empty for a new chat) and belongs to session `id` (0: new).
    void conversationReset(qint64 id, const QVector<sigmaops::ui::Turn>& turns);

private:
    bool rebuildService(QString* message);

    ChatSettings m_settings;
    std::shared_ptr<const llm::Model> m_model;
    mutable std::mutex m_model_mutex;           // guards m_model's pointer for model()
    std::mutex m_service_mutex;                 // guards m_service's pointer for cancel()
    std::unique_ptr<sigmaops::ChatService> m_service;
};

// Registers the types above for queued connections; called by EngineWorker's constructor.
void registerUiMetaTypes();

} // namespace sigmaops::ui

Q_DECLARE_METATYPE(sigmaops::ui::ChatSettings)
Q_DECLARE_METATYPE(sigmaops::ui::ModelSummary)
Q_DECLARE_METATYPE(sigmaops::ui::ReplyStats)
Q_DECLARE_METATYPE(sigmaops::ui::Turn)
