// mainwindow.cpp - see mainwindow.h.
#include "mainwindow.h"

#include "approval_dialog.h"
#include "command_notes.h"
#include "log_view.h"

#include "session_delegate.h"
#include "sessions_model.h"
#include "transcript_view.h"

#include <base/paths.h>
#include <commands/commands.h>
#include <knowledge/knowledge.h>
#include <history/history.h>
#include <llm/llm.h>

#include <QAction>
#include <QApplication>
#include <QFileDialog>
#include <QFileInfo>
#include <QHBoxLayout>
#include <QInputDialog>
#include <QItemSelectionModel>
#include <QKeyEvent>
#include <QKeySequence>
#include <QLabel>
#include <QListView>
#include <QMenuBar>
#include <QMessageBox>
#include <QPlainTextEdit>
#include <QPushButton>
#include <QShortcut>
#include <QSplitter>
#include <QStackedWidget>
#include <QStatusBar>
#include <QTextDocument>
#include <QTimer>
#include <QLocale>
#include <QSignalBlocker>
#include <QVBoxLayout>

namespace sigmaops::ui {

namespace {
QString qs(const std::string& s) { return QString::fromUtf8(s.data(), static_cast<qsizetype>(s.size())); }
const QString kNoHistory = QStringLiteral(":none");
} // namespace

MainWindow::MainWindow(const StartOptions& options, QWidget* parent)
    : QMainWindow(parent), m_options(options) {
    registerUiMetaTypes();
    if (m_options.use_settings) m_settings = DesktopSettings::load();
    setWindowTitle(tr("SigmaOps"));
    resize(1180, 760);

    buildUi();
    buildMenus();

    // The worker: no parent, moved to its thread, deleted there when the thread finishes.
    m_worker = new EngineWorker;
    m_worker->moveToThread(&m_thread);
    connect(&m_thread, &QThread::finished, m_worker, &QObject::deleteLater);
    connect(this, &MainWindow::requestConfigure, m_worker, &EngineWorker::configure, Qt::QueuedConnection);
    connect(this, &MainWindow::requestLoad, m_worker, &EngineWorker::loadModel, Qt::QueuedConnection);
    connect(this, &MainWindow::requestSend, m_worker, &EngineWorker::send, Qt::QueuedConnection);
    connect(this, &MainWindow::requestNewChat, m_worker, &EngineWorker::newChat, Qt::QueuedConnection);
    connect(this, &MainWindow::requestResume, m_worker, &EngineWorker::resume, Qt::QueuedConnection);
    connect(m_worker, &EngineWorker::modelLoaded, this, &MainWindow::onModelLoaded, Qt::QueuedConnection);
    connect(m_worker, &EngineWorker::loadFailed, this, &MainWindow::onLoadFailed, Qt::QueuedConnection);
    connect(m_worker, &EngineWorker::token, this, &MainWindow::onToken, Qt::QueuedConnection);
    connect(m_worker, &EngineWorker::replyFinished, this, &MainWindow::onReplyFinished, Qt::QueuedConnection);
    connect(m_worker, &EngineWorker::error, this, &MainWindow::onError, Qt::QueuedConnection);
    connect(m_worker, &EngineWorker::conversationReset, this, &MainWindow::onConversationReset, Qt::QueuedConnection);
    m_thread.setObjectName(QStringLiteral("sigmaops-engine"));
    m_thread.start();

    if (!m_options.screenshot_path.isEmpty())
        connect(this, &MainWindow::idle, this, &MainWindow::maybeScreenshot, Qt::QueuedConnection);
}

MainWindow::~MainWindow() {
    if (m_run_thread) {   // a running command is stopped (its process group killed) and joined
        m_run_cancel->store(true);
        m_run_thread->wait();
        delete m_run_thread;
    }
    m_worker->cancel();   // a reply in progress returns at its next token
    m_thread.quit();
    m_thread.wait();      // the worker (and its ChatService, model, history connection) is gone after this
}

void MainWindow::buildUi() {
    // Left: past sessions.
    auto* left = new QWidget(this);
    auto* leftLayout = new QVBoxLayout(left);
    leftLayout->setContentsMargins(8, 8, 4, 8);
    auto* newButton = new QPushButton(tr("+  New chat"), left);
    newButton->setToolTip(tr("Start a new conversation (Ctrl+N)"));
    connect(newButton, &QPushButton::clicked, this, &MainWindow::newChat);
    auto* historyLabel = new QLabel(tr("History"), left);
    QFont hf = historyLabel->font();
    hf.setBold(true);
    historyLabel->setFont(hf);
    m_sessions = new SessionsModel(this);
    m_sessions_view = new QListView(left);
    m_sessions_view->setObjectName(QStringLiteral("sessionsView"));
    m_sessions_view->setModel(m_sessions);
    m_sessions_view->setSelectionMode(QAbstractItemView::SingleSelection);
    m_sessions_view->setEditTriggers(QAbstractItemView::NoEditTriggers);
    m_sessions_view->setTextElideMode(Qt::ElideRight);
    m_sessions_view->setUniformItemSizes(true);
    m_sessions_view->setItemDelegate(new SessionDelegate(m_sessions_view));
    m_sessions_view->setHorizontalScrollBarPolicy(Qt::ScrollBarAlwaysOff);
    m_sessions_view->setResizeMode(QListView::Adjust);
    m_sessions_view->setMouseTracking(true);
    m_sessions_view->setFrameShape(QFrame::NoFrame);
    m_sessions_view->setStyleSheet(QStringLiteral("QListView { background: #f3f4f6; border: none; }"));
    connect(m_sessions_view->selectionModel(), &QItemSelectionModel::currentChanged, this,
            [this](const QModelIndex& current) { onSessionActivated(current); });
    leftLayout->addWidget(newButton);
    leftLayout->addSpacing(6);
    leftLayout->addWidget(historyLabel);
    leftLayout->addWidget(m_sessions_view, 1);
    left->setStyleSheet(QStringLiteral("background: #f3f4f6;"));

    // Right, page 1: transcript + input.
    m_chat_page = new QWidget(this);
    auto* chatLayout = new QVBoxLayout(m_chat_page);
    chatLayout->setContentsMargins(0, 0, 0, 0);
    chatLayout->setSpacing(0);
    m_transcript = new TranscriptView(m_chat_page);
    m_transcript->setObjectName(QStringLiteral("transcript"));
    auto* inputRow = new QWidget(m_chat_page);
    inputRow->setObjectName(QStringLiteral("inputRow"));
    inputRow->setStyleSheet(QStringLiteral("#inputRow { border-top: 1px solid #d5dae1; }"));
    auto* inputLayout = new QHBoxLayout(inputRow);
    inputLayout->setContentsMargins(12, 10, 12, 10);
    m_input = new QPlainTextEdit(inputRow);
    m_input->setObjectName(QStringLiteral("input"));
    m_input->setPlaceholderText(tr("Describe the problem or paste a log excerpt...   (Ctrl+Enter to send)"));
    m_input->setTabChangesFocus(true);
    m_input->setFixedHeight(92);
    auto* buttons = new QVBoxLayout;
    m_send_button = new QPushButton(tr("Send"), inputRow);
    m_send_button->setToolTip(tr("Send (Ctrl+Enter)"));
    m_send_button->setDefault(true);
    m_send_button->setMinimumWidth(96);
    m_stop_button = new QPushButton(tr("Stop"), inputRow);
    m_stop_button->setToolTip(tr("Stop the reply (Esc)"));
    m_stop_button->setEnabled(false);
    m_stop_button->setMinimumWidth(96);
    buttons->addWidget(m_send_button);
    buttons->addWidget(m_stop_button);
    buttons->addStretch();
    inputLayout->addWidget(m_input, 1);
    inputLayout->addLayout(buttons);
    chatLayout->addWidget(m_transcript, 1);
    chatLayout->addWidget(inputRow);
    connect(m_send_button, &QPushButton::clicked, this, &MainWindow::sendInput);
    connect(m_stop_button, &QPushButton::clicked, this, &MainWindow::stop);
    m_input->installEventFilter(this);  // Ctrl+Enter sends (see eventFilter)
    auto* esc = new QShortcut(QKeySequence(Qt::Key_Escape), this);
    connect(esc, &QShortcut::activated, this, &MainWindow::stop);

    // Right, page 0: no model.
    m_no_model_page = new QWidget(this);
    auto* nm = new QVBoxLayout(m_no_model_page);
    nm->setContentsMargins(48, 40, 48, 40);
    auto* nmTitle = new QLabel(tr("No model loaded"), m_no_model_page);
    QFont tf = nmTitle->font();
    tf.setPointSizeF(tf.pointSizeF() * 1.5);
    tf.setBold(true);
    nmTitle->setFont(tf);
    m_no_model_label = new QLabel(m_no_model_page);
    m_no_model_label->setObjectName(QStringLiteral("noModelText"));
    m_no_model_label->setWordWrap(true);
    m_no_model_label->setTextFormat(Qt::RichText);
    m_no_model_label->setTextInteractionFlags(Qt::TextSelectableByMouse);
    auto* openButton = new QPushButton(tr("Open model..."), m_no_model_page);
    openButton->setObjectName(QStringLiteral("openModelButton"));
    openButton->setMinimumWidth(160);
    connect(openButton, &QPushButton::clicked, this, &MainWindow::openModel);
    nm->addWidget(nmTitle);
    nm->addSpacing(12);
    nm->addWidget(m_no_model_label);
    nm->addSpacing(16);
    nm->addWidget(openButton, 0, Qt::AlignLeft);
    nm->addStretch();

    m_stack = new QStackedWidget(this);
    m_stack->addWidget(m_no_model_page);
    m_stack->addWidget(m_chat_page);
    m_stack->setCurrentWidget(m_chat_page);

    auto* splitter = new QSplitter(this);
    splitter->addWidget(left);
    splitter->addWidget(m_stack);
    splitter->setStretchFactor(0, 0);
    splitter->setStretchFactor(1, 1);
    splitter->setSizes({270, 910});
    splitter->setChildrenCollapsible(false);
    setCentralWidget(splitter);

    m_model_status = new QLabel(tr("no model"), this);
    m_device_status = new QLabel(this);
    m_speed_status = new QLabel(this);
    m_model_status->setObjectName(QStringLiteral("modelStatus"));
    m_device_status->setObjectName(QStringLiteral("deviceStatus"));
    m_speed_status->setObjectName(QStringLiteral("speedStatus"));
    for (QLabel* l : {m_model_status, m_device_status, m_speed_status}) l->setContentsMargins(8, 0, 8, 0);
    statusBar()->addPermanentWidget(m_model_status);
    statusBar()->addPermanentWidget(m_device_status);
    statusBar()->addPermanentWidget(m_speed_status);
    m_input->setEnabled(false);
    m_send_button->setEnabled(false);
}

bool MainWindow::eventFilter(QObject* watched, QEvent* event) {
    // Ctrl+Enter in the input sends; plain Enter inserts a newline (multi-line questions, pasted logs).
    if (watched == m_input && event->type() == QEvent::KeyPress) {
        auto* key = static_cast<QKeyEvent*>(event);
        if ((key->key() == Qt::Key_Return || key->key() == Qt::Key_Enter) && (key->modifiers() & Qt::ControlModifier)) {
            sendInput();
            return true;
        }
    }
    return QMainWindow::eventFilter(watched, event);
}

void MainWindow::buildMenus() {
    QMenu* file = menuBar()->addMenu(tr("&File"));
    QAction* newAct = file->addAction(tr("&New chat"), this, &MainWindow::newChat);
    newAct->setShortcut(QKeySequence::New);
    QAction* openAct = file->addAction(tr("&Open model..."), this, &MainWindow::openModel);
    openAct->setShortcut(QKeySequence::Open);
    QAction* logsAct = file->addAction(tr("&Diagnose logs..."), this, &MainWindow::diagnoseLogs);
    logsAct->setShortcut(QKeySequence(Qt::CTRL | Qt::Key_L));
    file->addSeparator();
    QAction* settingsAct = file->addAction(tr("&Settings..."), this, &MainWindow::showSettings);
    settingsAct->setShortcut(QKeySequence(Qt::CTRL | Qt::Key_Comma));
    file->addSeparator();
    QAction* quitAct = file->addAction(tr("&Quit"), this, &QWidget::close);
    quitAct->setShortcut(QKeySequence::Quit);
    QMenu* cmds = menuBar()->addMenu(tr("&Commands"));
    QAction* runAct = cmds->addAction(tr("&Run a command from the answer..."), this, &MainWindow::runFromAnswer);
    runAct->setShortcut(QKeySequence(Qt::CTRL | Qt::SHIFT | Qt::Key_R));
    QMenu* help = menuBar()->addMenu(tr("&Help"));
    help->addAction(tr("&About SigmaOps"), this, &MainWindow::showAbout);
}

ChatSettings MainWindow::effectiveChatSettings() const {
    ChatSettings c = m_settings.chat;
    c.history_db = m_history_path;
    return c;
}

void MainWindow::start() {
    openHistory();
    emit requestConfigure(effectiveChatSettings());

    QString explicitPath = m_options.model_path.isEmpty() ? m_settings.model_path : m_options.model_path;
    if (explicitPath.startsWith(QLatin1String("http://")) || explicitPath.startsWith(QLatin1String("https://"))) {
        loadModel(explicitPath);   // a remote backend's URL (Settings: "Model file or backend URL")
        return;
    }
    auto found = llm::find_model(explicitPath.toStdString());
    if (!found) {
        showNoModel(qs(found.error().message));
        return;
    }
    loadModel(qs(found.value()));
}

void MainWindow::openHistory() {
    m_history_path = !m_options.history_path.isEmpty() ? m_options.history_path
                     : !m_settings.chat.history_db.isEmpty() ? m_settings.chat.history_db
                                                            : qs(AppPaths::resolve().history_db);
    if (m_history_path == kNoHistory) return;
    auto opened = m_sessions->open(m_history_path);
    if (opened) return;

    const sigmaops::Error err = opened.error();
    if (err.code == sigmaops::ErrorCode::BadFile) {
        QMessageBox box(QMessageBox::Warning, tr("History database damaged"),
                        tr("The history database could not be read:\n\n%1\n\n"
                           "You can move it aside (it is renamed, not deleted) and start a fresh one, "
                           "or continue without history for this run.")
                            .arg(qs(err.message)),
                        QMessageBox::NoButton, this);
        QPushButton* moveButton = box.addButton(tr("Move aside and start fresh"), QMessageBox::AcceptRole);
        box.addButton(tr("Continue without history"), QMessageBox::RejectRole);
        box.setDefaultButton(moveButton);
        box.exec();
        if (box.clickedButton() == moveButton) {
            auto moved = history::move_aside(m_history_path.toStdString());
            if (moved) {
                statusBar()->showMessage(tr("Damaged history moved to %1").arg(qs(moved.value())), 15000);
                if (m_sessions->open(m_history_path)) return;
            } else {
                QMessageBox::warning(this, tr("History"),
                                     tr("Could not move the database aside: %1").arg(qs(moved.error().message)));
            }
        }
    } else {
        QMessageBox::warning(this, tr("History unavailable"),
                             tr("The history database could not be opened:\n\n%1\n\n"
                                "SigmaOps continues without history for this run.")
                                 .arg(qs(err.message)));
    }
    m_history_path = kNoHistory;
    statusBar()->showMessage(tr("Running without history"), 15000);
}

void MainWindow::loadModel(const QString& path) {
    m_model_ready = false;
    m_stack->setCurrentWidget(m_chat_page);
    m_input->setEnabled(false);
    m_send_button->setEnabled(false);
    m_model_status->setText(tr("loading %1...").arg(QFileInfo(path).fileName()));
    statusBar()->showMessage(tr("Loading %1...").arg(path));
    emit requestLoad(path);
}

void MainWindow::showNoModel(const QString& reason) {
    QString why = reason;
    if (!why.isEmpty()) why[0] = why[0].toUpper();
    QString paths;
    for (const std::string& p : llm::model_search_paths())
        paths += QStringLiteral("<li><code>%1</code></li>").arg(qs(p).toHtmlEscaped());
    m_no_model_label->setText(
        tr("<p>%1</p>"
           "<p>SigmaOps looks for a <b>.gguf</b> model file in these places, in this order:</p><ul>%2</ul>"
           "<p>Copy a model into one of them, set <code>SIGMAOPS_MODEL=/path/to/model.gguf</code>, "
           "start with <code>sigmaops-desktop -m FILE</code>, or open one now.</p>")
            .arg(why.toHtmlEscaped().replace('\n', QStringLiteral("<br>")), paths));
    m_stack->setCurrentWidget(m_no_model_page);
    m_model_status->setText(tr("no model"));
    m_device_status->clear();
    m_input->setEnabled(false);
    m_send_button->setEnabled(false);
    emit idle();
}

QString MainWindow::noModelText() const {
    if (m_stack->currentWidget() != m_no_model_page) return {};
    QTextDocument doc;
    doc.setHtml(m_no_model_label->text());
    return doc.toPlainText();
}

void MainWindow::onModelLoaded(const ModelSummary& info) {
    m_model_ready = true;
    m_stack->setCurrentWidget(m_chat_page);
    m_input->setEnabled(true);
    m_send_button->setEnabled(true);
    m_input->setFocus();
    m_model_status->setText(tr("Model: %1").arg(info.name));
    m_model_status->setToolTip(tr("%1\n%2, %3 parameters, chat format %4, loaded in %5 ms")
                                   .arg(info.path, info.architecture)
                                   .arg(QLocale().toString(static_cast<qulonglong>(info.n_params)))
                                   .arg(info.chat_format.isEmpty() ? tr("default") : info.chat_format)
                                   .arg(info.load_ms, 0, 'f', 0));
    m_device_status->setText(tr("Device: %1").arg(info.device));
    m_device_status->setToolTip(info.device_note);
    statusBar()->showMessage(info.load_ms < 1000 ? tr("Loaded %1 in %2 ms").arg(info.path).arg(info.load_ms, 0, 'f', 0)
                                                 : tr("Loaded %1 in %2 s").arg(info.path).arg(info.load_ms / 1000.0, 0, 'f', 1),
                             8000);
    if (m_current_session != 0) emit requestResume(m_current_session);

    if (!m_options.demo_prompt.isEmpty()) {
        m_input->setPlainText(m_options.demo_prompt);
        m_options.demo_prompt.clear();
        sendInput();
    } else {
        emit idle();
    }
}

void MainWindow::onLoadFailed(const QString& message) {
    m_model_ready = false;
    showNoModel(tr("The model could not be loaded: %1").arg(message));
}

void MainWindow::setBusy(bool busy) {
    m_busy = busy;
    m_send_button->setEnabled(!busy && m_model_ready);
    m_stop_button->setEnabled(busy);
    m_sessions_view->setEnabled(!busy);
    if (busy) m_speed_status->setText(tr("generating..."));
}

void MainWindow::sendInput() {
    const QString text = m_input->toPlainText().trimmed();
    if (text.isEmpty() || m_busy || !m_model_ready) return;
    m_input->clear();
    m_transcript->appendUser(text);
    m_transcript->beginAssistant();
    setBusy(true);
    emit requestSend(text);
}

void MainWindow::stop() {
    if (m_run_cancel) m_run_cancel->store(true);   // an approved command running: stopped
    if (m_busy) m_worker->cancel();  // thread-safe; the reply ends with replyFinished("cancelled")
}

void MainWindow::onToken(const QString& piece) { m_transcript->appendPiece(piece); }

void MainWindow::onReplyFinished(const ReplyStats& stats) {
    QString note = tr("%1 tokens, %2 tok/s").arg(stats.n_decoded).arg(stats.decode_tps, 0, 'f', 1);
    switch (stats.stop) {
    case llm::StopReason::Cancelled: note += tr(", stopped"); break;
    case llm::StopReason::MaxTokens: note += tr(", hit the token limit"); break;
    case llm::StopReason::ContextFull: note += tr(", context full: start a new chat"); break;
    case llm::StopReason::EndOfText:
    case llm::StopReason::StopString:
    case llm::StopReason::CallbackStopped: break;
    }
    m_transcript->finishAssistant(note);
    // Every shell command the answer shows is rated, and marked when it does not parse or names a
    // program this machine lacks (issue 17 item 9); nothing is run.
    if (!m_transcript->turns().isEmpty() && m_transcript->turns().back().role == QLatin1String("assistant")) {
        const QString notes = commandNotes(m_transcript->turns().back().text);
        if (!notes.isEmpty()) m_transcript->appendNotice(notes);
    }
    m_speed_status->setText(tr("Speed: %1 tok/s").arg(stats.decode_tps, 0, 'f', 1));
    m_speed_status->setToolTip(tr("Last reply: %1 tokens in, %2 tok/s prompt; %3 tokens out, %4 tok/s")
                                   .arg(stats.n_prompt).arg(stats.prompt_tps, 0, 'f', 1)
                                   .arg(stats.n_decoded).arg(stats.decode_tps, 0, 'f', 1));
    setBusy(false);
    if (stats.session_id != 0) m_current_session = stats.session_id;
    refreshSessions();
    m_input->setFocus();
    emit idle();
}

void MainWindow::onError(const QString& message) {
    if (m_transcript->replyOpen()) m_transcript->finishAssistant(tr("failed"));
    m_transcript->appendNotice(message);
    setBusy(false);
    statusBar()->showMessage(message, 10000);
    emit idle();
}

void MainWindow::onConversationReset(qint64 id, const QVector<Turn>& turns) {
    // A resumed session: show what the model now holds as the conversation (equal to the history).
    // Skipped while a reply streams: the user sent right after picking the session, and the
    // transcript already shows it plus the open reply.
    if (id != 0 && id == m_current_session && !m_busy) m_transcript->setTurns(turns);
}

void MainWindow::refreshSessions() {
    if (!m_sessions->isOpen()) return;
    if (auto r = m_sessions->refresh(); !r) {
        statusBar()->showMessage(tr("History: %1").arg(qs(r.error().message)), 10000);
        return;
    }
    selectSession(m_current_session);
}

void MainWindow::selectSession(qint64 id) {
    const int row = m_sessions->rowOf(id);
    QSignalBlocker block(m_sessions_view->selectionModel());
    if (row < 0) {
        m_sessions_view->clearSelection();
        m_sessions_view->selectionModel()->setCurrentIndex({}, QItemSelectionModel::Clear);
    } else {
        m_sessions_view->selectionModel()->setCurrentIndex(m_sessions->index(row), QItemSelectionModel::ClearAndSelect);
    }
    m_sessions_view->viewport()->update();
}

void MainWindow::onSessionActivated(const QModelIndex& index) {
    if (!index.isValid() || m_busy) return;
    const qint64 id = index.data(SessionsModel::IdRole).toLongLong();
    if (id == m_current_session) return;
    m_current_session = id;
    auto turns = m_sessions->messages(id);
    if (!turns) {
        m_transcript->setTurns({});
        m_transcript->appendNotice(tr("Could not read this session: %1").arg(qs(turns.error().message)));
        return;
    }
    m_transcript->setTurns(turns.value());
    if (m_model_ready) emit requestResume(id);  // the next message continues this session
}

void MainWindow::newChat() {
    if (m_busy) return;
    m_current_session = 0;
    selectSession(0);
    m_transcript->setTurns({});
    emit requestNewChat();
    m_input->setFocus();
}

void MainWindow::openModel() {
    if (m_busy) return;
    QString dir = QFileInfo(m_settings.model_path).absolutePath();
    if (m_settings.model_path.isEmpty()) dir = qs(AppPaths::resolve().data_dir) + QStringLiteral("/models");
    const QString path = QFileDialog::getOpenFileName(this, tr("Open model"), dir, tr("GGUF models (*.gguf);;All files (*)"));
    if (path.isEmpty()) return;
    m_settings.model_path = path;
    if (m_options.use_settings) m_settings.save();
    loadModel(path);
}

void MainWindow::showSettings() {
    DesktopSettings shown = m_settings;
    if (m_history_path != kNoHistory && m_options.history_path.isEmpty()) shown.chat.history_db = m_settings.chat.history_db;
    SettingsDialog dialog(shown, this);
    if (dialog.exec() != QDialog::Accepted) return;
    const DesktopSettings next = dialog.settings();
    const bool modelChanged = next.model_path != m_settings.model_path && !next.model_path.isEmpty();
    const bool historyChanged = next.chat.history_db != m_settings.chat.history_db;
    m_settings = next;
    if (m_options.use_settings) m_settings.save();
    if (historyChanged) {
        m_options.history_path.clear();
        m_current_session = 0;
        m_transcript->setTurns({});
        openHistory();
    }
    emit requestConfigure(effectiveChatSettings());
    if (modelChanged) loadModel(m_settings.model_path);
}

void MainWindow::showAbout() {
    QMessageBox::about(
        this, tr("About SigmaOps"),
        tr("<h3>SigmaOps %1</h3>"
           "<p>A local AI assistant for Linux system administrators. Everything runs on this machine.</p>"
           "<p>Engine %2, CPU features: %3</p>"
           "<p><b>Credits</b></p>"
           "<p>The default model, sigma-ops-nano, was trained on data derived from the sources below "
           "and from Debian's packaged manual pages and documentation (see docs/model.md).</p>"
           "<p>Command examples: tldr-pages contributors, CC BY 4.0 "
           "(<a href=\"https://github.com/tldr-pages/tldr\">github.com/tldr-pages/tldr</a>).</p>"
           "<p>The command examples index (tldr.sqlite): tldr-pages contributors, CC BY 4.0; changes: converted to an SQLite index.</p>"
           "<p>Log samples: Loghub. Jieming Zhu, Shilin He, Pinjia He, Jinyang Liu, Michael R. Lyu, "
           "<i>Loghub: A Large Collection of System Log Datasets for AI-driven Log Analytics</i>, ISSRE 2023; "
           "and Zhihan Jiang et al., <i>A Large-scale Evaluation for Log Parsing Techniques: How Far are We?</i>, "
           "ISSTA 2024 (Loghub-2.0).</p>")
            .arg(qs(app_version()).toHtmlEscaped(), qs(llm::engine_info().version).toHtmlEscaped(),
                 qs(llm::engine_info().cpu_features).toHtmlEscaped()));
}

void MainWindow::maybeScreenshot() {
    if (m_options.screenshot_path.isEmpty()) return;
    const QString path = m_options.screenshot_path;
    m_options.screenshot_path.clear();
    QTimer::singleShot(300, this, [this, path] {
        const bool ok = grab().save(path);
        if (!ok) qWarning("sigmaops-desktop: could not write %s", qPrintable(path));
        QApplication::exit(ok ? 0 : 1);
    });
}

} // namespace sigmaops::ui

