// session_delegate.cpp - see session_delegate.h.
#include "session_delegate.h"

#include "sessions_model.h"

#include <QPainter>

namespace sigmaops::ui {

namespace {
constexpr int kPadX = 10;
constexpr int kPadY = 6;
constexpr int kGap = 2;
QFont titleFont(const QFont& base) { QFont f = base; f.setWeight(QFont::DemiBold); return f; }
QFont dateFont(const QFont& base) { QFont f = base; f.setPointSizeF(base.pointSizeF() * 0.88); return f; }
} // namespace

void SessionDelegate::paint(QPainter* painter, const QStyleOptionViewItem& option, const QModelIndex& index) const {
    painter->save();
    painter->setRenderHint(QPainter::Antialiasing);
    const QRect r = option.rect.adjusted(4, 2, -4, -2);
    const bool selected = option.state & QStyle::State_Selected;
    const bool hover = option.state & QStyle::State_MouseOver;
    if (selected || hover) {
        painter->setPen(Qt::NoPen);
        painter->setBrush(selected ? QColor(0xd3, 0xe2, 0xfa) : QColor(0xe4, 0xe7, 0xec));
        painter->drawRoundedRect(r, 5, 5);
    }
    const QRect text = r.adjusted(kPadX, kPadY, -kPadX, -kPadY);
    const QFont tf = titleFont(option.font);
    const QFont df = dateFont(option.font);
    const QFontMetrics tm(tf);
    const QFontMetrics dm(df);
    const QString title = tm.elidedText(index.data(SessionsModel::TitleRole).toString(), Qt::ElideRight, text.width());
    const QString date = friendlyDate(index.data(SessionsModel::UpdatedRole).toDateTime());
    const qint64 n = index.data(SessionsModel::MessageCountRole).toLongLong();
    const QString detail = dm.elidedText(QStringLiteral("%1  ·  %2").arg(date, n == 1 ? tr("1 message") : tr("%1 messages").arg(n)),
                                         Qt::ElideRight, text.width());
    painter->setFont(tf);
    painter->setPen(option.state & QStyle::State_Enabled ? QColor(0x1f, 0x23, 0x28) : QColor(0x8a, 0x91, 0x99));
    painter->drawText(QRect(text.left(), text.top(), text.width(), tm.height()), Qt::AlignLeft | Qt::AlignVCenter, title);
    painter->setFont(df);
    painter->setPen(QColor(0x65, 0x6d, 0x76));
    painter->drawText(QRect(text.left(), text.top() + tm.height() + kGap, text.width(), dm.height()),
                      Qt::AlignLeft | Qt::AlignVCenter, detail);
    painter->restore();
}

QSize SessionDelegate::sizeHint(const QStyleOptionViewItem& option, const QModelIndex&) const {
    const int h = QFontMetrics(titleFont(option.font)).height() + kGap + QFontMetrics(dateFont(option.font)).height();
    return {1, h + 2 * kPadY + 4};  // width follows the view (no horizontal scrolling)
}

} // namespace sigmaops::ui
