// test_ui_util.h - what the ui tests share: one QApplication (offscreen unless a platform is set),
// a temp dir with the XDG variables pointed into it, and an event-loop wait with a timeout.
#pragma once

#include <QApplication>
#include <QCoreApplication>
#include <QElapsedTimer>
#include <QTemporaryDir>
#include <QThread>

#include <cstdlib>

namespace uitest {

// The QApplication every widget needs; created once, before the first widget, and kept.
inline QApplication& app() {
    static int argc = 1;
    static char arg0[] = "test_ui";
    static char* argv[] = {arg0, nullptr};
    if (qEnvironmentVariableIsEmpty("QT_QPA_PLATFORM")) qputenv("QT_QPA_PLATFORM", "offscreen");
    // Never destroyed: a static QApplication would die in the exit handlers after the Qt globals
    // it needs (a crash at exit); the process ends right after the tests anyway.
    static QApplication* a = new QApplication(argc, argv);
    return *a;
}

// A temp dir that also holds XDG_DATA_HOME / XDG_CONFIG_HOME, so nothing touches the real home.
struct TempHome {
    QTemporaryDir dir;
    TempHome() {
        qputenv("XDG_DATA_HOME", (dir.path() + "/data").toUtf8());
        qputenv("XDG_CONFIG_HOME", (dir.path() + "/config").toUtf8());
        qunsetenv("SIGMAOPS_MODEL");
    }
    QString file(const QString& name) const { return dir.path() + "/" + name; }
};

// Runs the event loop until pred() holds or `timeout_ms` passes; returns pred().
template <typename Pred>
bool waitFor(Pred pred, int timeout_ms) {
    QElapsedTimer t;
    t.start();
    while (!pred()) {
        if (t.elapsed() > timeout_ms) return pred();
        QCoreApplication::processEvents(QEventLoop::AllEvents, 20);
        QThread::msleep(2);
    }
    return true;
}

} // namespace uitest
