// ui/approval_dialog.cpp - see approval_dialog.h.
#include "approval_dialog.h"

#include <QCoreApplication>
#include <QDialogButtonBox>
#include <QFormLayout>
#include <QKeyEvent>
#include <QLabel>
#include <QLineEdit>
#include <QPushButton>
#include <QThread>
#include <QTimer>
#include <QVBoxLayout>

namespace sigmaops::ui {

namespace {

QString qs(std::string_view s) { return QString::fromUtf8(s.data(), int(s.size())); }

// The risk's colour (background, text) and its words: the level is always written out, the colour
// only repeats it.
struct RiskLook {
    const char* bg;
    const char* fg;
    const char* note;
};
RiskLook look(shell::Risk r) {
    switch (r) {
    case shell::Risk::ReadOnly: return {"#d7f5dd", "#0b4d1a", "reads only"};
    case shell::Risk::ChangesFiles: return {"#fff3c4", "#5c4400", "changes files"};
    case shell::Risk::ChangesSystem: return {"#ffe0b8", "#6b3200", "changes the system"};
    case shell::Risk::Unknown: return {"#ffd6d6", "#7a0000", "cannot be rated: treated as destructive"};
    case shell::Risk::Destructive: return {"#ffc2c2", "#7a0000", "destroys data"};
    case shell::Risk::Irreversible: return {"#b00020", "#ffffff", "cannot be undone"};
    }
    return {"#ffd6d6", "#7a0000", ""};
}

constexpr int k_recheck_ms = 300;   // the pause after the last keystroke before the re-check

} // namespace

ApprovalDialog::ApprovalDialog(commands::Proposal proposal, QWidget* parent, knowledge::DocCache* docs)
    : QDialog(parent), m_proposal(std::move(proposal)), m_docs(docs) {
    setWindowTitle(tr("Run this command?"));
    setAccessibleName(tr("Command approval"));
    setModal(true);
    m_original_text = m_proposal.text;

    auto* form = new QFormLayout;
    m_command = new QLineEdit(this);
    m_command->setText(qs((m_proposal.sudo ? "sudo " : "") + m_proposal.text));
    m_command->setAccessibleName(tr("Command"));
    m_command->setAccessibleDescription(tr("The command to run; an edit is rated again before it can run"));
    m_command->setMinimumWidth(520);
    form->addRow(tr("&Command:"), m_command);

    m_host = new QLabel(this);
    m_host->setAccessibleName(tr("Target host"));
    m_host->setTextInteractionFlags(Qt::TextSelectableByMouse);
    form->addRow(tr("Runs on:"), m_host);

    m_risk = new QLabel(this);
    m_risk->setAccessibleName(tr("Risk level"));
    m_risk->setMargin(4);
    form->addRow(tr("Risk:"), m_risk);

    m_reasons = new QLabel(this);
    m_reasons->setAccessibleName(tr("Risk reasons"));
    m_reasons->setWordWrap(true);
    m_reasons->setTextInteractionFlags(Qt::TextSelectableByMouse);
    form->addRow(tr("Why:"), m_reasons);

    m_parts = new QLabel(this);
    m_parts->setAccessibleName(tr("Parts of the command"));
    m_parts->setWordWrap(true);
    m_parts->setTextInteractionFlags(Qt::TextSelectableByMouse);
    form->addRow(tr("Parts:"), m_parts);

    m_explanation = new QLabel(this);
    m_explanation->setAccessibleName(tr("Explanation"));
    m_explanation->setWordWrap(true);
    m_explanation->setTextInteractionFlags(Qt::TextSelectableByMouse);
    form->addRow(tr("Explanation:"), m_explanation);

    m_typed_prompt = new QLabel(this);
    m_typed_prompt->setWordWrap(true);
    m_typed = new QLineEdit(this);
    m_typed->setAccessibleName(tr("Type the host name to confirm"));
    m_typed_label = new QLabel(tr("&Host name:"), this);
    m_typed_label->setBuddy(m_typed);
    form->addRow(m_typed_prompt);
    form->addRow(m_typed_label, m_typed);

    auto* buttons = new QDialogButtonBox(this);
    m_run = buttons->addButton(tr("&Run"), QDialogButtonBox::AcceptRole);
    m_run->setAccessibleName(tr("Run the command"));
    m_cancel = buttons->addButton(QDialogButtonBox::Cancel);
    m_cancel->setAccessibleName(tr("Cancel: do not run"));
    // Enter is handled in keyPressEvent (never for a command that needs the host name typed).
    m_run->setAutoDefault(false);
    m_run->setDefault(false);
    m_cancel->setAutoDefault(false);
    connect(m_run, &QPushButton::clicked, this, [this] {
        if (runEnabled()) accept();
    });
    connect(m_cancel, &QPushButton::clicked, this, &QDialog::reject);

    auto* layout = new QVBoxLayout(this);
    layout->addLayout(form);
    layout->addWidget(buttons);

    m_recheck_timer = new QTimer(this);
    m_recheck_timer->setSingleShot(true);
    m_recheck_timer->setInterval(k_recheck_ms);
    connect(m_recheck_timer, &QTimer::timeout, this, &ApprovalDialog::recheck);
    connect(m_command, &QLineEdit::textEdited, this, &ApprovalDialog::onCommandEdited);
    connect(m_typed, &QLineEdit::textChanged, this, &ApprovalDialog::updateRun);

    display(m_proposal);
    m_command->setFocus();
}

ApprovalDialog::~ApprovalDialog() {
    if (m_docs_thread) m_docs_thread->wait();   // it uses m_docs (man has a 10 s limit per page)
}

// One explanation at a time on the DocCache (not thread-safe); the latest text wins.
void ApprovalDialog::explainParts() {
    if (m_docs_thread) return;   // finished() starts the next one for m_parts_text
    const std::string text = m_parts_text;
    auto lines = std::make_shared<QStringList>();
    m_docs_thread = QThread::create([docs = m_docs, text, lines] {
        auto ex = knowledge::explain(text, *docs);
        if (!ex) return;
        for (const knowledge::ProgramUse& u : ex->programs) {
            QString line = QStringLiteral("\u2022 ") + qs(commands::visible(u.program));
            if (!u.wrappers.empty()) {
                QStringList w;
                for (const auto& x : u.wrappers) w << qs(commands::visible(x));
                line += QCoreApplication::translate("ApprovalDialog", " (through %1)").arg(w.join(QStringLiteral(", ")));
            }
            line += QStringLiteral(": ") + (u.summary.empty() ? QCoreApplication::translate("ApprovalDialog", "not documented here")
                                                              : qs(commands::visible(u.summary)));
            *lines << line;
        }
        for (const knowledge::FlagProblem& f : ex->unknown) *lines << QStringLiteral("\u2022 ") + qs(commands::visible(f.message));
    });
    connect(m_docs_thread, &QThread::finished, this, [this, text, lines] {
        m_docs_thread->deleteLater();
        m_docs_thread = nullptr;
        if (!m_parts_pending) return;
        if (text != m_parts_text) {   // edited meanwhile: explain the text shown now
            explainParts();
            return;
        }
        if (!lines->isEmpty()) m_parts->setText(lines->join(QLatin1Char('\n')));
        m_parts_pending = false;
        updateRun();
    });
    m_docs_thread->start();
}

bool ApprovalDialog::runEnabled() const { return m_run->isEnabled(); }

void ApprovalDialog::onCommandEdited() {
    // Nothing edited runs on the old rating: Run waits for the re-check, a typed name is cleared.
    m_pending = true;
    m_parts_pending = false;
    m_typed->clear();
    m_risk->setText(tr("Checking the edited command..."));
    m_risk->setStyleSheet(QString());
    updateRun();
    m_recheck_timer->start();
}

void ApprovalDialog::recheckNow() {
    if (m_pending) {
        m_recheck_timer->stop();
        recheck();
    }
}

void ApprovalDialog::recheck() {
    const std::string text = m_command->text().toStdString();
    const bool same = text == (m_proposal.sudo ? "sudo " : "") + m_proposal.text;
    if (!same) {
        // The edited text is the user's; the agent's explanation was for the text it proposed.
        std::string explanation = text == m_original_text ? m_proposal.explanation : std::string();
        m_proposal = commands::make_proposal(text, m_proposal.host, commands::Origin::User, std::move(explanation));
    }
    m_pending = false;
    display(m_proposal);
}

void ApprovalDialog::display(const commands::Proposal& p) {
    m_request = commands::confirm_request(p);
    const commands::ConfirmRequest& r = m_request;

    m_host->setText(r.local ? tr("this machine (%1)").arg(qs(r.host)) : tr("%1 (over SSH)").arg(qs(r.host)));

    const RiskLook lk = look(r.risk);
    m_risk->setText(tr("%1: %2").arg(qs(shell::risk_name(r.risk)).toUpper(), tr(lk.note)) +
                    (r.sudo ? tr(" (as root, with sudo)") : QString()));
    m_risk->setStyleSheet(QStringLiteral("QLabel { background: %1; color: %2; font-weight: bold; border-radius: 3px; }")
                              .arg(QLatin1String(lk.bg), QLatin1String(lk.fg)));
    m_risk->setAccessibleDescription(m_risk->text());

    QStringList reasons;
    for (const std::string& why : r.reasons) reasons << QStringLiteral("\u2022 ") + qs(why);
    if (r.parse_error) reasons << tr("\u2022 does not parse: %1").arg(qs(*r.parse_error));
    const std::string raw = (p.sudo ? "sudo " : "") + p.text;
    if (r.command != raw) reasons << tr("\u2022 contains control characters, shown as: %1").arg(qs(r.command));
    m_reasons->setText(reasons.isEmpty() ? tr("nothing found that changes anything") : reasons.join(QLatin1Char('\n')));

    // One line per program the command runs (each stage of a pipeline, each command of a list,
    // wrapped payloads), with the documentation's summary when there are docs to ask.
    QStringList parts;
    for (const std::string& prog : p.assessment.programs) parts << QStringLiteral("\u2022 ") + qs(commands::visible(prog));
    m_parts->setText(parts.isEmpty() ? tr("(no programs)") : parts.join(QLatin1Char('\n')));
    // The documentation's summaries come from man pages (a process each, up to a second under
    // load): read on a worker thread, Run waiting for them.
    m_parts_text = raw;
    m_parts_pending = m_docs && !r.parse_error;
    if (m_parts_pending) explainParts();

    m_explanation->setText(r.explanation.empty() ? tr("(none)") : qs(r.explanation));

    m_typed_prompt->setVisible(r.typed_host_required);
    m_typed_label->setVisible(r.typed_host_required);
    m_typed->setVisible(r.typed_host_required);
    if (r.typed_host_required) {
        m_typed_prompt->setText(tr("This command %1. Type the host name <b>%2</b> to run it:")
                                    .arg(tr(lk.note), qs(r.host).toHtmlEscaped()));
        m_typed->setPlaceholderText(qs(r.host));
    }
    updateRun();
}

void ApprovalDialog::updateRun() {
    bool ok = !m_pending && !m_parts_pending && !m_command->text().trimmed().isEmpty();
    if (ok && m_request.typed_host_required) ok = m_typed->text() == qs(m_request.host);
    m_run->setEnabled(ok);
    m_run->setAccessibleDescription(ok ? tr("Runs the command as shown")
                                       : m_pending || m_parts_pending ? tr("Disabled until the edited command is checked")
                                                   : tr("Disabled until the host name is typed exactly"));
}

void ApprovalDialog::keyPressEvent(QKeyEvent* event) {
    if (event->key() == Qt::Key_Return || event->key() == Qt::Key_Enter) {
        // Enter runs a command that needs only a yes; one that needs the host name typed runs
        // only from the Run button (mouse, Space on it, or its Alt+R mnemonic).
        if (!m_request.typed_host_required && runEnabled()) accept();
        event->accept();
        return;
    }
    QDialog::keyPressEvent(event);   // Escape rejects
}

commands::Answer ApprovalDialog::personAnswer() const {
    commands::Answer a;
    if (result() != QDialog::Accepted || m_pending) return a;   // Cancel, Escape, closed: no
    a.yes = true;
    if (m_request.typed_host_required) a.typed = m_typed->text().toStdString();
    return a;
}

commands::Verdict ApprovalDialog::decide() {
    DialogConfirmer confirmer(*this);
    return commands::confirm(m_proposal, confirmer);
}

commands::Answer DialogConfirmer::ask(const commands::ConfirmRequest& request) {
    const commands::ConfirmRequest& shown = m_dialog.shown();
    if (request.command != shown.command || request.host != shown.host || request.risk != shown.risk ||
        request.sudo != shown.sudo || request.typed_host_required != shown.typed_host_required) {
        commands::Answer a;
        a.unanswered = "the command asked about is not the one the dialog showed";
        return a;
    }
    return m_dialog.personAnswer();
}

Decision askApproval(commands::Proposal proposal, QWidget* parent, knowledge::DocCache* docs) {
    ApprovalDialog dialog(std::move(proposal), parent, docs);
    dialog.exec();
    commands::Verdict v = dialog.decide();
    return Decision{dialog.proposal(), std::move(v)};
}

} // namespace sigmaops::ui
