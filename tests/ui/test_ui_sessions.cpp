// test_ui_sessions.cpp - SessionsModel over a real SQLite history in a temp dir: rows newest
// first, every data role, refresh after a write through another connection, messages of a
// session, and a damaged database reported as BadFile and recoverable with move_aside().
#include "test_ui_util.h"

#include <history/history.h>
#include <sessions_model.h>

#include <catch2/catch.hpp>

#include <QFile>

using namespace sigmaops;
using sigmaops::ui::SessionsModel;

namespace {
// A history whose clock advances one minute per call, from a fixed day.
std::unique_ptr<history::History> openWithClock(const QString& path) {
    auto now = std::make_shared<std::int64_t>(QDateTime(QDate(2026, 11, 20), QTime(9, 0)).toMSecsSinceEpoch());
    history::Options o;
    o.clock = [now] { return *now += 60'000; };
    auto h = history::History::open(path.toStdString(), o);
    REQUIRE(h);
    return std::move(h.value());
}
} // namespace

TEST_CASE("sessions model lists history sessions newest first with their roles", "[ui][sessions]") {
    uitest::app();
    uitest::TempHome home;
    const QString db = home.file("history.db");
    auto h = openWithClock(db);
    auto a = h->create_session("disk full on db2", "sigma-tiny", "db2");
    REQUIRE(a);
    REQUIRE(h->add_message(*a, "user", "why is / full?"));
    REQUIRE(h->add_message(*a, "assistant", "Check `du -xh / | sort -h`."));
    auto b = h->create_session("nginx 502", "sigma-tiny", "");
    REQUIRE(b);
    REQUIRE(h->add_message(*b, "user", "nginx returns 502"));
    auto c = h->create_session("", "sigma-tiny", "");
    REQUIRE(c);

    SessionsModel model;
    REQUIRE(model.open(db));
    REQUIRE(model.isOpen());
    REQUIRE(model.rowCount() == 3);
    // Newest first: c (created last), b, a.
    CHECK(model.index(0).data(SessionsModel::IdRole).toLongLong() == *c);
    CHECK(model.index(1).data(SessionsModel::IdRole).toLongLong() == *b);
    CHECK(model.index(2).data(SessionsModel::IdRole).toLongLong() == *a);
    CHECK(model.rowOf(*a) == 2);
    CHECK(model.rowOf(12345) == -1);

    const QModelIndex ia = model.index(2);
    CHECK(ia.data(SessionsModel::TitleRole).toString() == "disk full on db2");
    CHECK(ia.data(SessionsModel::MessageCountRole).toLongLong() == 2);
    CHECK(ia.data(SessionsModel::ModelNameRole).toString() == "sigma-tiny");
    CHECK(ia.data(SessionsModel::PinnedRole).toBool() == false);
    CHECK(ia.data(SessionsModel::UpdatedRole).toDateTime().date() == QDate(2026, 11, 20));
    CHECK(ia.data(SessionsModel::CreatedRole).toDateTime() <= ia.data(SessionsModel::UpdatedRole).toDateTime());
    CHECK(ia.data(Qt::DisplayRole).toString().startsWith("disk full on db2\n"));
    CHECK(ia.data(Qt::ToolTipRole).toString().contains("2 messages"));
    CHECK(model.index(0).data(SessionsModel::TitleRole).toString() == "Untitled chat");
    CHECK(model.roleNames().value(SessionsModel::IdRole) == "id");
    CHECK_FALSE(model.index(7).data(Qt::DisplayRole).isValid());

    // Messages of a session, oldest first.
    auto turns = model.messages(*a);
    REQUIRE(turns);
    REQUIRE(turns->size() == 2);
    CHECK((*turns)[0].role == "user");
    CHECK((*turns)[0].text == "why is / full?");
    CHECK((*turns)[1].role == "assistant");
    CHECK((*turns)[1].text == "Check `du -xh / | sort -h`.");

    // A write through another connection shows after refresh(): a moves to the top.
    REQUIRE(h->add_message(*a, "user", "and /var?"));
    int resets = 0;
    QObject::connect(&model, &QAbstractItemModel::modelReset, [&] { ++resets; });
    REQUIRE(model.refresh());
    CHECK(resets == 1);
    CHECK(model.index(0).data(SessionsModel::IdRole).toLongLong() == *a);
    CHECK(model.index(0).data(SessionsModel::MessageCountRole).toLongLong() == 3);

    REQUIRE(h->remove_session(*b));
    REQUIRE(model.refresh());
    CHECK(model.rowCount() == 2);
    CHECK(model.rowOf(*b) == -1);

    model.close();
    CHECK(model.rowCount() == 0);
    CHECK_FALSE(model.isOpen());
}

TEST_CASE("sessions model reports a damaged database as BadFile - move_aside recovers", "[ui][sessions]") {
    uitest::app();
    uitest::TempHome home;
    const QString db = home.file("history.db");
    {
        QFile f(db);
        REQUIRE(f.open(QIODevice::WriteOnly));
        f.write(QByteArray(8192, 'x'));
    }
    SessionsModel model;
    auto r = model.open(db);
    REQUIRE_FALSE(r);
    CHECK(r.error().code == sigmaops::ErrorCode::BadFile);
    CHECK_FALSE(model.isOpen());
    CHECK(model.rowCount() == 0);

    auto moved = history::move_aside(db.toStdString());
    REQUIRE(moved);
    CHECK(QFile::exists(QString::fromStdString(*moved)));
    REQUIRE(model.open(db));
    CHECK(model.rowCount() == 0);
}

TEST_CASE("friendly dates read as today / yesterday / a date", "[ui][sessions]") {
    const QDateTime now(QDate(2026, 11, 25), QTime(15, 0));
    CHECK(sigmaops::ui::friendlyDate(QDateTime(QDate(2026, 11, 25), QTime(9, 5)), now) == "Today 09:05");
    CHECK(sigmaops::ui::friendlyDate(QDateTime(QDate(2026, 11, 24), QTime(23, 59)), now) == "Yesterday 23:59");
    CHECK(sigmaops::ui::friendlyDate(QDateTime(QDate(2026, 3, 2), QTime(8, 0)), now).contains("2026"));
}
