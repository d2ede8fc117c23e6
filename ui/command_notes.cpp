// ui/command_notes.cpp - see command_notes.h.
#include "command_notes.h"

#include <commands/commands.h>
#include <shell/shell.h>

#include <QCoreApplication>

namespace sigmaops::ui {

namespace {
QString qs(const std::string& s) { return QString::fromStdString(commands::visible(s)); }
} // namespace

QString commandNotes(const QString& answer) {
    const std::string text = answer.toStdString();
    std::vector<commands::ShownCommand> shown = commands::annotate_answer(text, nullptr);
    if (shown.empty()) return {};
    std::vector<std::string> programs;
    for (const auto& s : shown) programs.insert(programs.end(), s.assessment.programs.begin(), s.assessment.programs.end());
    auto ctx = commands::target_context(commands::local_probe(), nullptr, "", programs);
    if (ctx) shown = commands::annotate_answer(text, &*ctx);

    auto tr = [](const char* s) { return QCoreApplication::translate("CommandNotes", s); };
    QString out = tr("Commands in this answer (not run):");
    for (const auto& s : shown) {
        QString reasons;
        for (const shell::Reason& r : s.assessment.reasons)
            reasons += (reasons.isEmpty() ? QString() : QStringLiteral("; ")) + qs(r.word) + QStringLiteral(": ") + qs(r.why);
        out += QStringLiteral("\n$ ") + qs(s.text) + QStringLiteral("\n    ") + tr("risk: ") +
               QString::fromUtf8(shell::risk_name(s.assessment.risk).data(), int(shell::risk_name(s.assessment.risk).size()));
        if (!reasons.isEmpty()) out += QStringLiteral(" (") + reasons + QStringLiteral(")");
        if (s.parse_error)
            out += QStringLiteral("\n    ") + tr("does not parse: ") + qs(s.parse_error->message) + tr(" at offset ") +
                   QString::number(s.parse_error->offset);
        for (const std::string& m : s.missing_programs)
            out += QStringLiteral("\n    ") + qs(m) + tr(": program not found on this machine");
    }
    if (!ctx) out += QStringLiteral("\n    ") + tr("(programs not checked: ") + qs(ctx.error().message) + QStringLiteral(")");
    return out;
}

} // namespace sigmaops::ui
