// test_ui_worker.cpp - EngineWorker on a real QThread with a real tiny model (random weights, a
// real SentencePiece tokenizer): the reply streams as token() signals, ends with replyFinished,
// and the exchange lands in the history database; Stop cancels mid-reply; resume reloads a
// session; and the whole window sends a message and shuts its thread down mid-reply.
#include "test_ui_util.h"

#include <engine_worker.h>
#include <history/history.h>
#include <mainwindow.h>
#include <sessions_model.h>
#include <tiny_model.h>
#include <transcript_view.h>

#include <catch2/catch.hpp>

#include <QKeyEvent>
#include <QPlainTextEdit>

using namespace sigmaops::ui;

namespace {

QString writeModel(const uitest::TempHome& home) {
    const QString path = home.file("tiny.gguf");
    sigma::testing::TinyModelSpec spec;
    spec.spm_model = SIGMAOPS_FIXTURES "/tokenizer/spm.model";
    spec.name = "sigma-tiny-ui";
    sigma::testing::write_tiny_model(path.toStdString(), spec);
    return path;
}

// A worker on its own thread, the way MainWindow runs it, with everything it emits recorded.
struct WorkerRig {
    QThread thread;
    EngineWorker* worker = new EngineWorker;   // no parent; deleted on its thread when it finishes
    QObject receiver;                          // lives on the test (UI) thread: queued delivery
    QStringList pieces;
    QVector<ReplyStats> finished;
    QStringList errors;
    QStringList loadErrors;
    QVector<ModelSummary> loaded;
    QVector<QPair<qint64, QVector<Turn>>> resets;
    Qt::HANDLE tokenThread = nullptr;

    WorkerRig() {
        worker->moveToThread(&thread);
        QObject::connect(&thread, &QThread::finished, worker, &QObject::deleteLater);
        QObject::connect(worker, &EngineWorker::token, &receiver, [this](const QString& p) {
            pieces << p;
            tokenThread = QThread::currentThreadId();
        });
        QObject::connect(worker, &EngineWorker::replyFinished, &receiver, [this](const ReplyStats& s) { finished << s; });
        QObject::connect(worker, &EngineWorker::error, &receiver, [this](const QString& e) { errors << e; });
        QObject::connect(worker, &EngineWorker::loadFailed, &receiver, [this](const QString& e) { loadErrors << e; });
        QObject::connect(worker, &EngineWorker::modelLoaded, &receiver, [this](const ModelSummary& m) { loaded << m; });
        QObject::connect(worker, &EngineWorker::conversationReset, &receiver,
                         [this](qint64 id, const QVector<Turn>& t) { resets.push_back({id, t}); });
        thread.start();
    }
    ~WorkerRig() {
        worker->cancel();
        thread.quit();
        thread.wait();
    }
    template <typename... Args>
    void call(const char* slot, Args&&... args) {
        REQUIRE(QMetaObject::invokeMethod(worker, slot, Qt::QueuedConnection, std::forward<Args>(args)...));
    }
};

} // namespace

