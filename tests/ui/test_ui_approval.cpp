// test_ui_approval.cpp - the desktop's command approval dialog (issue 20 item 4) driven through its
// real widgets: approved commands run for real on this machine with the Approval it gives
// (commands::Runner), rejected ones leave no trace, destructive ones need the host name typed
// exactly, and an edit is rated again before Run enables. Set SIGMAOPS_SCREENSHOT_DIR to also
// save the dialog as approval_dialog.png there (docs/screenshots).
#include "test_ui_util.h"

#include <approval_dialog.h>
#include <commands/commands.h>
#include <knowledge/knowledge.h>
#include <mainwindow.h>
#include <transcript_view.h>

#include <catch2/catch.hpp>

#include <QDir>
#include <QElapsedTimer>
#include <QFile>
#include <QLabel>
#include <QLineEdit>
#include <QPushButton>
#include <QTemporaryDir>
#include <QTest>
#include <QTimer>

#include <functional>

namespace commands = sigmaops::commands;
using sigmaops::ui::ApprovalDialog;
using sigmaops::ui::DialogConfirmer;

namespace {

template <typename W>
W* child(const ApprovalDialog& d, const QString& accessible_name) {
    for (W* w : d.findChildren<W*>())
        if (w->accessibleName() == accessible_name) return w;
    FAIL("no control named " << accessible_name.toStdString());
    return nullptr;
}
QPushButton* runButton(const ApprovalDialog& d) { return child<QPushButton>(d, QStringLiteral("Run the command")); }
QLineEdit* typedHost(const ApprovalDialog& d) { return child<QLineEdit>(d, QStringLiteral("Type the host name to confirm")); }
QString riskText(const ApprovalDialog& d) { return child<QLabel>(d, QStringLiteral("Risk level"))->text(); }

std::string shq(const QString& path) { return "'" + path.toStdString() + "'"; }

// Runs an approved proposal on this machine for real.
commands::RunResult runApproved(const commands::Proposal& p, commands::Verdict& v) {
    REQUIRE(v.approved());
    commands::Runner runner(commands::RunnerOptions{});
    auto r = runner.run(p, std::move(*v.approval));
    REQUIRE(r);
    return *r;
}

} // namespace

TEST_CASE("approval dialog: every control has an accessible name", "[ui][approval]") {
    uitest::app();
    ApprovalDialog d(commands::make_proposal("ls /", "", commands::Origin::User));
    for (QWidget* w : d.findChildren<QWidget*>()) {
        if (!qobject_cast<QLineEdit*>(w) && !qobject_cast<QPushButton*>(w)) continue;
        INFO(w->metaObject()->className());
        CHECK_FALSE(w->accessibleName().isEmpty());
    }
}

TEST_CASE("approval dialog: an approved command runs for real, a read-only one with its rating shown", "[ui][approval]") {
    uitest::app();
    QTemporaryDir dir;
    const QString marker = dir.filePath(QStringLiteral("marker"));

    // Read-only: shown as such (in words, not colour alone), no host name asked, Run enabled.
    auto ro = commands::make_proposal("ls " + shq(dir.path()), "", commands::Origin::Model, "lists the directory");
    ApprovalDialog d1(ro);
    d1.show();
    CHECK(riskText(d1).startsWith(QStringLiteral("READ-ONLY")));
    CHECK(child<QLabel>(d1, QStringLiteral("Target host"))->text().contains(QString::fromStdString(commands::local_host_name())));
    CHECK(child<QLabel>(d1, QStringLiteral("Explanation"))->text() == QStringLiteral("lists the directory"));
    CHECK(child<QLabel>(d1, QStringLiteral("Parts of the command"))->text().contains(QStringLiteral("ls")));
    CHECK_FALSE(typedHost(d1)->isVisible());
    REQUIRE(d1.runEnabled());
    QTest::mouseClick(runButton(d1), Qt::LeftButton);
    CHECK(d1.result() == QDialog::Accepted);
    commands::Verdict v1 = d1.decide();
    CHECK_FALSE(v1.approval->host_typed());
    CHECK(runApproved(d1.proposal(), v1).ok());

    // Changes files, confirmed with Enter: the command writes the marker file for real.
    ApprovalDialog d2(commands::make_proposal("touch " + shq(marker), "", commands::Origin::User));
    d2.show();
    CHECK(riskText(d2).startsWith(QStringLiteral("CHANGES-FILES")));
    QTest::keyClick(&d2, Qt::Key_Return);
    REQUIRE(d2.result() == QDialog::Accepted);
    commands::Verdict v2 = d2.decide();
    CHECK_FALSE(QFile::exists(marker));   // approval alone runs nothing
    CHECK(runApproved(d2.proposal(), v2).ok());
    CHECK(QFile::exists(marker));
}

