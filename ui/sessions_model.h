// sessions_model.h - past chat sessions from the SQLite history, newest first, as a list model
// for the left pane (STYLE rule 12). It keeps its own History connection on the UI thread
// (History is one connection per thread); the worker thread writes through the ChatService's.
//
// Load: one indexed query of at most kMaxSessions rows per refresh(); refresh after each reply.
#pragma once

#include "engine_worker.h"

#include <base/result.h>

#include <QAbstractListModel>
#include <QDateTime>

#include <memory>
#include <vector>

namespace sigmaops::history { class History; struct Conversation; }

namespace sigmaops::ui {

class SessionsModel : public QAbstractListModel {
    Q_OBJECT
public:
    enum Role {
        IdRole = Qt::UserRole + 1,   // qint64 session id
        TitleRole,                   // QString, "Untitled chat" when empty
        UpdatedRole,                 // QDateTime (local) of the last message
        CreatedRole,                 // QDateTime (local)
        MessageCountRole,            // qint64
        ModelNameRole,               // QString: the model the assistant used
        PinnedRole,                  // bool
    };
    static constexpr int kMaxSessions = 500;

    explicit SessionsModel(QObject* parent = nullptr);
    ~SessionsModel() override;

    // Opens the history at `path` and loads the list. BadFile: damaged (offer move_aside);
    // TooNew, Database, Io: other failures. On failure the model is empty and closed.
    sigmaops::Expected<void> open(const QString& path);
    void close();
    bool isOpen() const { return m_history != nullptr; }
    QString path() const { return m_path; }

    // Reloads the list from the database (keeps it unchanged on a read error, returned).
    sigmaops::Expected<void> refresh();
    // The user/assistant messages of session `id`, oldest first.
    sigmaops::Expected<QVector<Turn>> messages(qint64 id) const;
    // The row of session `id`, or -1.
    int rowOf(qint64 id) const;

    int rowCount(const QModelIndex& parent = {}) const override;
    QVariant data(const QModelIndex& index, int role = Qt::DisplayRole) const override;
    QHash<int, QByteArray> roleNames() const override;

private:
    struct Row {
        qint64 id = 0;
        QString title;
        QDateTime created;
        QDateTime updated;
        qint64 n_messages = 0;
        QString model;
        bool pinned = false;
    };
    std::unique_ptr<history::History> m_history;
    QString m_path;
    std::vector<Row> m_rows;
};

// "Today 14:05", "Yesterday 09:12", "Mon 25 Nov 2026 14:05": what a session's date reads as.
QString friendlyDate(const QDateTime& when, const QDateTime& now = QDateTime::currentDateTime());

} // namespace sigmaops::ui
