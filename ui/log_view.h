// ui/log_view.h - the desktop's log view (issue 20 item 3): open log files, diagnose them with the
// log agent (logs::diagnose) on a worker thread with a progress bar and Cancel, list the findings
// (rank order: causes first, then severity), and for the selected finding show its evidence lines
// highlighted in context (read from the source file on demand, bounded), its explanation and
// next commands, and "what the model saw": the exact prompt (logs::build_prompt's text, or the
// report's model.prompt when the model ran), or that no model saw anything.
//
// No agent logic here: findings, ranking, evidence, explanations and the prompt all come from
// agents/logs' public header. The widget never runs the agent on the UI thread; the worker
// threads report through queued calls only, and are stopped (cancel flag) and joined before the
// view is gone. Text from logs is shown as plain text only (QPlainTextEdit, items, PlainText
// labels); LineReader already removed escape sequences and repaired UTF-8.
#pragma once

#include <logs/logs.h>

#include <QString>
#include <QStringList>
#include <QWidget>

#include <atomic>
#include <memory>

class QLabel;
class QPlainTextEdit;
class QProgressBar;
class QPushButton;
class QStandardItemModel;
class QTabWidget;
class QThread;
class QTreeView;

namespace sigmaops::llm { class Model; }

namespace sigmaops::ui {

class LogView : public QWidget {
    Q_OBJECT
public:
    // Columns of the findings model.
    enum Column { ColId, ColSeverity, ColCategory, ColCount, ColFirst, ColLast, NColumns };
    // Lines shown before and after each evidence line.
    static constexpr int k_context_lines = 6;

    explicit LogView(QWidget* parent = nullptr);
    ~LogView() override;   // cancels and joins the workers

    // The model whose prompt "what the model saw" shows (may be null: the tab says none ran).
    void setModel(std::shared_ptr<const llm::Model> model);

    // Diagnoses `paths` (plain or .gz files) on a worker thread; ignored while one runs.
    void diagnose(const QStringList& paths);
    // Asks the loaded model about the last report (logs::explain: greedy, held to the report's
    // answer grammar) on a worker thread; its answer heads the Explanation tab and the prompt it
    // saw (report.model->prompt) fills "what the model saw". Ignored without a model, a report
    // with findings, or while busy. Ends with finished(); Cancel stops it.
    void askModel();
    // Asks the running diagnosis (or model answer) to stop (it ends with "Cancelled").
    void cancel();
    bool busy() const { return m_thread != nullptr; }
    bool canAskModel() const;

    // The last finished report (null before one, or after a failed/cancelled run).
    const logs::Report* report() const { return m_report.get(); }
    QStandardItemModel* findingsModel() const { return m_model; }
    QTreeView* findingsView() const { return m_view; }
    QPlainTextEdit* contextView() const { return m_context; }
    QPlainTextEdit* explanationView() const { return m_explanation; }
    QPlainTextEdit* promptView() const { return m_prompt; }
    QProgressBar* progressBar() const { return m_progress; }
    QString statusText() const;
    // The finding whose evidence the context pane shows once contextShown() is emitted.
    QString shownFinding() const { return m_shown_finding; }

signals:
    void progressed(quint64 bytesRead, quint64 bytesTotal, quint64 lines);
    // ok: a report is shown; otherwise `message` says why not (Cancelled, an error).
    void finished(bool ok, const QString& message);
    // The context of the selected finding's evidence is in contextView().
    void contextShown(const QString& findingId);

public slots:
    // File dialog, then diagnose().
    void openFiles();

private:
    void onProgress(const logs::DiagnoseProgress& p, double fraction);
    void onDone(std::shared_ptr<logs::Report> report, QString error, QString prompt, bool cancelled);
    void onExplained(std::shared_ptr<logs::Report> report, QString error, bool cancelled);
    void setIdle();
    QString promptText(const logs::ModelAnswer& m) const;
    void showFinding(int row);
    void loadContext(int row);
    QString pathFor(const std::string& label) const;

    std::shared_ptr<const llm::Model> m_llm;
    std::shared_ptr<logs::Report> m_report;
    QStringList m_paths;                     // the files of the last diagnosis
    std::shared_ptr<std::atomic<bool>> m_cancel;
    QThread* m_thread = nullptr;             // the diagnosis
    QThread* m_context_thread = nullptr;     // reading evidence context
    std::shared_ptr<std::atomic<bool>> m_context_cancel;
    quint64 m_context_generation = 0;
    QString m_shown_finding;

    QPushButton* m_open = nullptr;
    QPushButton* m_cancel_button = nullptr;
    QPushButton* m_ask = nullptr;
    QProgressBar* m_progress = nullptr;
    QLabel* m_status = nullptr;
    QStandardItemModel* m_model = nullptr;
    QTreeView* m_view = nullptr;
    QTabWidget* m_tabs = nullptr;
    QPlainTextEdit* m_context = nullptr;
    QPlainTextEdit* m_explanation = nullptr;
    QPlainTextEdit* m_prompt = nullptr;
};

} // namespace sigmaops::ui
