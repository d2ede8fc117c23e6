// test_ui_window.cpp - the main window without a model: the no-model panel names every place
// a model is looked up, offers "Open model...", and nothing crashes; the history list still works.
#include "test_ui_util.h"

#include <base/paths.h>
#include <llm/llm.h>
#include <history/history.h>
#include <mainwindow.h>
#include <settings_dialog.h>
#include <sessions_model.h>
#include <transcript_view.h>

#include <catch2/catch.hpp>

#include <QDir>
#include <QFile>
#include <QListView>
#include <QMessageBox>
#include <QSettings>
#include <QTimer>
#include <QPlainTextEdit>
#include <QPushButton>

using sigmaops::ui::MainWindow;
using sigmaops::ui::StartOptions;

namespace {
// A window without a model (its search shows the no-model page), outside the user's settings,
// with the history at `history_path`.
StartOptions noModelOptions(const uitest::TempHome& home, const QString& history_path) {
    StartOptions options;
    options.model_path = home.file("missing.gguf");
    options.history_path = history_path;
    options.use_settings = false;
    return options;
}
} // namespace

TEST_CASE("without a model the window shows where models are looked up", "[ui][window]") {
    uitest::app();
    uitest::TempHome home;
    const StartOptions options = noModelOptions(home, home.file("history.db"));

    MainWindow window(options);
    window.show();
    window.start();
    REQUIRE(uitest::waitFor([&] { return !window.noModelText().isEmpty(); }, 2000));
    const QString text = window.noModelText();
    for (const std::string& p : sigmaops::llm::model_search_paths())
        CHECK(text.contains(QString::fromStdString(p)));
    CHECK(text.contains("missing.gguf"));
    CHECK(text.contains("SIGMAOPS_MODEL"));
    auto* open = window.findChild<QPushButton*>("openModelButton");
    REQUIRE(open);
    CHECK(open->isVisible());
    CHECK_FALSE(window.modelReady());
    auto* input = window.findChild<QPlainTextEdit*>("input");
    REQUIRE(input);
    CHECK_FALSE(input->isEnabled());
    // Sending without a model is a no-op, not a crash.
    window.sendInput();
    CHECK_FALSE(window.busy());
    CHECK(window.historyPath() == options.history_path);
    CHECK(window.sessionsModel()->isOpen());
}

TEST_CASE("without a model, past sessions can still be read", "[ui][window]") {
    uitest::app();
    uitest::TempHome home;
    const QString db = home.file("history.db");
    {
        auto h = sigmaops::history::History::open(db.toStdString());
        REQUIRE(h);
        auto s = (*h)->create_session("sshd refuses logins", "m", "");
        REQUIRE(s);
        REQUIRE((*h)->add_message(*s, "user", "sshd refuses logins"));
        REQUIRE((*h)->add_message(*s, "assistant", "Look at `journalctl -u ssh`."));
    }
    const StartOptions options = noModelOptions(home, db);
    MainWindow window(options);
    window.show();
    window.start();
    REQUIRE(window.sessionsModel()->rowCount() == 1);
    auto* view = window.findChild<QListView*>("sessionsView");
    REQUIRE(view);
    view->setCurrentIndex(window.sessionsModel()->index(0));
    REQUIRE(window.transcript()->turns().size() == 2);
    CHECK(window.transcript()->toPlainText().contains("journalctl -u ssh"));
    CHECK(window.transcript()->toPlainText().contains("sshd refuses logins"));
}

TEST_CASE("the transcript streams pieces and renders code blocks", "[ui][window]") {
    uitest::app();
    sigmaops::ui::TranscriptView view;
    view.appendUser("disk full");
    view.beginAssistant();
    CHECK(view.replyOpen());
    for (const char* piece : {"Run:\n", "```\n", "df -h", "\n```\n", "then **check** `du`."})
        view.appendPiece(QString::fromUtf8(piece));
    CHECK(view.toPlainText().contains("df -h"));
    view.finishAssistant("5 tokens, 10.0 tok/s");
    CHECK_FALSE(view.replyOpen());
    REQUIRE(view.turns().size() == 2);
    CHECK(view.turns()[1].text == "Run:\n```\ndf -h\n```\nthen **check** `du`.");
    const QString plain = view.toPlainText();
    CHECK(plain.contains("df -h"));
    CHECK_FALSE(plain.contains("```"));
    CHECK(plain.contains("then check du."));
    CHECK(plain.contains("10.0 tok/s"));
}

namespace {
// Clicks the button whose text starts with `label` on the first modal dialog that opens.
void clickOnModal(const QString& label, bool* clicked) {
    auto* timer = new QTimer(qApp);
    QObject::connect(timer, &QTimer::timeout, [=] {
        QWidget* modal = QApplication::activeModalWidget();
        if (!modal) return;
        for (auto* b : modal->findChildren<QPushButton*>())
            if (b->text().startsWith(label)) {
                *clicked = true;
                timer->stop();
                timer->deleteLater();
                b->click();
                return;
            }
    });
    timer->start(20);
}

void writeGarbage(const QString& path) {
    QFile f(path);
    REQUIRE(f.open(QIODevice::WriteOnly));
    f.write(QByteArray(8192, 'x'));
}
} // namespace

