// engine_worker.cpp - see engine_worker.h. Everything here but cancel() runs on the worker thread.
#include "engine_worker.h"

#include <chat/chat.h>
#include <llm/llm.h>

#include <QFileInfo>

namespace sigmaops::ui {

namespace {

QString qs(const std::string& s) { return QString::fromUtf8(s.data(), static_cast<qsizetype>(s.size())); }

QVector<Turn> turnsOf(const std::vector<llm::Message>& conversation) {
    QVector<Turn> turns;
    for (const auto& m : conversation)
        if (m.role == "user" || m.role == "assistant")
            turns.push_back(Turn{qs(m.role), qs(m.content)});
    return turns;
}

} // namespace

void registerUiMetaTypes() {
    qRegisterMetaType<ChatSettings>("sigmaops::ui::ChatSettings");
    qRegisterMetaType<ModelSummary>("sigmaops::ui::ModelSummary");
    qRegisterMetaType<ReplyStats>("sigmaops::ui::ReplyStats");
    qRegisterMetaType<Turn>("sigmaops::ui::Turn");
    qRegisterMetaType<QVector<Turn>>("QVector<sigmaops::ui::Turn>");
}

EngineWorker::EngineWorker() : QObject(nullptr) { registerUiMetaTypes(); }

EngineWorker::~EngineWorker() = default;

std::shared_ptr<const llm::Model> EngineWorker::model() const {
    std::lock_guard<std::mutex> lock(m_model_mutex);
    return m_model;
}

void EngineWorker::cancel() {
    std::lock_guard lock(m_service_mutex);
    if (m_service) m_service->cancel();
}

bool EngineWorker::rebuildService(QString* message) {
    ChatOptions options;
    options.sampling.temperature = static_cast<float>(m_settings.temperature);
    options.sampling.max_tokens = m_settings.max_tokens;
    options.context.selective_v = m_settings.selective_v;
    options.history_db = m_settings.history_db.toStdString();
    auto service = ChatService::create(m_model, options);
    if (!service) {
        *message = qs(service.error().message);
        return false;
    }
    std::unique_ptr<ChatService> old;
    {
        std::lock_guard lock(m_service_mutex);
        old = std::move(m_service);
        m_service = std::move(service.value());
    }
    return true; // `old` closes its history connection here, outside the lock
}

void EngineWorker::configure(const ChatSettings& settings) {
    m_settings = settings;
    if (!m_model || !m_service) return;
    const int64_t session = m_service->session_id();
    QString message;
    if (!rebuildService(&message)) {
        emit error(tr("Applying settings failed: %1").arg(message));
        return;
    }
    if (session != 0) {
        if (auto r = m_service->resume(session); !r) {
            emit error(tr("Could not continue session %1: %2").arg(session).arg(qs(r.error().message)));
            emit conversationReset(0, {});
        }
    }
}

void EngineWorker::loadModel(const QString& path) {
    llm::LoadOptions options;
    options.device = m_settings.prefer_gpu ? llm::Device::Auto : llm::Device::Cpu;
    // An http(s):// URL is a remote OpenAI-compatible backend (its first model; the API key from
    // $SIGMAOPS_API_KEY or the keyring, `sigmaops backend set-key URL`), anything else a file.
    const bool remote = path.startsWith(QLatin1String("http://")) || path.startsWith(QLatin1String("https://"));
    llm::RemoteOptions ro;
    ro.url = path.toStdString();
    auto loaded = remote ? llm::load_remote(ro) : llm::load_local(path.toStdString(), options);
    if (!loaded) {
        emit loadFailed(qs(loaded.error().message));
        return;
    }
    std::shared_ptr<const llm::Model> previous = m_model;
    {
        std::lock_guard<std::mutex> lock(m_model_mutex);
        m_model = std::move(loaded->model);
    }
    QString message;
    if (!rebuildService(&message)) {
        std::lock_guard<std::mutex> lock(m_model_mutex);
        m_model = std::move(previous);
        emit loadFailed(message);
        return;
    }
    const llm::ModelCard& card = m_model->card();
    ModelSummary summary;
    summary.path = path;
    summary.name = card.name.empty() ? QFileInfo(path).completeBaseName() : qs(card.name);
    summary.architecture = qs(card.architecture);
    summary.device = card.backend == "cuda"     ? QStringLiteral("CUDA")
                     : card.backend == "remote" ? QStringLiteral("remote")
                                                : QStringLiteral("CPU");
    summary.device_note = qs(loaded->fallback_note);
    summary.chat_format = qs(card.chat_format);
    summary.n_params = card.n_params;
    summary.load_ms = card.load_ms;
    emit modelLoaded(summary);
    emit conversationReset(0, {});
}

void EngineWorker::send(const QString& text) {
    if (!m_service) {
        emit error(tr("No model is loaded. Use File > Open model... first."));
        return;
    }
    auto reply = m_service->send(text.toStdString(), [this](std::string_view piece) {
        emit token(QString::fromUtf8(piece.data(), static_cast<qsizetype>(piece.size())));
        return true;
    });
    if (!reply) {
        emit error(qs(reply.error().message));
        return;
    }
    ReplyStats stats;
    stats.n_prompt = reply->usage.n_prompt;
    stats.n_decoded = reply->usage.n_generated;
    stats.prompt_tps = reply->usage.prompt_tps();
    stats.decode_tps = reply->usage.decode_tps();
    stats.stop = reply->stop;
    stats.session_id = m_service->session_id();
    emit replyFinished(stats);
}

void EngineWorker::newChat() {
    if (m_service) m_service->new_conversation();
    emit conversationReset(0, {});
}

void EngineWorker::resume(qint64 id) {
    if (!m_service) return; // browsing history without a model: the UI shows it read-only
    if (auto r = m_service->resume(id); !r) {
        emit error(tr("Could not continue session %1: %2").arg(id).arg(qs(r.error().message)));
        return;
    }
    emit conversationReset(id, turnsOf(m_service->conversation()));
}

} // namespace sigmaops::ui
