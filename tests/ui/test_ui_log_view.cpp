// test_ui_log_view.cpp - the desktop's log view (issue 20 item 3) driven through its real widgets:
// a sample incident is diagnosed on the view's worker thread (logs::diagnose), its first finding
// is the root cause the samples' README names, selecting it shows the evidence line highlighted in
// the file's own lines around it, a large generated log is cancelled midway with the UI
// responsive, a benign sample gives nothing above info, and "what the model saw" is the exact
// build_prompt text for a real (tiny) model. Set SIGMAOPS_SCREENSHOT_DIR to also save the view as
// log_view.png there (docs/screenshots).
#include "test_ui_util.h"

#include <llm/llm.h>
#include <log_view.h>
#include <mainwindow.h>
#include <logs/logs.h>
#include <tiny_model.h>

#include <catch2/catch.hpp>

#include <QAction>
#include <QApplication>
#include <QDir>
#include <QElapsedTimer>
#include <QFile>
#include <QPlainTextEdit>
#include <QProgressBar>
#include <QPushButton>
#include <QStandardItemModel>
#include <QTextBlock>
#include <QTimer>
#include <QTreeView>

#include <algorithm>
#include <fstream>

using sigmaops::ui::LogView;
namespace logs = sigmaops::logs;

namespace {

QString sample(const char* name) { return QStringLiteral(SIGMAOPS_SOURCE_DIR "/resources/samples/") + QString::fromLatin1(name); }

// Runs a diagnosis through the view and waits for it to finish; returns whether a report came.
bool diagnoseAndWait(LogView& v, const QStringList& paths, int timeout_ms = 20000) {
    bool done = false, ok = false;
    auto c = QObject::connect(&v, &LogView::finished, &v, [&](bool good, const QString&) { done = true; ok = good; });
    v.diagnose(paths);
    REQUIRE(v.busy());
    REQUIRE(uitest::waitFor([&] { return done; }, timeout_ms));
    QObject::disconnect(c);
    CHECK_FALSE(v.busy());
    return ok;
}

// Selects row `row` in the findings view as a click would, and waits for its context.
void selectAndWait(LogView& v, int row) {
    const QString id = v.findingsModel()->index(row, LogView::ColId).data().toString();
    v.findingsView()->setCurrentIndex(v.findingsModel()->index(row, 0));
    REQUIRE(uitest::waitFor([&] { return v.shownFinding() == id; }, 10000));
}

// The file's line `n` (1-based) as the view shows it: read with the agent's own reader.
std::string fileLine(const QString& path, std::uint64_t n) {
    auto r = logs::LineReader::open(path.toStdString());
    REQUIRE(r);
    logs::Line line;
    while (r->next(line))
        if (line.number == n) return logs::mask_secrets(line.text);
    FAIL("no line " << n);
    return {};
}

} // namespace