TEST_CASE("the worker streams a reply from a real model through its thread into the history", "[ui][worker]") {
    uitest::app();
    uitest::TempHome home;
    const QString model = writeModel(home);
    const QString db = home.file("history.db");

    WorkerRig rig;
    ChatSettings settings;
    settings.history_db = db;
    settings.temperature = 0;     // greedy: deterministic
    settings.max_tokens = 24;
    rig.call("configure", Q_ARG(sigmaops::ui::ChatSettings, settings));
    rig.call("loadModel", Q_ARG(QString, model));
    REQUIRE(uitest::waitFor([&] { return !rig.loaded.isEmpty() || !rig.loadErrors.isEmpty(); }, 30000));
    REQUIRE(rig.loadErrors.isEmpty());
    CHECK(rig.loaded[0].name == "sigma-tiny-ui");
    CHECK(rig.loaded[0].architecture == "sigma");
    CHECK(rig.loaded[0].device == "CPU");

    rig.call("send", Q_ARG(QString, "Why is my disk full?"));
    REQUIRE(uitest::waitFor([&] { return !rig.finished.isEmpty() || !rig.errors.isEmpty(); }, 60000));
    REQUIRE(rig.errors.isEmpty());
    const ReplyStats stats = rig.finished[0];
    CHECK(stats.n_decoded > 0);
    CHECK(stats.n_decoded <= 24);
    CHECK(stats.decode_tps > 0);
    CHECK(stats.n_prompt > 0);
    REQUIRE(stats.session_id != 0);
    CHECK(rig.tokenThread == QThread::currentThreadId());  // delivered queued, on the UI thread
    if (stats.stop != sigmaops::llm::StopReason::EndOfText) CHECK_FALSE(rig.pieces.isEmpty());
    const QString streamed = rig.pieces.join(QString());

    // The exchange is in the database, readable through another connection.
    SessionsModel sessions;
    REQUIRE(sessions.open(db));
    REQUIRE(sessions.rowCount() == 1);
    CHECK(sessions.index(0).data(SessionsModel::IdRole).toLongLong() == stats.session_id);
    auto turns = sessions.messages(stats.session_id);
    REQUIRE(turns);
    REQUIRE(turns->size() == 2);
    CHECK((*turns)[0].role == "user");
    CHECK((*turns)[0].text == "Why is my disk full?");
    CHECK((*turns)[1].role == "assistant");
    CHECK((*turns)[1].text == streamed);

    // New chat, then resume: the worker reloads the session and reports its turns.
    rig.call("newChat");
    rig.call("resume", Q_ARG(qint64, stats.session_id));
    REQUIRE(uitest::waitFor([&] {
        return std::any_of(rig.resets.begin(), rig.resets.end(), [&](const auto& r) { return r.first == stats.session_id; });
    }, 10000));
    const auto& resumed = rig.resets.back();
    CHECK(resumed.first == stats.session_id);
    REQUIRE(resumed.second.size() == 2);
    CHECK(resumed.second[1].text == streamed);

    // A second message continues the same session.
    rig.call("send", Q_ARG(QString, "And /var/log?"));
    REQUIRE(uitest::waitFor([&] { return rig.finished.size() == 2 || !rig.errors.isEmpty(); }, 60000));
    REQUIRE(rig.errors.isEmpty());
    CHECK(rig.finished[1].session_id == stats.session_id);
    REQUIRE(sessions.refresh());
    CHECK(sessions.rowCount() == 1);
    CHECK(sessions.index(0).data(SessionsModel::MessageCountRole).toLongLong() == 4);
}

TEST_CASE("Stop cancels a reply in progress from the UI thread", "[ui][worker]") {
    uitest::app();
    uitest::TempHome home;
    const QString model = writeModel(home);
    WorkerRig rig;
    ChatSettings settings;
    settings.history_db = home.file("history.db");
    settings.temperature = 0;     // greedy: this prompt runs on without end-of-text on the tiny model
    settings.max_tokens = 400;    // within the tiny model's 512-token context
    rig.call("configure", Q_ARG(sigmaops::ui::ChatSettings, settings));
    rig.call("loadModel", Q_ARG(QString, model));
    REQUIRE(uitest::waitFor([&] { return !rig.loaded.isEmpty() || !rig.loadErrors.isEmpty(); }, 30000));
    REQUIRE(rig.loadErrors.isEmpty());
    rig.call("send", Q_ARG(QString, "Tell me everything about systemd."));
    uitest::waitFor([&] { return !rig.pieces.isEmpty() || !rig.finished.isEmpty(); }, 30000);
    rig.worker->cancel();  // direct call from this (UI) thread
    REQUIRE(uitest::waitFor([&] { return !rig.finished.isEmpty() || !rig.errors.isEmpty(); }, 30000));
    REQUIRE(rig.errors.isEmpty());
    INFO("stop reason: " << sigmaops::llm::stop_reason_text(rig.finished[0].stop) << ", tokens: " << rig.finished[0].n_decoded);
    // Greedy on this prompt runs all 400 tokens without end-of-text, so only Stop ends it early.
    CHECK(rig.finished[0].stop == sigmaops::llm::StopReason::Cancelled);
    CHECK(rig.finished[0].n_decoded < 400);
    // The partial reply is kept in the history.
    SessionsModel sessions;
    REQUIRE(sessions.open(settings.history_db));
    auto turns = sessions.messages(rig.finished[0].session_id);
    REQUIRE(turns);
    REQUIRE(turns->size() == 2);
    CHECK((*turns)[1].role == "assistant");
    CHECK((*turns)[1].text.startsWith(rig.pieces.join(QString())));
}

