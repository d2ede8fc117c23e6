// session_delegate.h - paints one history session in the left pane: its title in bold, elided to
// the pane's width, and its date below in grey. Reads SessionsModel's TitleRole and UpdatedRole.
#pragma once

#include <QStyledItemDelegate>

namespace sigmaops::ui {

class SessionDelegate : public QStyledItemDelegate {
    Q_OBJECT
public:
    using QStyledItemDelegate::QStyledItemDelegate;
    void paint(QPainter* painter, const QStyleOptionViewItem& option, const QModelIndex& index) const override;
    QSize sizeHint(const QStyleOptionViewItem& option, const QModelIndex& index) const override;
};

} // namespace sigmaops::ui