TEST_CASE("a damaged history database can be moved aside from the window", "[ui][window]") {
    uitest::app();
    uitest::TempHome home;
    const QString db = home.file("history.db");
    writeGarbage(db);
    const StartOptions options = noModelOptions(home, db);
    MainWindow window(options);
    window.show();
    bool clicked = false;
    clickOnModal("Move aside", &clicked);
    window.start();
    CHECK(clicked);
    CHECK(window.historyPath() == db);
    CHECK(window.sessionsModel()->isOpen());
    CHECK(window.sessionsModel()->rowCount() == 0);
    const QStringList aside = QDir(home.dir.path()).entryList({"history.db.corrupt-*"});
    CHECK(aside.size() == 1);
}

TEST_CASE("a damaged history database can be left alone: the window runs without history", "[ui][window]") {
    uitest::app();
    uitest::TempHome home;
    const QString db = home.file("history.db");
    writeGarbage(db);
    const StartOptions options = noModelOptions(home, db);
    MainWindow window(options);
    window.show();
    bool clicked = false;
    clickOnModal("Continue without history", &clicked);
    window.start();
    CHECK(clicked);
    CHECK(window.historyPath() == ":none");
    CHECK_FALSE(window.sessionsModel()->isOpen());
    CHECK_FALSE(window.noModelText().isEmpty());   // and the rest of start() still ran
    QFile f(db);
    REQUIRE(f.open(QIODevice::ReadOnly));
    CHECK(f.readAll() == QByteArray(8192, 'x'));   // untouched
}

TEST_CASE("a history path that is a directory: no offer to move it aside, the window runs without history",
          "[ui][window]") {
    uitest::app();
    uitest::TempHome home;
    const QString dir = home.file("not-a-db");
    REQUIRE(QDir().mkpath(dir + "/inside"));
    const StartOptions options = noModelOptions(home, dir);
    MainWindow window(options);
    window.show();
    // Record what the dialog says and offers, then close it.
    QString text;
    QStringList buttons;
    auto* timer = new QTimer(qApp);
    QObject::connect(timer, &QTimer::timeout, [&, timer] {
        auto* box = qobject_cast<QMessageBox*>(QApplication::activeModalWidget());
        if (!box) return;
        text = box->text();
        for (auto* b : box->findChildren<QPushButton*>()) buttons << b->text();
        timer->stop();
        timer->deleteLater();
        box->findChildren<QPushButton*>().first()->click();
    });
    timer->start(20);
    window.start();
    INFO(text.toStdString());
    CHECK(text.contains("is a directory, not a file"));
    CHECK_FALSE(buttons.isEmpty());
    for (const QString& b : buttons) CHECK_FALSE(b.startsWith("Move aside"));
    CHECK(window.historyPath() == ":none");
    CHECK(QDir(dir + "/inside").exists());
    CHECK(QDir(home.dir.path()).entryList({"not-a-db.corrupt-*"}).isEmpty());
}

TEST_CASE("settings persist through QSettings", "[ui][window]") {
    uitest::app();
    uitest::TempHome home;
    QSettings::setPath(QSettings::NativeFormat, QSettings::UserScope, home.file("config"));
    QCoreApplication::setOrganizationName("SigmaOps");
    QCoreApplication::setApplicationName("sigmaops-desktop-test");
    sigmaops::ui::DesktopSettings s;
    s.model_path = "/models/sigma.gguf";
    s.chat.temperature = 0.25;
    s.chat.max_tokens = 777;
    s.chat.history_db = home.file("h.db");
    s.chat.prefer_gpu = false;
    s.save();
    const auto back = sigmaops::ui::DesktopSettings::load();
    CHECK(back.model_path == s.model_path);
    CHECK(back.chat.temperature == Approx(0.25));
    CHECK(back.chat.max_tokens == 777);
    CHECK(back.chat.history_db == s.chat.history_db);
    CHECK_FALSE(back.chat.prefer_gpu);
    CHECK(QFile::exists(home.file("config/SigmaOps/sigmaops-desktop-test.conf")));

    sigmaops::ui::SettingsDialog dialog(s);
    const auto shown = dialog.settings();
    CHECK(shown.model_path == s.model_path);
    CHECK(shown.chat.max_tokens == 777);
    CHECK(shown.chat.temperature == Approx(0.25));
}

TEST_CASE("About names the version and credits tldr-pages and Loghub", "[ui][window]") {
    uitest::app();
    uitest::TempHome home;
    const StartOptions options = noModelOptions(home, ":none");
    MainWindow window(options);
    window.show();
    window.start();
    QString text;
    auto* timer = new QTimer(&window);
    QObject::connect(timer, &QTimer::timeout, [&] {
        if (auto* box = qobject_cast<QMessageBox*>(QApplication::activeModalWidget())) {
            text = box->text();
            box->accept();
        }
    });
    timer->start(20);
    window.showAbout();
    CHECK(text.contains(QString::fromStdString(sigmaops::app_version())));
    CHECK(text.contains("tldr-pages contributors, CC BY 4.0"));
    CHECK(text.contains("Loghub"));
    CHECK(text.contains("ISSRE 2023"));
}
