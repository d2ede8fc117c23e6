// ui/log_view.cpp - see log_view.h.
#include "log_view.h"

#include <llm/llm.h>

#include <QCoreApplication>
#include <QFileDialog>
#include <QFileInfo>
#include <QHBoxLayout>
#include <QHeaderView>
#include <QItemSelectionModel>
#include <QLabel>
#include <QPlainTextEdit>
#include <QProgressBar>
#include <QPushButton>
#include <QSplitter>
#include <QStandardItemModel>
#include <QTabWidget>
#include <QTextBlock>
#include <QThread>
#include <QTreeView>
#include <QVBoxLayout>

#include <algorithm>
#include <map>
#include <vector>

namespace sigmaops::ui {

namespace {

QString qs(std::string_view s) { return QString::fromUtf8(s.data(), qsizetype(s.size())); }

QString humanBytes(quint64 b) {
    if (b >= (quint64(1) << 30)) return QStringLiteral("%1 GiB").arg(double(b) / double(quint64(1) << 30), 0, 'f', 1);
    if (b >= (quint64(1) << 20)) return QStringLiteral("%1 MiB").arg(double(b) / double(quint64(1) << 20), 0, 'f', 1);
    if (b >= 1024) return QStringLiteral("%1 KiB").arg(double(b) / 1024.0, 0, 'f', 1);
    return QStringLiteral("%1 B").arg(b);
}

// The context pane's text for one finding, made on a worker thread: the evidence lines with the
// lines around them, each block headed by source:line; `marks` are the evidence lines' text spans.
struct ContextText {
    QString text;
    std::vector<std::pair<int, int>> marks;   // (position, length) in `text`
};

// One window of lines of one file: [from, to] (1-based) around evidence line `line`.
struct Window {
    std::uint64_t line = 0, from = 0, to = 0;
    std::string label;
    std::string evidence;
};

ContextText readContext(const std::vector<std::pair<QString, std::vector<Window>>>& files, const std::atomic<bool>& cancel) {
    ContextText out;
    for (const auto& [path, windows] : files) {
        if (windows.empty()) continue;
        std::uint64_t last = 0;
        for (const Window& w : windows) last = std::max(last, w.to);
        // The lines needed, read once through the file (stops at the last needed line: bounded
        // by the position of the evidence, and each line by ReadOptions::max_line_bytes).
        std::map<std::uint64_t, std::string> lines;
        QString error;
        if (path.isEmpty()) {
            error = QCoreApplication::translate("LogView", "the file is not known to this view");
        } else if (auto r = logs::LineReader::open(path.toStdString())) {
            logs::Line line;
            while (!cancel.load() && r->next(line) && line.number <= last) {
                for (const Window& w : windows)
                    if (line.number >= w.from && line.number <= w.to) {
                        // Shown as the agent's evidence is: secret-looking values masked.
                        lines[line.number] = logs::mask_secrets(line.text);
                        break;
                    }
            }
        } else {
            error = qs(r.error().message);
        }
        // Windows that overlap or touch are shown as one block with all their evidence lines marked.
        std::vector<Window> sorted = windows;
        std::sort(sorted.begin(), sorted.end(), [](const Window& a, const Window& b) { return a.line < b.line; });
        std::vector<std::vector<Window>> groups;
        for (const Window& w : sorted) {
            if (!groups.empty() && w.from <= groups.back().back().to + 1) groups.back().push_back(w);
            else groups.push_back({w});
        }
        for (const auto& group : groups) {
            QStringList at;
            for (const Window& w : group) at << QString::number(w.line);
            out.text += QStringLiteral("── %1:%2 ──\n").arg(qs(group.front().label), at.join(QStringLiteral(", ")));
            bool missing = !error.isEmpty();
            for (const Window& w : group) missing = missing || !lines.count(w.line);
            if (missing) {
                out.text += QCoreApplication::translate("LogView", "(the lines could not be read again: %1; as recorded:)\n")
                                .arg(error.isEmpty() ? QCoreApplication::translate("LogView", "the file changed") : error);
                for (const Window& w : group) {
                    out.text += QStringLiteral("▶%1 ").arg(w.line, 7);
                    out.marks.emplace_back(int(out.text.size()), int(qs(w.evidence).size()));
                    out.text += qs(w.evidence) + QStringLiteral("\n");
                }
                out.text += QStringLiteral("\n");
                continue;
            }
            std::uint64_t to = 0;
            for (const Window& w : group) to = std::max(to, w.to);
            for (std::uint64_t n = group.front().from; n <= to; ++n) {
                auto it = lines.find(n);
                if (it == lines.end()) continue;
                const bool ev = std::any_of(group.begin(), group.end(), [n](const Window& w) { return w.line == n; });
                out.text += QStringLiteral("%1%2 ").arg(ev ? QStringLiteral("▶") : QStringLiteral(" ")).arg(n, 7);
                const QString t = qs(it->second);
                if (ev) out.marks.emplace_back(int(out.text.size()), int(t.size()));
                out.text += t + QStringLiteral("\n");
            }
            out.text += QStringLiteral("\n");
        }
    }
    return out;
}

} // namespace

LogView::LogView(QWidget* parent) : QWidget(parent) {
    setWindowTitle(tr("Diagnose logs"));
    setAccessibleName(tr("Log view"));

    m_open = new QPushButton(tr("&Open logs..."), this);
    m_open->setAccessibleName(tr("Open log files to diagnose"));
    m_cancel_button = new QPushButton(tr("Cancel"), this);
    m_cancel_button->setAccessibleName(tr("Cancel the diagnosis"));
    m_cancel_button->setEnabled(false);
    m_ask = new QPushButton(tr("&Ask the model"), this);
    m_ask->setAccessibleName(tr("Ask the model about the findings"));
    m_ask->setToolTip(tr("The loaded model reads the findings and a digest (never the raw log) and names a root cause"));
    m_ask->setEnabled(false);
    m_progress = new QProgressBar(this);
    m_progress->setAccessibleName(tr("Diagnosis progress"));
    m_progress->setRange(0, 1000);
    m_progress->setValue(0);
    m_progress->setTextVisible(false);
    m_progress->setVisible(false);
    m_status = new QLabel(tr("Open one or more log files (plain or .gz) to diagnose them."), this);
    m_status->setAccessibleName(tr("Diagnosis status"));
    m_status->setTextFormat(Qt::PlainText);
    m_status->setWordWrap(true);

    m_open->setSizePolicy(QSizePolicy::Maximum, QSizePolicy::Fixed);
    m_cancel_button->setSizePolicy(QSizePolicy::Maximum, QSizePolicy::Fixed);
    m_ask->setSizePolicy(QSizePolicy::Maximum, QSizePolicy::Fixed);
    auto* top = new QHBoxLayout;
    top->addWidget(m_open);
    top->addWidget(m_progress, 1);
    top->addStretch(0);   // takes the room while the progress bar is hidden
    top->addWidget(m_ask);
    top->addWidget(m_cancel_button);

    m_model = new QStandardItemModel(0, NColumns, this);
    m_model->setHorizontalHeaderLabels({tr("Id"), tr("Severity"), tr("Category"), tr("Count"), tr("First seen (UTC)"),
                                        tr("Last seen (UTC)")});
    m_view = new QTreeView(this);
    m_view->setAccessibleName(tr("Findings"));
    m_view->setModel(m_model);
    m_view->setRootIsDecorated(false);
    m_view->setUniformRowHeights(true);
    m_view->setEditTriggers(QAbstractItemView::NoEditTriggers);
    m_view->setSelectionBehavior(QAbstractItemView::SelectRows);
    m_view->setSelectionMode(QAbstractItemView::SingleSelection);
    m_view->header()->setStretchLastSection(true);

    auto plain = [this](const QString& name) {
        auto* e = new QPlainTextEdit(this);
        e->setReadOnly(true);
        e->setAccessibleName(name);
        e->setLineWrapMode(QPlainTextEdit::NoWrap);
        QFont f = e->font();
        f.setFamily(QStringLiteral("monospace"));
        f.setStyleHint(QFont::Monospace);
        e->setFont(f);
        return e;
    };
    m_context = plain(tr("Evidence in context"));
    m_explanation = plain(tr("Explanation and next commands"));
    m_explanation->setLineWrapMode(QPlainTextEdit::WidgetWidth);
    m_prompt = plain(tr("What the model saw"));
    m_prompt->setLineWrapMode(QPlainTextEdit::WidgetWidth);
    m_tabs = new QTabWidget(this);
    m_tabs->setAccessibleName(tr("Finding details"));
    m_tabs->addTab(m_context, tr("&Evidence"));
    m_tabs->addTab(m_explanation, tr("E&xplanation"));
    m_tabs->addTab(m_prompt, tr("What the &model saw"));

    auto* split = new QSplitter(Qt::Vertical, this);
    split->addWidget(m_view);
    split->addWidget(m_tabs);
    split->setStretchFactor(0, 1);
    split->setStretchFactor(1, 2);
    split->setChildrenCollapsible(false);

    auto* layout = new QVBoxLayout(this);
    layout->addLayout(top);
    layout->addWidget(m_status);
    layout->addWidget(split, 1);

    connect(m_open, &QPushButton::clicked, this, &LogView::openFiles);
    connect(m_cancel_button, &QPushButton::clicked, this, &LogView::cancel);
    connect(m_ask, &QPushButton::clicked, this, &LogView::askModel);
    connect(m_view->selectionModel(), &QItemSelectionModel::currentRowChanged, this,
            [this](const QModelIndex& current) { showFinding(current.isValid() ? current.row() : -1); });
    m_prompt->setPlainText(tr("No diagnosis yet."));
}

LogView::~LogView() {
    if (m_cancel) m_cancel->store(true);
    if (m_context_cancel) m_context_cancel->store(true);
    for (QThread* t : {m_thread, m_context_thread})
        if (t) {
            t->wait();
            delete t;
        }
}

void LogView::setModel(std::shared_ptr<const llm::Model> model) {
    m_llm = std::move(model);
    m_ask->setEnabled(canAskModel());
}

bool LogView::canAskModel() const { return m_llm && m_report && !m_report->findings.empty() && !busy(); }

QString LogView::promptText(const logs::ModelAnswer& m) const {
    QString t = tr("What %1 saw (%2 prompt tokens, chat template applied; it answered in %3 tokens):")
                    .arg(qs(m.model)).arg(m.n_prompt_tokens).arg(m.n_tokens) +
                QStringLiteral("\n\n") + qs(m.prompt);
    if (!m.left_out.empty()) {
        t += tr("\n\nLeft out to fit the context:\n");
        for (const auto& l : m.left_out) t += QStringLiteral("  ") + qs(l) + QStringLiteral("\n");
    }
    return t;
}

void LogView::setIdle() {
    if (m_thread) {
        m_thread->wait();
        delete m_thread;
        m_thread = nullptr;
    }
    m_progress->setVisible(false);
    m_cancel_button->setEnabled(false);
    m_open->setEnabled(true);
    m_ask->setEnabled(canAskModel());
}

void LogView::askModel() {
    if (!canAskModel()) return;
    // The worker answers on a copy; the view keeps showing m_report until the answer is in.
    auto copy = std::make_shared<logs::Report>(*m_report);
    m_cancel = std::make_shared<std::atomic<bool>>(false);
    m_progress->setRange(0, 0);
    m_progress->setVisible(true);
    m_cancel_button->setEnabled(true);
    m_open->setEnabled(false);
    m_ask->setEnabled(false);
    m_status->setText(tr("The model is reading the findings..."));
    m_thread = QThread::create([this, copy, model = m_llm, cancel = m_cancel] {
        logs::ExplainOptions options;
        options.cancel = cancel.get();
        auto r = logs::explain(*copy, *model, options);
        QString error;
        bool cancelled = false;
        if (!r) {
            cancelled = r.error().code == ErrorCode::Cancelled;
            error = qs(r.error().message);
        } else if (cancel->load() && !copy->model) {
            cancelled = true;
        }
        QMetaObject::invokeMethod(this, [this, copy, error, cancelled] { onExplained(copy, error, cancelled); },
                                  Qt::QueuedConnection);
    });
    m_thread->start();
}

void LogView::onExplained(std::shared_ptr<logs::Report> report, QString error, bool cancelled) {
    m_thread->wait();
    delete m_thread;
    m_thread = nullptr;
    if (cancelled || !error.isEmpty() || !report->model) {
        setIdle();
        m_status->setText(cancelled ? tr("Cancelled: the model's answer was stopped.") : tr("The model could not answer: %1").arg(error));
        emit finished(false, cancelled ? tr("Cancelled") : error);
        return;
    }
    const int row = m_view->currentIndex().isValid() ? m_view->currentIndex().row() : -1;
    m_report = std::move(report);   // the same findings, now with the model's answer
    setIdle();
    const logs::ModelAnswer& m = *m_report->model;
    m_prompt->setPlainText(promptText(m));
    QString status = tr("%1 answered; root cause: %2.").arg(qs(m.model), m.root_cause.empty() ? tr("none named") : qs(m.root_cause));
    if (!m.disagreement.empty()) status += QStringLiteral(" ") + qs(m.disagreement);
    if (!m.flag.empty()) status += QStringLiteral(" ") + tr("Check it: %1.").arg(qs(m.flag));
    m_status->setText(status);
    showFinding(row);
    emit finished(true, QString());
}

QString LogView::statusText() const { return m_status->text(); }

void LogView::openFiles() {
    if (busy()) return;
    const QStringList paths = QFileDialog::getOpenFileNames(this, tr("Diagnose logs"), QStringLiteral("/var/log"),
                                                            tr("Logs (*.log *.gz *log* *.txt);;All files (*)"));
    if (!paths.isEmpty()) diagnose(paths);
}

void LogView::diagnose(const QStringList& paths) {
    if (busy() || paths.isEmpty()) return;
    m_paths = paths;
    m_report.reset();
    m_model->removeRows(0, m_model->rowCount());
    m_context->clear();
    m_explanation->clear();
    m_prompt->clear();
    m_shown_finding.clear();
    m_cancel = std::make_shared<std::atomic<bool>>(false);
    m_progress->setRange(0, 1000);
    m_progress->setValue(0);
    m_progress->setVisible(true);
    m_cancel_button->setEnabled(true);
    m_open->setEnabled(false);
    m_ask->setEnabled(false);
    m_status->setText(tr("Reading %n file(s)...", nullptr, int(paths.size())));

    std::vector<std::string> files;
    for (const QString& p : paths) files.push_back(p.toStdString());
    // Everything below runs on the worker; it talks back only through queued calls on `this`
    // (dropped if the view is gone, which also joins this thread first).
    m_thread = QThread::create([this, files, cancel = m_cancel, model = m_llm] {
        std::vector<logs::Source> sources;
        for (const auto& f : files) sources.push_back(logs::open_source(f));
        logs::DiagnoseOptions options;
        options.cancel = cancel.get();
        options.progress = [this](const logs::DiagnoseProgress& p) {
            double fraction = 0;
            if (p.n_sources) {
                const double within = p.bytes_total ? std::min(1.0, double(p.bytes_read) / double(p.bytes_total)) : 0.0;
                fraction = (double(p.i_source) + (p.done ? 1.0 : within)) / double(p.n_sources);
            }
            logs::DiagnoseProgress copy = p;
            auto name = std::make_shared<std::string>(p.source);
            QMetaObject::invokeMethod(this, [this, copy, name, fraction]() mutable {
                copy.source = *name;
                onProgress(copy, std::min(1.0, fraction));
            }, Qt::QueuedConnection);
        };
        auto r = logs::diagnose(std::move(sources), options);
        std::shared_ptr<logs::Report> report;
        QString error, prompt;
        bool cancelled = false;
        if (!r) {
            cancelled = r.error().code == ErrorCode::Cancelled;
            error = qs(r.error().message);
        } else {
            report = std::make_shared<logs::Report>(std::move(*r));
            if (report->model) {
                prompt = qs(report->model->prompt);
            } else if (!model) {
                prompt = QCoreApplication::translate("LogView",
                    "No model saw these logs: none is loaded. The findings come from the log agent's rules alone "
                    "(deterministic; nothing was sent anywhere). With a model loaded (File > Open model...), this tab shows "
                    "the exact prompt it would be given: the findings and a digest of templates, never the raw log.");
            } else if (report->findings.empty()) {
                prompt = QCoreApplication::translate("LogView", "No finding, so nothing would be asked of the model.");
            } else if (auto p = logs::build_prompt(*report, *model)) {
                prompt = QCoreApplication::translate("LogView", "The model has not been asked yet; this is exactly the prompt it would get "
                                                                 "(%1 tokens, chat template applied):\n\n").arg(p->n_tokens) +
                         qs(p->text);
                if (!p->left_out.empty()) {
                    prompt += QCoreApplication::translate("LogView", "\n\nLeft out to fit the context:\n");
                    for (const auto& l : p->left_out) prompt += QStringLiteral("  ") + qs(l) + QStringLiteral("\n");
                }
            } else {
                prompt = QCoreApplication::translate("LogView", "The prompt could not be built: %1").arg(qs(p.error().message));
            }
        }
        QMetaObject::invokeMethod(this, [this, report, error, prompt, cancelled] { onDone(report, error, prompt, cancelled); },
                                  Qt::QueuedConnection);
    });
    m_thread->start();
}

void LogView::cancel() {
    if (!m_cancel || !busy()) return;
    m_cancel->store(true);
    m_cancel_button->setEnabled(false);
    m_status->setText(tr("Cancelling..."));
}

void LogView::onProgress(const logs::DiagnoseProgress& p, double fraction) {
    if (!busy()) return;
    const QString name = QFileInfo(qs(p.source)).fileName();
    if (p.bytes_total) {
        if (m_progress->maximum() == 0) m_progress->setRange(0, 1000);
        m_progress->setValue(int(fraction * 1000));
        m_status->setText(tr("Reading %1 (%2 of %3): %4 of %5, %6 lines")
                              .arg(name).arg(p.i_source + 1).arg(p.n_sources)
                              .arg(humanBytes(p.bytes_read), humanBytes(p.bytes_total)).arg(p.lines));
    } else {
        m_progress->setRange(0, 0);   // size unknown: a busy bar and the line count
        m_status->setText(tr("Reading %1 (%2 of %3): %4 lines").arg(name).arg(p.i_source + 1).arg(p.n_sources).arg(p.lines));
    }
    emit progressed(p.bytes_read, p.bytes_total, p.lines);
}

void LogView::onDone(std::shared_ptr<logs::Report> report, QString error, QString prompt, bool cancelled) {
    setIdle();
    if (!report) {
        m_status->setText(cancelled ? tr("Cancelled: no findings shown.") : tr("Diagnosis failed: %1").arg(error));
        m_prompt->setPlainText(tr("No diagnosis finished."));
        emit finished(false, cancelled ? tr("Cancelled") : error);
        return;
    }
    m_report = std::move(report);
    m_ask->setEnabled(canAskModel());
    m_prompt->setPlainText(m_report->model ? promptText(*m_report->model) : prompt);
    for (const logs::Finding& f : m_report->findings) {
        QList<QStandardItem*> row;
        for (int c = 0; c < NColumns; ++c) row.append(new QStandardItem);
        row[ColId]->setText(qs(f.id));
        row[ColSeverity]->setText(qs(logs::severity_name(f.severity)));
        row[ColCategory]->setText(qs(f.category));
        row[ColCategory]->setToolTip(qs(f.title));
        row[ColCount]->setData(qulonglong(f.count), Qt::DisplayRole);
        row[ColFirst]->setText(f.has_time ? qs(logs::utc_text(f.first_ms)) : QStringLiteral("—"));
        row[ColLast]->setText(f.has_time ? qs(logs::utc_text(f.last_ms)) : QStringLiteral("—"));
        if (f.severity >= logs::Severity::Error) row[ColSeverity]->setForeground(QColor(0xc6, 0x28, 0x28));
        else if (f.severity >= logs::Severity::Warning) row[ColSeverity]->setForeground(QColor(0xb2, 0x6a, 0x00));
        m_model->appendRow(row);
    }
    for (int c = 0; c < NColumns - 1; ++c) m_view->resizeColumnToContents(c);
    QStringList errors;
    for (const auto& s : m_report->sources)
        if (s.error) errors << QStringLiteral("%1: %2").arg(qs(s.name), qs(*s.error));
    QString status = tr("%n finding(s) in %1 records (%2 templates), ranked causes first.", nullptr, int(m_report->findings.size()))
                         .arg(m_report->n_records).arg(m_report->n_templates);
    if (m_report->findings.empty()) status = tr("No findings in %1 records: nothing known went wrong.").arg(m_report->n_records);
    if (!errors.isEmpty()) status += QStringLiteral("\n") + tr("Not read: %1").arg(errors.join(QStringLiteral("; ")));
    m_status->setText(status);
    emit finished(true, QString());
    if (m_model->rowCount() > 0) m_view->setCurrentIndex(m_model->index(0, 0));
}

QString LogView::pathFor(const std::string& label) const {
    const QString l = qs(label);
    for (const QString& p : m_paths)
        if (QFileInfo(p).fileName() == l || p == l) return p;
    return QString();
}

void LogView::showFinding(int row) {
    m_context->setExtraSelections({});
    if (!m_report || row < 0 || row >= int(m_report->findings.size())) {
        m_context->clear();
        m_explanation->clear();
        return;
    }
    const logs::Finding& f = m_report->findings[std::size_t(row)];
    QString e;
    if (m_report->model) {
        const logs::ModelAnswer& m = *m_report->model;
        e += tr("The model's answer (%1; it saw the findings and a digest, never the raw log):").arg(qs(m.model)) +
             QStringLiteral("\n") + qs(m.text) + QStringLiteral("\n");
        if (!m.disagreement.empty()) e += qs(m.disagreement) + QStringLiteral("\n");
        if (!m.flag.empty()) e += tr("Check it: %1").arg(qs(m.flag)) + QStringLiteral("\n");
        e += QStringLiteral("\n");
    }
    e += QStringLiteral("[%1] %2 (%3, %4)\n\n").arg(qs(f.id), qs(f.title), qs(logs::severity_name(f.severity)), qs(f.category));
    e += qs(f.explanation) + QStringLiteral("\n\n");
    if (!f.next_commands.empty()) {
        e += tr("Next commands (read-only; run them yourself):") + QStringLiteral("\n");
        for (const auto& c : f.next_commands) e += QStringLiteral("  $ ") + qs(c) + QStringLiteral("\n");
    }
    m_explanation->setPlainText(e);
    m_context->setPlainText(tr("Reading the evidence lines..."));
    loadContext(row);
}

void LogView::loadContext(int row) {
    const logs::Finding& f = m_report->findings[std::size_t(row)];
    // Group the evidence windows by file, in order of the evidence.
    std::vector<std::pair<QString, std::vector<Window>>> files;
    for (const logs::Evidence& ev : f.evidence) {
        Window w;
        w.line = ev.line;
        w.from = ev.line > std::uint64_t(k_context_lines) ? ev.line - k_context_lines : 1;
        w.to = ev.line + k_context_lines;
        w.label = ev.source;
        w.evidence = ev.text;
        const QString path = pathFor(ev.source);
        auto it = std::find_if(files.begin(), files.end(), [&](const auto& p) { return p.first == path; });
        if (it == files.end()) files.push_back({path, {w}});
        else it->second.push_back(w);
    }
    if (m_context_cancel) m_context_cancel->store(true);
    if (m_context_thread) {
        m_context_thread->wait();
        delete m_context_thread;
        m_context_thread = nullptr;
    }
    m_context_cancel = std::make_shared<std::atomic<bool>>(false);
    const quint64 generation = ++m_context_generation;
    const QString id = qs(f.id);
    m_context_thread = QThread::create([this, files, cancel = m_context_cancel, generation, id] {
        auto text = std::make_shared<ContextText>(readContext(files, *cancel));
        if (cancel->load()) return;
        QMetaObject::invokeMethod(this, [this, text, generation, id] {
            if (generation != m_context_generation) return;   // another finding was selected since
            m_context->setPlainText(text->text);
            QList<QTextEdit::ExtraSelection> marks;
            QTextCharFormat line;
            line.setBackground(palette().color(QPalette::Highlight).lighter(170));
            line.setProperty(QTextFormat::FullWidthSelection, true);
            QTextCharFormat words;
            words.setFontWeight(QFont::Bold);
            for (const auto& [pos, len] : text->marks) {
                QTextCursor c(m_context->document());
                c.setPosition(pos);
                QTextEdit::ExtraSelection whole{c, line};
                marks.append(whole);
                c.setPosition(pos + len, QTextCursor::KeepAnchor);
                QTextEdit::ExtraSelection span{c, words};
                marks.append(span);
            }
            m_context->setExtraSelections(marks);
            if (!text->marks.empty()) {
                QTextCursor c(m_context->document());
                c.setPosition(text->marks.front().first + text->marks.front().second);
                c.setPosition(text->marks.front().first, QTextCursor::KeepAnchor);
                m_context->setTextCursor(c);
                m_context->centerCursor();
            }
            m_shown_finding = id;
            emit contextShown(id);
        }, Qt::QueuedConnection);
    });
    m_context_thread->start();
}

} // namespace sigmaops::ui