TEST_CASE("the window loads a model, sends, lists the session, and joins its thread mid-reply", "[ui][worker]") {
    uitest::app();
    uitest::TempHome home;
    StartOptions options;
    options.model_path = writeModel(home);
    options.history_path = home.file("history.db");
    options.use_settings = false;
    {
        MainWindow window(options);
        window.show();
        window.start();
        REQUIRE(uitest::waitFor([&] { return window.modelReady(); }, 30000));
        CHECK(window.noModelText().isEmpty());
        auto* input = window.findChild<QPlainTextEdit*>("input");
        REQUIRE(input);
        input->setPlainText("How do I list failed units?");
        QKeyEvent enter(QEvent::KeyPress, Qt::Key_Return, Qt::NoModifier);
        QApplication::sendEvent(input, &enter);   // plain Enter: a newline, not a send
        CHECK_FALSE(window.busy());
        QKeyEvent ctrlEnter(QEvent::KeyPress, Qt::Key_Return, Qt::ControlModifier);
        QApplication::sendEvent(input, &ctrlEnter);
        CHECK(window.busy());
        REQUIRE(uitest::waitFor([&] { return !window.busy(); }, 60000));
        REQUIRE(window.transcript()->turns().size() == 2);
        CHECK(window.transcript()->turns()[0].text == "How do I list failed units?");
        CHECK(window.sessionsModel()->rowCount() == 1);
        CHECK(window.transcript()->toPlainText().contains("tok/s"));

        // Leave with a reply in flight: the destructor cancels, quits and joins the engine thread.
        input->setPlainText("Another question");
        window.sendInput();
        CHECK(window.busy());
        uitest::waitFor([] { return false; }, 100);
    }
    SUCCEED("window destroyed with a reply in flight");
}

TEST_CASE("the desktop's selective V setting reaches the engine", "[ui][worker]") {
    uitest::app();
    uitest::TempHome home;
    const QString model = writeModel(home);
    // The same greedy prompt with selective V off and with k = 1 (each head reads one V row of
    // the prompt's dozens): on this deterministic tiny model the replies differ, which shows the
    // setting travelled from ChatSettings through ChatService and llm.h to the engine's session.
    std::vector<QString> replies;
    for (int k : {0, 1}) {
        WorkerRig rig;
        ChatSettings settings;
        settings.history_db = QStringLiteral(":none");
        settings.temperature = 0;
        settings.max_tokens = 24;
        settings.selective_v = k;
        rig.call("configure", Q_ARG(sigmaops::ui::ChatSettings, settings));
        rig.call("loadModel", Q_ARG(QString, model));
        REQUIRE(uitest::waitFor([&] { return !rig.loaded.isEmpty() || !rig.loadErrors.isEmpty(); }, 30000));
        REQUIRE(rig.loadErrors.isEmpty());
        rig.call("send", Q_ARG(QString, "Why is the disk full on web2?"));
        REQUIRE(uitest::waitFor([&] { return !rig.finished.isEmpty() || !rig.errors.isEmpty(); }, 30000));
        INFO("selective_v " << k << ": " << (rig.errors.isEmpty() ? "" : rig.errors[0].toStdString()));
        REQUIRE(rig.errors.isEmpty());
        CHECK(rig.finished[0].n_decoded > 0);
        replies.push_back(rig.pieces.join(QString()));
    }
    REQUIRE(replies.size() == 2);
    INFO("off: " << replies[0].toStdString() << "\nk=1: " << replies[1].toStdString());
    CHECK(replies[0] != replies[1]);
}