TEST_CASE("approval dialog: a rejected command gives no approval and nothing runs", "[ui][approval]") {
    uitest::app();
    QTemporaryDir dir;
    const QString marker = dir.filePath(QStringLiteral("marker"));
    const auto p = commands::make_proposal("touch " + shq(marker), "", commands::Origin::User);

    SECTION("Escape") {
        ApprovalDialog d(p);
        d.show();
        QTest::keyClick(&d, Qt::Key_Escape);
        CHECK(d.result() == QDialog::Rejected);
        commands::Verdict v = d.decide();
        CHECK_FALSE(v.approved());
        CHECK_FALSE(v.declined.empty());
    }
    SECTION("Cancel") {
        ApprovalDialog d(p);
        d.show();
        QTest::mouseClick(child<QPushButton>(d, QStringLiteral("Cancel: do not run")), Qt::LeftButton);
        CHECK(d.result() == QDialog::Rejected);
        CHECK_FALSE(d.decide().approved());
    }
    CHECK_FALSE(QFile::exists(marker));
}

TEST_CASE("approval dialog: a destructive command needs the host name typed exactly", "[ui][approval]") {
    uitest::app();
    QTemporaryDir base;
    const QString victim = base.filePath(QStringLiteral("victim"));
    REQUIRE(QDir().mkpath(victim + QStringLiteral("/sub")));
    const QString host = QString::fromStdString(commands::local_host_name());

    ApprovalDialog d(commands::make_proposal("rm -rf " + shq(victim), "", commands::Origin::Model));
    d.show();
    INFO(riskText(d).toStdString());
    CHECK(riskText(d).startsWith(QStringLiteral("DESTRUCTIVE")));
    REQUIRE(typedHost(d)->isVisible());
    CHECK_FALSE(d.runEnabled());
    // Enter never runs it, nor does a near miss of the host name.
    QTest::keyClick(&d, Qt::Key_Return);
    CHECK(d.isVisible());
    CHECK(d.result() != QDialog::Accepted);
    for (const QString& wrong : {host.toUpper() + QStringLiteral("x"), host + QStringLiteral(" "), host.left(host.size() - 1)}) {
        typedHost(d)->setText(wrong);
        CHECK_FALSE(d.runEnabled());
    }
    typedHost(d)->clear();
    QTest::keyClicks(typedHost(d), host);
    REQUIRE(d.runEnabled());
    QTest::keyClick(typedHost(d), Qt::Key_Return);   // still not by Enter
    CHECK(d.result() != QDialog::Accepted);
    QTest::mouseClick(runButton(d), Qt::LeftButton);
    REQUIRE(d.result() == QDialog::Accepted);
    commands::Verdict v = d.decide();
    REQUIRE(v.approved());
    CHECK(v.approval->host_typed());
    CHECK(QDir(victim).exists());
    CHECK(runApproved(d.proposal(), v).ok());
    CHECK_FALSE(QDir(victim).exists());
}

TEST_CASE("approval dialog: an edit is rated again and a destructive edit needs the host name again", "[ui][approval]") {
    uitest::app();
    QTemporaryDir base;
    const QString victim = base.filePath(QStringLiteral("victim"));
    REQUIRE(QDir().mkpath(victim));
    const QString host = QString::fromStdString(commands::local_host_name());
    const auto original = commands::make_proposal("ls " + shq(victim), "", commands::Origin::Model, "lists it");

    ApprovalDialog d(original);
    d.show();
    REQUIRE(d.runEnabled());
    QLineEdit* cmd = child<QLineEdit>(d, QStringLiteral("Command"));
    cmd->setFocus();
    cmd->selectAll();
    QTest::keyClicks(cmd, QString::fromStdString("rm -rf " + shq(victim)));
    CHECK_FALSE(d.checked());
    CHECK_FALSE(d.runEnabled());   // not on the old rating
    REQUIRE(uitest::waitFor([&] { return d.checked(); }, 3000));
    INFO(riskText(d).toStdString());
    CHECK(riskText(d).startsWith(QStringLiteral("DESTRUCTIVE")));
    CHECK(d.proposal().text == "rm -rf " + shq(victim));
    CHECK(child<QLabel>(d, QStringLiteral("Explanation"))->text() == QStringLiteral("(none)"));   // was for `ls`
    CHECK(typedHost(d)->isVisible());
    CHECK_FALSE(d.runEnabled());

    QTest::keyClicks(typedHost(d), host);
    REQUIRE(d.runEnabled());
    // Editing again clears the typed name: confirmed again after the re-check.
    QTest::keyClick(cmd, Qt::Key_End);
    QTest::keyClicks(cmd, QStringLiteral(" "));
    CHECK(typedHost(d)->text().isEmpty());
    d.recheckNow();
    CHECK_FALSE(d.runEnabled());
    QTest::keyClicks(typedHost(d), host);
    QTest::mouseClick(runButton(d), Qt::LeftButton);
    REQUIRE(d.result() == QDialog::Accepted);
    {   // The dialog's answer is only for what it showed: the original command gets none.
        DialogConfirmer other(d);
        CHECK_FALSE(commands::confirm(original, other).approved());
    }
    commands::Verdict v = d.decide();
    REQUIRE(v.approved());
    CHECK(v.approval->covers(d.proposal()));
    CHECK_FALSE(v.approval->covers(original));
    CHECK(runApproved(d.proposal(), v).ok());
    CHECK_FALSE(QDir(victim).exists());
}

