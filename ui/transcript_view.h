// transcript_view.h - the chat transcript: user and assistant turns as framed blocks in a
// read-only QTextBrowser, the assistant's reply streamed piece by piece at the end.
//
// Streaming inserts plain text at the end of the open assistant frame (cheap, no re-layout of
// earlier turns); when the reply finishes its frame is re-rendered with light Markdown: fenced
// code blocks in a monospace panel, `inline code`, **bold**. Tuned for transcripts of tens of
// turns and replies of a few thousand tokens.
#pragma once

#include "engine_worker.h"

#include <QTextBrowser>

class QTextFrame;

namespace sigmaops::ui {

class TranscriptView : public QTextBrowser {
    Q_OBJECT
public:
    explicit TranscriptView(QWidget* parent = nullptr);

    // Replaces everything with `turns` (no reply open).
    void setTurns(const QVector<Turn>& turns);
    void appendUser(const QString& text);
    // Opens an empty assistant turn that appendPiece() fills.
    void beginAssistant();
    void appendPiece(const QString& piece);
    // Closes the open assistant turn, re-rendered with formatting; `note` goes in its header.
    void finishAssistant(const QString& note);
    // Shows a one-line error/notice turn.
    void appendNotice(const QString& text);
    // A command's output as it arrives: beginOutput() opens a notice turn headed `header`,
    // appendOutput() adds text to it (dropped once setTurns() replaced the transcript), endOutput()
    // adds `footer` and closes it (a notice of its own when the turn is gone).
    void beginOutput(const QString& header);
    void appendOutput(const QString& text);
    void endOutput(const QString& footer);

    const QVector<Turn>& turns() const { return m_turns; }
    bool replyOpen() const { return m_reply_frame != nullptr; }

private:
    QTextFrame* insertTurnFrame(const QString& role);
    void renderTurn(QTextFrame* frame, const Turn& turn, const QString& note);
    void scrollToEnd();

    QVector<Turn> m_turns;
    QTextFrame* m_reply_frame = nullptr;   // the assistant turn being streamed, or null
    QTextFrame* m_output_frame = nullptr;  // the command output being streamed, or null
};

} // namespace sigmaops::ui
