// ui/approval_dialog.h - the desktop's command approval dialog (issue 20 item 4): the command
// (editable), the target host, the risk level with its reasons, one line per part of the command
// (each program it runs, with what the documentation says it is) and the agent's explanation.
//
// Consent is the commands agent's, not the widget's: the dialog only gathers the person's answer;
// decide() hands it to commands::confirm() through a Confirmer (DialogConfirmer), and only
// confirm() makes an Approval. The Confirmer answers for exactly the request the dialog showed
// last (command, host, risk, sudo): an Approval never covers text the person did not see rated.
//
// Re-check after an edit: every edit disables Run and clears a typed host name; after a short
// pause the edited text is made a new Proposal (commands::make_proposal: parsed and rated by the
// shell agent) and the risk, reasons and parts are shown again before Run can enable. Unknown,
// destructive and irreversible commands need the target's host name typed exactly (as
// commands::needs_typed_host says) and Enter never runs them; Escape and Cancel reject.
#pragma once

#include <commands/commands.h>
#include <knowledge/knowledge.h>

#include <QDialog>
#include <QString>

#include <memory>

class QLabel;
class QLineEdit;
class QPushButton;
class QThread;
class QTimer;

namespace sigmaops::ui {

class ApprovalDialog : public QDialog {
    Q_OBJECT
public:
    // `docs` (may be nullptr: no per-part documentation) must outlive the dialog.
    explicit ApprovalDialog(commands::Proposal proposal, QWidget* parent = nullptr,
                            knowledge::DocCache* docs = nullptr);
    ~ApprovalDialog() override;

    // The proposal as last rated (the edited text once an edit was re-checked).
    const commands::Proposal& proposal() const { return m_proposal; }
    // The request the dialog shows (commands::confirm_request of proposal()).
    const commands::ConfirmRequest& shown() const { return m_request; }
    // True when no edit is waiting to be re-checked.
    bool checked() const { return !m_pending && !m_parts_pending; }
    // Whether Run is enabled now.
    bool runEnabled() const;

    // After the dialog finished: asks commands::confirm() about proposal() with the person's
    // answer (Run: yes and the typed host name; Cancel/Escape/close: no). The Verdict holds the
    // Approval, or why there is none.
    commands::Verdict decide();

    // Re-checks a pending edit now (the pause after typing is skipped).
    void recheckNow();

protected:
    void keyPressEvent(QKeyEvent* event) override;

private:
    void onCommandEdited();
    void recheck();
    void display(const commands::Proposal& p);
    void updateRun();
    void explainParts();

    friend class DialogConfirmer;
    commands::Answer personAnswer() const;

    commands::Proposal m_proposal;
    commands::ConfirmRequest m_request;
    std::string m_original_text;   // the text as proposed (its explanation is for that text)
    knowledge::DocCache* m_docs = nullptr;
    bool m_pending = false;
    bool m_parts_pending = false;   // the documentation of the parts is being read
    std::string m_parts_text;       // the text whose parts are shown / being explained
    QThread* m_docs_thread = nullptr;
    QLineEdit* m_command = nullptr;
    QLabel* m_host = nullptr;
    QLabel* m_risk = nullptr;
    QLabel* m_reasons = nullptr;
    QLabel* m_parts = nullptr;
    QLabel* m_explanation = nullptr;
    QLabel* m_typed_prompt = nullptr;
    QLabel* m_typed_label = nullptr;
    QLineEdit* m_typed = nullptr;
    QPushButton* m_run = nullptr;
    QPushButton* m_cancel = nullptr;
    QTimer* m_recheck_timer = nullptr;
};

// The commands agent's Confirmer for a finished ApprovalDialog: the person's answer, given only
// for the request the dialog showed (anything else is unanswered). It never says yes by itself.
class DialogConfirmer final : public commands::Confirmer {
public:
    explicit DialogConfirmer(const ApprovalDialog& dialog) : m_dialog(dialog) {}
    commands::Answer ask(const commands::ConfirmRequest& request) override;

private:
    const ApprovalDialog& m_dialog;
};

// Shows the dialog modally for `proposal` and returns the (possibly edited) proposal with the
// verdict: what the desktop calls before commands::Runner::run().
struct Decision {
    commands::Proposal proposal;
    commands::Verdict verdict;
};
Decision askApproval(commands::Proposal proposal, QWidget* parent = nullptr, knowledge::DocCache* docs = nullptr);

} // namespace sigmaops::ui