TEST_CASE("approval dialog: screenshot", "[ui][approval]") {
    uitest::app();
    const QString out = qEnvironmentVariable("SIGMAOPS_SCREENSHOT_DIR");
    sigmaops::knowledge::DocCache docs(sigmaops::knowledge::local_docs(), nullptr);
    ApprovalDialog d(commands::make_proposal("find /var/log -name '*.gz' -mtime +30 | xargs rm -f", "", commands::Origin::Model,
                                             "deletes compressed logs older than 30 days"),
                     nullptr, &docs);
    d.resize(d.sizeHint().expandedTo(QSize(720, 0)));
    d.show();
    // The parts' documentation is read off the UI thread; Run waits for it.
    CHECK_FALSE(d.runEnabled());
    REQUIRE(uitest::waitFor([&] { return d.checked(); }, 20000));
    CHECK(child<QLabel>(d, QStringLiteral("Parts of the command"))->text().contains(QStringLiteral("xargs")));
    QTest::keyClicks(typedHost(d), QString::fromStdString(commands::local_host_name()).left(1));
    const QImage shot = d.grab().toImage();
    CHECK(shot.width() >= 600);
    if (out.isEmpty()) return;   // only written when asked (docs/screenshots)
    REQUIRE(QDir().mkpath(out));
    REQUIRE(shot.save(out + QStringLiteral("/approval_dialog.png")));
}

TEST_CASE("approval dialog: the window runs a command of the last answer only through the dialog", "[ui][approval]") {
    uitest::app();
    uitest::TempHome home;
    sigmaops::ui::StartOptions options;
    options.model_path = home.file("missing.gguf");
    options.history_path = home.file("history.db");
    options.use_settings = false;
    sigmaops::ui::MainWindow w(options);
    w.show();
    const QString marker = home.file("marker");
    w.transcript()->setTurns({{QStringLiteral("user"), QStringLiteral("make the marker")},
                              {QStringLiteral("assistant"), QStringLiteral("Run:\n```sh\ntouch '") + marker +
                                                                QStringLiteral("' && echo made-it\n```\n")}});
    // The dialog is modal: answer it from the event loop it runs.
    // (Once its check is done: the parts' man pages are read on a thread, and Run waits for them.)
    std::function<void(bool)> answer = [&answer](bool run) {
        QTimer::singleShot(50, [run, &answer] {
            auto* d = qobject_cast<ApprovalDialog*>(QApplication::activeModalWidget());
            if (!d || !d->checked()) return answer(run);   // not up or not checked yet: again later
            if (run) QTest::mouseClick(runButton(*d), Qt::LeftButton);
            else QTest::keyClick(d, Qt::Key_Escape);
        });
    };

    answer(false);
    w.runFromAnswer();
    CHECK(w.transcript()->toPlainText().contains(QStringLiteral("Not run: declined")));
    CHECK_FALSE(QFile::exists(marker));

    bool finished = false;
    QObject::connect(&w, &sigmaops::ui::MainWindow::commandFinished, [&] { finished = true; });
    answer(true);
    w.runFromAnswer();
    REQUIRE(uitest::waitFor([&] { return finished; }, 10000));
    INFO(w.transcript()->toPlainText().toStdString());
    CHECK(QFile::exists(marker));
    CHECK(w.transcript()->toPlainText().contains(QStringLiteral("exit 0")));
    CHECK(w.transcript()->toPlainText().contains(QStringLiteral("made-it")));

    // The output streams into the transcript while the command runs, and Stop ends it.
    finished = false;
    w.transcript()->setTurns({{QStringLiteral("assistant"), QStringLiteral("```sh\necho first-line; sleep 30; echo never-printed\n```\n")}});
    answer(true);
    QElapsedTimer t;
    t.start();
    w.runFromAnswer();
    REQUIRE(uitest::waitFor([&] { return w.transcript()->toPlainText().contains(QStringLiteral("first-line")); }, 10000));
    CHECK_FALSE(finished);
    w.stop();
    REQUIRE(uitest::waitFor([&] { return finished; }, 5000));
    CHECK(t.elapsed() < 8000);
    INFO(w.transcript()->toPlainText().toStdString());
    CHECK(w.transcript()->toPlainText().contains(QStringLiteral("stopped")));
    // In the answer and the output's header only: the command never got to print it.
    CHECK(w.transcript()->toPlainText().count(QStringLiteral("never-printed")) == 2);
}
