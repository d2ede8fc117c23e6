// transcript_view.cpp - see transcript_view.h.
#include "transcript_view.h"

#include <QFontDatabase>
#include <QRegularExpression>
#include <QScrollBar>
#include <QTextBlock>
#include <QTextCursor>
#include <QTextFrame>

namespace sigmaops::ui {

namespace {

// Palette: calm, high-contrast, readable on a laptop in a bright server room.
const QColor kUserBack(0xe7, 0xf0, 0xfd);
const QColor kUserBorder(0xb6, 0xcf, 0xf5);
const QColor kUserName(0x1a, 0x56, 0xb8);
const QColor kBotBack(0xf7, 0xf8, 0xfa);
const QColor kBotBorder(0xd5, 0xda, 0xe1);
const QColor kBotName(0x1b, 0x7a, 0x3e);
const QColor kCodeBack(0x27, 0x2b, 0x33);
const QColor kCodeText(0xe8, 0xea, 0xed);
const QColor kInlineCodeBack(0xe4, 0xe7, 0xeb);
const QColor kNote(0x6a, 0x73, 0x7d);
const QColor kNoticeBack(0xfd, 0xf0, 0xe6);
const QColor kNoticeBorder(0xf0, 0xb9, 0x8d);

QFont monoFont() {
    QFont f = QFontDatabase::systemFont(QFontDatabase::FixedFont);
    return f;
}

// Inserts one line of prose with `inline code` and **bold** spans.
void insertInline(QTextCursor& c, const QString& line, const QTextCharFormat& base) {
    static const QRegularExpression span(QStringLiteral("(`[^`]+`|\\*\\*[^*]+\\*\\*)"));
    qsizetype pos = 0;
    auto it = span.globalMatch(line);
    while (it.hasNext()) {
        const auto m = it.next();
        if (m.capturedStart() > pos) c.insertText(line.mid(pos, m.capturedStart() - pos), base);
        const QString tok = m.captured(1);
        QTextCharFormat f = base;
        if (tok.startsWith('`')) {
            f.setFont(monoFont());
            f.setBackground(kInlineCodeBack);
            c.insertText(tok.mid(1, tok.size() - 2), f);
        } else {
            f.setFontWeight(QFont::Bold);
            c.insertText(tok.mid(2, tok.size() - 4), f);
        }
        pos = m.capturedEnd();
    }
    if (pos < line.size()) c.insertText(line.mid(pos), base);
}

} // namespace

TranscriptView::TranscriptView(QWidget* parent) : QTextBrowser(parent) {
    setReadOnly(true);
    setOpenExternalLinks(true);
    setFrameShape(QFrame::NoFrame);
    document()->setDocumentMargin(14);
    setPlaceholderText(tr("Ask about a log line, a failing service, a command..."));
}

void TranscriptView::scrollToEnd() {
    verticalScrollBar()->setValue(verticalScrollBar()->maximum());
}

QTextFrame* TranscriptView::insertTurnFrame(const QString& role) {
    QTextCursor c(document());
    c.movePosition(QTextCursor::End);
    QTextFrameFormat ff;
    ff.setPadding(10);
    ff.setBorder(1);
    ff.setBorderStyle(QTextFrameFormat::BorderStyle_Solid);
    ff.setBottomMargin(10);
    if (role == QLatin1String("user")) {
        ff.setBackground(kUserBack);
        ff.setBorderBrush(kUserBorder);
        ff.setLeftMargin(60);
    } else if (role == QLatin1String("assistant")) {
        ff.setBackground(kBotBack);
        ff.setBorderBrush(kBotBorder);
        ff.setRightMargin(30);
    } else {
        ff.setBackground(kNoticeBack);
        ff.setBorderBrush(kNoticeBorder);
    }
    return c.insertFrame(ff);
}

void TranscriptView::renderTurn(QTextFrame* frame, const Turn& turn, const QString& note) {
    QTextCursor c = frame->firstCursorPosition();
    c.setPosition(frame->lastPosition(), QTextCursor::KeepAnchor);
    c.removeSelectedText();

    const bool user = turn.role == QLatin1String("user");
    QTextCharFormat name;
    name.setFontWeight(QFont::Bold);
    name.setForeground(user ? kUserName : kBotName);
    QTextBlockFormat para;
    para.setBottomMargin(4);
    c.setBlockFormat(para);
    c.insertText(user ? tr("You") : tr("SigmaOps"), name);
    if (!note.isEmpty()) {
        QTextCharFormat nf;
        nf.setForeground(kNote);
        c.insertText(QStringLiteral("   ") + note, nf);
    }

    const QTextCharFormat prose;
    QTextCharFormat code;
    code.setFont(monoFont());
    code.setForeground(kCodeText);
    QTextFrameFormat codeFrame;
    codeFrame.setBackground(kCodeBack);
    codeFrame.setPadding(8);
    codeFrame.setTopMargin(4);
    codeFrame.setBottomMargin(4);

    const QStringList lines = turn.text.split('\n');
    bool inCode = false;
    QTextFrame* codeBlock = nullptr;
    bool firstCodeLine = false;
    for (const QString& line : lines) {
        if (!user && line.trimmed().startsWith(QLatin1String("```"))) {
            if (!inCode) {
                c.insertBlock(para);
                codeBlock = c.insertFrame(codeFrame);
                firstCodeLine = true;
                inCode = true;
            } else {
                c = frame->lastCursorPosition();
                inCode = false;
                codeBlock = nullptr;
            }
            continue;
        }
        if (inCode) {
            if (!firstCodeLine) c.insertBlock();
            firstCodeLine = false;
            c.insertText(line, code);
        } else {
            c.insertBlock(para);
            if (user) c.insertText(line, prose);
            else insertInline(c, line, prose);
        }
    }
    Q_UNUSED(codeBlock);
}

void TranscriptView::setTurns(const QVector<Turn>& turns) {
    clear();
    m_reply_frame = nullptr;
    m_output_frame = nullptr;
    m_turns.clear();
    for (const Turn& t : turns) {
        m_turns.push_back(t);
        renderTurn(insertTurnFrame(t.role), t, {});
    }
    scrollToEnd();
}

void TranscriptView::appendUser(const QString& text) {
    Turn t{QStringLiteral("user"), text};
    m_turns.push_back(t);
    renderTurn(insertTurnFrame(t.role), t, {});
    scrollToEnd();
}

void TranscriptView::beginAssistant() {
    m_turns.push_back(Turn{QStringLiteral("assistant"), {}});
    m_reply_frame = insertTurnFrame(QStringLiteral("assistant"));
    renderTurn(m_reply_frame, m_turns.back(), tr("thinking..."));
    QTextCursor c = m_reply_frame->lastCursorPosition();
    c.insertBlock();
    scrollToEnd();
}

void TranscriptView::appendPiece(const QString& piece) {
    if (!m_reply_frame) return;
    m_turns.back().text += piece;
    const bool atEnd = verticalScrollBar()->value() >= verticalScrollBar()->maximum() - 4;
    QTextCursor c = m_reply_frame->lastCursorPosition();
    c.insertText(piece, QTextCharFormat());
    if (atEnd) scrollToEnd();  // follow the reply unless the user scrolled up to read
}

void TranscriptView::finishAssistant(const QString& note) {
    if (!m_reply_frame) return;
    renderTurn(m_reply_frame, m_turns.back(), note);
    m_reply_frame = nullptr;
    scrollToEnd();
}

void TranscriptView::appendNotice(const QString& text) {
    QTextFrame* f = insertTurnFrame(QStringLiteral("notice"));
    QTextCursor c = f->firstCursorPosition();
    c.insertText(text);
    scrollToEnd();
}

void TranscriptView::beginOutput(const QString& header) {
    m_output_frame = insertTurnFrame(QStringLiteral("notice"));
    QTextCursor c = m_output_frame->firstCursorPosition();
    c.insertText(header + QLatin1Char('\n'));
    scrollToEnd();
}

void TranscriptView::appendOutput(const QString& text) {
    if (!m_output_frame) return;
    QTextCursor c = m_output_frame->lastCursorPosition();
    c.insertText(text);
    scrollToEnd();
}

void TranscriptView::endOutput(const QString& footer) {
    if (!m_output_frame) {
        appendNotice(footer);
        return;
    }
    QTextCursor c = m_output_frame->lastCursorPosition();
    c.insertText(footer);
    m_output_frame = nullptr;
    scrollToEnd();
}

} // namespace sigmaops::ui
