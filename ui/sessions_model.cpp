// sessions_model.cpp - see sessions_model.h.
#include "sessions_model.h"

#include <history/history.h>

#include <QLocale>

namespace sigmaops::ui {

namespace {
QString qs(const std::string& s) { return QString::fromUtf8(s.data(), static_cast<qsizetype>(s.size())); }
QDateTime fromMs(std::int64_t ms) { return QDateTime::fromMSecsSinceEpoch(ms).toLocalTime(); }
} // namespace

QString friendlyDate(const QDateTime& when, const QDateTime& now) {
    const QLocale locale;
    const QString time = locale.toString(when.time(), QStringLiteral("HH:mm"));
    const qint64 days = when.date().daysTo(now.date());
    if (days == 0) return SessionsModel::tr("Today %1").arg(time);
    if (days == 1) return SessionsModel::tr("Yesterday %1").arg(time);
    return locale.toString(when.date(), QStringLiteral("ddd d MMM yyyy")) + QLatin1Char(' ') + time;
}

SessionsModel::SessionsModel(QObject* parent) : QAbstractListModel(parent) {}
SessionsModel::~SessionsModel() = default;

sigmaops::Expected<void> SessionsModel::open(const QString& path) {
    close();
    auto h = history::History::open(path.toStdString());
    if (!h) return sigmaops::unexpected(h.error());
    m_history = std::move(h.value());
    m_path = path;
    return refresh();
}

void SessionsModel::close() {
    beginResetModel();
    m_rows.clear();
    m_history.reset();
    m_path.clear();
    endResetModel();
}

sigmaops::Expected<void> SessionsModel::refresh() {
    if (!m_history) return {};
    auto list = m_history->list_sessions(kMaxSessions, 0);
    if (!list) return sigmaops::unexpected(list.error());
    std::vector<Row> rows;
    rows.reserve(list->size());
    for (const history::Conversation& s : *list) {
        Row r;
        r.id = s.id;
        r.title = qs(s.title).simplified();
        r.created = fromMs(s.created_ms);
        r.updated = fromMs(s.updated_ms);
        r.n_messages = s.n_messages;
        r.model = qs(s.model);
        r.pinned = s.pinned;
        rows.push_back(std::move(r));
    }
    beginResetModel();
    m_rows = std::move(rows);
    endResetModel();
    return {};
}

sigmaops::Expected<QVector<Turn>> SessionsModel::messages(qint64 id) const {
    if (!m_history) return sigmaops::unexpected(sigmaops::ErrorCode::NotFound, "no history is open");
    auto list = m_history->messages(id);
    if (!list) return sigmaops::unexpected(list.error());
    QVector<Turn> turns;
    for (const history::Message& m : *list)
        if (m.role == "user" || m.role == "assistant") turns.push_back(Turn{qs(m.role), qs(m.content)});
    return turns;
}

int SessionsModel::rowOf(qint64 id) const {
    for (size_t i = 0; i < m_rows.size(); ++i)
        if (m_rows[i].id == id) return static_cast<int>(i);
    return -1;
}

int SessionsModel::rowCount(const QModelIndex& parent) const {
    return parent.isValid() ? 0 : static_cast<int>(m_rows.size());
}

QVariant SessionsModel::data(const QModelIndex& index, int role) const {
    if (!index.isValid() || index.row() < 0 || index.row() >= rowCount()) return {};
    const Row& r = m_rows[static_cast<size_t>(index.row())];
    const QString title = r.title.isEmpty() ? tr("Untitled chat") : r.title;
    switch (role) {
    case Qt::DisplayRole: return QString(title + QLatin1Char('\n') + friendlyDate(r.updated));
    case Qt::ToolTipRole:
        return tr("%1\n%2 messages, last %3%4")
            .arg(title)
            .arg(r.n_messages)
            .arg(QLocale().toString(r.updated, QLocale::ShortFormat))
            .arg(r.model.isEmpty() ? QString() : tr("\nmodel: %1").arg(r.model));
    case IdRole: return r.id;
    case TitleRole: return title;
    case UpdatedRole: return r.updated;
    case CreatedRole: return r.created;
    case MessageCountRole: return r.n_messages;
    case ModelNameRole: return r.model;
    case PinnedRole: return r.pinned;
    default: return {};
    }
}

QHash<int, QByteArray> SessionsModel::roleNames() const {
    QHash<int, QByteArray> names = QAbstractListModel::roleNames();
    names[IdRole] = "id";
    names[TitleRole] = "title";
    names[UpdatedRole] = "updated";
    names[CreatedRole] = "created";
    names[MessageCountRole] = "messageCount";
    names[ModelNameRole] = "modelName";
    names[PinnedRole] = "pinned";
    return names;
}

} // namespace sigmaops::ui