TEST_CASE("log view: an OOM incident's root cause is first and its evidence is highlighted in context", "[ui][logview]") {
    uitest::app();
    LogView v;
    v.resize(1000, 700);
    v.show();
    const QString path = sample("oom-java.log");
    REQUIRE(diagnoseAndWait(v, {path}));
    REQUIRE(v.report());
    REQUIRE(v.findingsModel()->rowCount() == int(v.report()->findings.size()));
    REQUIRE(v.findingsModel()->rowCount() >= 2);
    // The samples' README: oom-java.log's first finding is oom-killer.
    CHECK(v.findingsModel()->index(0, LogView::ColCategory).data().toString() == QStringLiteral("oom-killer"));
    CHECK(v.findingsModel()->index(0, LogView::ColId).data().toString() == QStringLiteral("F1"));
    CHECK(v.findingsModel()->index(0, LogView::ColSeverity).data().toString() ==
          QString::fromUtf8(logs::severity_name(v.report()->findings[0].severity).data()));

    // Select a later finding first, then the root cause (as clicks would): the context follows.
    selectAndWait(v, 1);
    selectAndWait(v, 0);
    const logs::Finding& f = v.report()->findings[0];
    REQUIRE_FALSE(f.evidence.empty());
    const std::string expected = fileLine(path, f.evidence[0].line);
    INFO("evidence " << f.evidence[0].source << ":" << f.evidence[0].line << " " << expected);
    CHECK(expected.find(f.evidence[0].text.substr(0, 40)) != std::string::npos);

    // The selection (and the bold extra selection) is exactly the evidence line's text, and its
    // block is that line in the file with its neighbours around it.
    QPlainTextEdit* ctx = v.contextView();
    CHECK(ctx->textCursor().selectedText().toStdString() == expected);
    std::vector<std::string> spans;
    for (const auto& s : ctx->extraSelections())
        if (s.cursor.hasSelection()) spans.push_back(s.cursor.selectedText().toStdString());
    REQUIRE(spans.size() == f.evidence.size());
    CHECK(spans[0] == expected);
    const QTextBlock block = ctx->textCursor().block();
    CHECK(block.text().endsWith(QString::fromStdString(expected)));
    CHECK(block.text().contains(QString::number(f.evidence[0].line)));
    if (f.evidence[0].line > 1)
        CHECK(block.previous().text().endsWith(QString::fromStdString(fileLine(path, f.evidence[0].line - 1))));
    CHECK(ctx->toPlainText().contains(QStringLiteral("%1:%2").arg(QString::fromStdString(f.evidence[0].source)).arg(f.evidence[0].line)));

    // The explanation tab: the agent's explanation and next commands for that finding.
    CHECK(v.explanationView()->toPlainText().contains(QString::fromStdString(f.explanation)));
    REQUIRE_FALSE(f.next_commands.empty());
    CHECK(v.explanationView()->toPlainText().contains(QString::fromStdString(f.next_commands[0])));
    // No model: the tab says none saw anything.
    CHECK(v.promptView()->toPlainText().startsWith(QStringLiteral("No model saw these logs")));

    const QString out = qEnvironmentVariable("SIGMAOPS_SCREENSHOT_DIR");
    const QImage shot = v.grab().toImage();
    CHECK(shot.width() >= 900);
    if (out.isEmpty()) return;   // only written when asked (docs/screenshots)
    REQUIRE(QDir().mkpath(out));
    REQUIRE(shot.save(out + QStringLiteral("/log_view.png")));
}

TEST_CASE("log view: a benign sample shows no finding above info", "[ui][logview]") {
    uitest::app();
    LogView v;
    v.show();
    for (const char* name : {"benign-graceful-restart.log", "benign-deploy.log", "benign-ssh-logins.log"}) {
        INFO(name);
        REQUIRE(diagnoseAndWait(v, {sample(name)}));
        for (int r = 0; r < v.findingsModel()->rowCount(); ++r) {
            const auto sev = logs::severity_from_text(v.findingsModel()->index(r, LogView::ColSeverity).data().toString().toStdString());
            CHECK(sev <= logs::Severity::Info);
        }
    }
}

TEST_CASE("log view: a large log's diagnosis shows progress and cancels cleanly, the UI responsive", "[ui][logview]") {
    uitest::app();
    uitest::TempHome home;
    const QString big = home.file("big.log");
    {
        std::ofstream o(big.toStdString());
        for (int i = 0; i < 1200000; ++i)
            o << "Jun 14 15:" << (10 + i / 120000) << ":" << (10 + (i / 1000) % 50) << " web01 app[" << (1000 + i % 97)
              << "]: request " << i << " served in " << (i % 300) << " ms for user u" << (i % 1000) << "\n";
    }
    REQUIRE(QFile(big).size() > 60 * 1024 * 1024);

    LogView v;
    v.show();
    quint64 max_bytes = 0, total = 0;
    QObject::connect(&v, &LogView::progressed, &v, [&](quint64 b, quint64 t, quint64) { max_bytes = std::max(max_bytes, b); total = t; });
    bool done = false, ok = true;
    QString why;
    QObject::connect(&v, &LogView::finished, &v, [&](bool good, const QString& m) { done = true; ok = good; why = m; });
    // Event-loop latency while the worker reads: a 5 ms timer's gaps.
    QElapsedTimer clock;
    clock.start();
    qint64 last = 0, worst = 0;
    QTimer tick;
    QObject::connect(&tick, &QTimer::timeout, [&] { const qint64 now = clock.elapsed(); worst = std::max(worst, now - last); last = now; });
    v.diagnose({big});
    last = clock.elapsed();
    tick.start(5);
    REQUIRE(uitest::waitFor([&] { return max_bytes > 0 || done; }, 20000));
    REQUIRE_FALSE(done);
    CHECK(v.progressBar()->isVisible());
    CHECK(v.progressBar()->value() > 0);
    CHECK(total == quint64(QFile(big).size()));
    CHECK(max_bytes < total);
    v.cancel();
    QElapsedTimer cancelled;
    cancelled.start();
    REQUIRE(uitest::waitFor([&] { return done; }, 5000));
    tick.stop();
    CHECK(cancelled.elapsed() < 2000);
    CHECK_FALSE(ok);
    CHECK(why == QStringLiteral("Cancelled"));
    CHECK(v.report() == nullptr);
    CHECK(v.findingsModel()->rowCount() == 0);
    CHECK_FALSE(v.progressBar()->isVisible());
    CHECK(v.statusText().startsWith(QStringLiteral("Cancelled")));
    INFO("worst event-loop gap " << worst << " ms");
    CHECK(worst < 500);   // loose: this machine is shared; the p99 latency test is issue 20's own
    // The view is usable again at once: the next diagnosis runs to its report.
    REQUIRE(diagnoseAndWait(v, {sample("oom-java.log")}));
    CHECK(v.findingsModel()->rowCount() > 0);
}

