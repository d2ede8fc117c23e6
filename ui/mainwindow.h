// mainwindow.h - the SigmaOps desktop window: past sessions on the left, the transcript and the
// input on the right, model/device/speed in the status bar.
//
// Threads: the engine runs in EngineWorker on m_thread (STYLE rule 11). This window talks to it
// only through the request* signals (queued) and hears back through its signals; Stop calls
// EngineWorker::cancel() directly (thread-safe). The destructor cancels, quits and joins m_thread.
// History: the sessions list reads through its own connection (SessionsModel); the worker's
// ChatService writes. A damaged database is offered to be moved aside, or the app runs without history.
#pragma once

#include "engine_worker.h"
#include "settings_dialog.h"

#include <QMainWindow>
#include <QThread>

#include <atomic>
#include <memory>

class QLabel;
class QListView;
class QPlainTextEdit;
class QPushButton;
class QStackedWidget;

namespace sigmaops::ui {

class LogView;
class SessionsModel;
class TranscriptView;

// What the command line asks of the window (app/desktop_main.cpp).
struct StartOptions {
    QString model_path;          // -m FILE: wins over Settings and the search paths
    QString history_path;        // --history FILE: wins over Settings and the default
    QString demo_prompt;         // --demo-prompt TEXT: sent as soon as the model is loaded
    QString screenshot_path;     // --screenshot FILE: grab the window when idle, save, quit
    bool use_settings = true;    // false: ignore (and never write) QSettings, for tests
};

class MainWindow : public QMainWindow {
    Q_OBJECT
public:
    explicit MainWindow(const StartOptions& options, QWidget* parent = nullptr);
    ~MainWindow() override;

    // Opens the history and loads the model (or shows the no-model panel). Call once, after show().
    void start();

    // For tests and the screenshot flag.
    bool modelReady() const { return m_model_ready; }
    bool busy() const { return m_busy; }
    QString noModelText() const;            // the no-model panel's text, "" when hidden
    SessionsModel* sessionsModel() const { return m_sessions; }
    TranscriptView* transcript() const { return m_transcript; }
    QString historyPath() const { return m_history_path; }

signals:
    void requestConfigure(const sigmaops::ui::ChatSettings& settings);
    void requestLoad(const QString& path);
    void requestSend(const QString& text);
    void requestNewChat();
    void requestResume(qint64 id);
    // Emitted when the window is idle after start (model loaded or the no-model panel shown) and
    // after each reply; the screenshot flag hooks here.
    void idle();
    // An approved command (runFromAnswer) finished; its result is the transcript's last notice.
    void commandFinished();

public slots:
    void sendInput();
    void stop();
    void newChat();
    void openModel();
    void showSettings();
    void showAbout();
    // Commands > Run a command from the answer (Ctrl+Shift+R): a command of the last answer (picked
    // when it shows several) through the approval dialog (approval_dialog.h), then run on this
    // machine on its own thread; the result is a notice in the transcript. Stop cancels it.
    void runFromAnswer();
    // File > Diagnose logs... (Ctrl+L): the log view (log_view.h) in its own window, given the
    // loaded model for its "what the model saw" tab, then its file dialog.
    void diagnoseLogs();

private slots:
    void onModelLoaded(const sigmaops::ui::ModelSummary& info);
    void onLoadFailed(const QString& message);
    void onToken(const QString& piece);
    void onReplyFinished(const sigmaops::ui::ReplyStats& stats);
    void onError(const QString& message);
    void onConversationReset(qint64 id, const QVector<sigmaops::ui::Turn>& turns);
    void onSessionActivated(const QModelIndex& index);

protected:
    bool eventFilter(QObject* watched, QEvent* event) override;

private:
    void buildUi();
    void buildMenus();
    void openHistory();
    void loadModel(const QString& path);
    void showNoModel(const QString& reason);
    void setBusy(bool busy);
    void selectSession(qint64 id);
    void refreshSessions();
    ChatSettings effectiveChatSettings() const;
    void maybeScreenshot();

    StartOptions m_options;
    DesktopSettings m_settings;
    QString m_history_path;      // the database in use; ":none" when running without history
    bool m_model_ready = false;
    bool m_busy = false;
    qint64 m_current_session = 0;

    QThread m_thread;
    EngineWorker* m_worker = nullptr;   // lives on m_thread; deleted there when it finishes

    SessionsModel* m_sessions = nullptr;
    LogView* m_log_view = nullptr;     // made on first use; a child window of this one
    QListView* m_sessions_view = nullptr;
    QStackedWidget* m_stack = nullptr;
    QWidget* m_no_model_page = nullptr;
    QLabel* m_no_model_label = nullptr;
    QWidget* m_chat_page = nullptr;
    TranscriptView* m_transcript = nullptr;
    QPlainTextEdit* m_input = nullptr;
    QPushButton* m_send_button = nullptr;
    QPushButton* m_stop_button = nullptr;
    QLabel* m_model_status = nullptr;
    QLabel* m_device_status = nullptr;
    QLabel* m_speed_status = nullptr;
    QThread* m_run_thread = nullptr;                 // an approved command running, or null
    std::shared_ptr<std::atomic<bool>> m_run_cancel; // set to stop it (Stop, closing the window)
};

} // namespace sigmaops::ui