namespace sigmaops::ui {

void MainWindow::runFromAnswer() {
    if (m_run_thread) {
        m_transcript->appendNotice(tr("A command is still running (Stop ends it)."));
        return;
    }
    QString answer;
    const auto& turns = m_transcript->turns();
    for (auto it = turns.rbegin(); it != turns.rend(); ++it)
        if (it->role == QLatin1String("assistant")) {
            answer = it->text;
            break;
        }
    const std::vector<commands::ShownCommand> shown = commands::extract_commands(answer.toStdString());
    if (shown.empty()) {
        m_transcript->appendNotice(tr("The last answer shows no command to run."));
        return;
    }
    std::size_t pick = 0;
    if (shown.size() > 1) {
        QStringList items;
        for (const auto& c : shown) items << QString::fromStdString(commands::visible(c.text));
        bool ok = false;
        const QString chosen = QInputDialog::getItem(this, tr("Run which command?"), tr("Command:"), items, 0, false, &ok);
        if (!ok) return;
        pick = std::size_t(std::max<qsizetype>(0, items.indexOf(chosen)));
    }
    // Consent: the dialog's answer goes through commands::confirm(); only its Approval runs.
    knowledge::DocCache docs(knowledge::local_docs(), nullptr);
    Decision d = askApproval(commands::make_proposal(shown[pick].text, "", commands::Origin::Model), this, &docs);
    if (!d.verdict.approved()) {
        m_transcript->appendNotice(tr("Not run: %1").arg(QString::fromStdString(d.verdict.declined)));
        return;
    }
    m_run_cancel = std::make_shared<std::atomic<bool>>(false);
    auto status = std::make_shared<QString>();
    m_transcript->beginOutput(QStringLiteral("$ ") +
                              QString::fromStdString(commands::visible((d.proposal.sudo ? "sudo " : "") + d.proposal.text)));
    // The output (cleaned by the agent) streams into that turn through queued calls; the thread
    // is joined before this window is gone (destructor), so `this` outlives every call.
    commands::RunOptions options;
    options.cancel = m_run_cancel.get();
    options.on_output = [this](commands::Stream, std::string_view text) {
        QMetaObject::invokeMethod(this, [this, t = QString::fromUtf8(text.data(), qsizetype(text.size()))] {
            m_transcript->appendOutput(t);
        }, Qt::QueuedConnection);
        return true;
    };
    m_run_thread = QThread::create(
        [proposal = std::move(d.proposal), approval = std::move(*d.verdict.approval), cancel = m_run_cancel, options,
         status]() mutable {
            commands::Runner runner(commands::RunnerOptions{});
            auto r = runner.run(proposal, std::move(approval), options);
            auto tr = [](const char* s) { return QCoreApplication::translate("MainWindow", s); };
            if (!r) {
                *status = tr("[could not run: %1]").arg(QString::fromStdString(r.error().message));
                return;
            }
            QString st = r->exit_code ? tr("exit %1").arg(*r->exit_code) : tr("killed (%1)").arg(QString::fromStdString(r->signal));
            if (r->cancelled) st += tr(", stopped");
            if (r->timed_out) st += tr(", timed out");
            *status = QStringLiteral("\n[") + QString::fromStdString(r->host) + QStringLiteral(": ") + st +
                      QStringLiteral(", %1 ms]").arg(qint64(r->elapsed.count()));
        });
    connect(m_run_thread, &QThread::finished, this, [this, status] {
        m_transcript->endOutput(*status);
        m_run_thread->deleteLater();
        m_run_thread = nullptr;
        m_run_cancel.reset();
        m_stop_button->setEnabled(m_busy);
        emit commandFinished();
    });
    m_stop_button->setEnabled(true);   // Stop ends the command
    m_run_thread->start();
}

void MainWindow::diagnoseLogs() {
    if (!m_log_view) {
        m_log_view = new LogView(this);
        m_log_view->setWindowFlag(Qt::Window);
        m_log_view->resize(1000, 720);
    }
    m_log_view->setModel(m_worker->model());
    m_log_view->show();
    m_log_view->raise();
    m_log_view->activateWindow();
    if (!m_log_view->busy()) m_log_view->openFiles();
}

} // namespace sigmaops::ui