TEST_CASE("log view: 'what the model saw' is exactly the prompt build_prompt gives for the loaded model", "[ui][logview]") {
    uitest::app();
    uitest::TempHome home;
    const QString path = home.file("tiny.gguf");
    sigma::testing::TinyModelSpec spec;
    spec.spm_model = SIGMAOPS_FIXTURES "/tokenizer/spm.model";
    spec.name = "sigma-tiny-logview";
    sigma::testing::write_tiny_model(path.toStdString(), spec);
    auto loaded = sigmaops::llm::load_local(path.toStdString());
    REQUIRE(loaded);
    std::shared_ptr<const sigmaops::llm::Model> model = loaded->model;

    LogView v;
    v.setModel(model);
    v.show();
    REQUIRE(diagnoseAndWait(v, {sample("oom-java.log")}));
    auto p = logs::build_prompt(*v.report(), *model);
    REQUIRE(p);
    const QString shown = v.promptView()->toPlainText();
    CHECK(shown.contains(QString::fromStdString(p->text)));
    CHECK(shown.contains(QStringLiteral("UNTRUSTED LOG DATA")));

    // Ask the model (the button): logs::explain runs on the worker; its answer heads the
    // Explanation tab and the tab shows report.model->prompt, what it really saw.
    REQUIRE(v.canAskModel());
    QPushButton* ask = nullptr;
    for (QPushButton* b : v.findChildren<QPushButton*>())
        if (b->accessibleName() == QStringLiteral("Ask the model about the findings")) ask = b;
    REQUIRE(ask);
    REQUIRE(ask->isEnabled());
    bool done = false, ok = false;
    QObject::connect(&v, &LogView::finished, &v, [&](bool good, const QString&) { done = true; ok = good; });
    ask->click();
    CHECK(v.busy());
    REQUIRE(uitest::waitFor([&] { return done; }, 60000));
    REQUIRE(ok);
    REQUIRE(v.report()->model);
    const auto& m = *v.report()->model;
    CHECK_FALSE(m.prompt.empty());
    CHECK(v.promptView()->toPlainText().contains(QString::fromStdString(m.prompt)));
    CHECK(v.explanationView()->toPlainText().contains(QString::fromStdString(m.text)));
    CHECK(v.findingsModel()->rowCount() == int(v.report()->findings.size()));
}

TEST_CASE("log view: File > Diagnose logs... (Ctrl+L) opens it from the main window", "[ui][logview]") {
    uitest::app();
    uitest::TempHome home;
    sigmaops::ui::StartOptions options;
    options.model_path = home.file("missing.gguf");
    options.history_path = home.file("history.db");
    options.use_settings = false;
    sigmaops::ui::MainWindow window(options);
    window.show();
    window.start();
    QAction* act = nullptr;
    for (QAction* a : window.findChildren<QAction*>())
        if (a->text() == QStringLiteral("&Diagnose logs...")) act = a;
    REQUIRE(act);
    CHECK(act->shortcut() == QKeySequence(Qt::CTRL | Qt::Key_L));
    // Its file dialog is modal: closed (as Cancel would) once it shows; the view stays open, idle.
    QTimer closer;
    QObject::connect(&closer, &QTimer::timeout, [] { if (QWidget* m = QApplication::activeModalWidget()) m->close(); });
    closer.start(50);
    act->trigger();
    closer.stop();
    auto* view = window.findChild<LogView*>();
    REQUIRE(view);
    CHECK(view->isVisible());
    CHECK(view->isWindow());
    CHECK_FALSE(view->busy());
}
