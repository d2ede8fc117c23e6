// desktop_main.cpp - sigmaops-desktop: the Qt desktop app.
//   sigmaops-desktop [-m FILE] [--history FILE] [--demo-prompt TEXT] [--screenshot FILE] [--version] [--help]
// --demo-prompt and --screenshot script the window for docs and CI: send TEXT once the model is
// loaded, then save a grab of the window to FILE when the reply is done and exit (0 on success).
#include <mainwindow.h>

#include <base/paths.h>

#include <QApplication>
#include <QCommandLineParser>
#include <QTimer>

#include <cstdio>

int main(int argc, char** argv) {
    QCommandLineParser parser;
    parser.setApplicationDescription(QStringLiteral("SigmaOps desktop: a local AI assistant for Linux system administrators."));
    const QCommandLineOption helpOption = parser.addHelpOption();
    const QCommandLineOption versionOption = parser.addVersionOption();
    const QCommandLineOption modelOption({QStringLiteral("m"), QStringLiteral("model")},
                                         QStringLiteral("Load the model FILE (default: Settings, then the model search paths)."),
                                         QStringLiteral("FILE"));
    const QCommandLineOption historyOption(QStringLiteral("history"),
                                           QStringLiteral("Use the history database FILE (\":none\" keeps no history)."),
                                           QStringLiteral("FILE"));
    const QCommandLineOption demoOption(QStringLiteral("demo-prompt"),
                                        QStringLiteral("Send TEXT as soon as the model is loaded."), QStringLiteral("TEXT"));
    const QCommandLineOption shotOption(QStringLiteral("screenshot"),
                                        QStringLiteral("Save a PNG of the window to FILE once idle (after the demo reply), then exit."),
                                        QStringLiteral("FILE"));
    parser.addOptions({modelOption, historyOption, demoOption, shotOption});
    // Parsed before QApplication exists, so that --help and --version work without a display.
    QStringList arguments;
    for (int i = 0; i < argc; ++i) arguments << QString::fromLocal8Bit(argv[i]);
    if (!parser.parse(arguments)) {
        std::fprintf(stderr, "sigmaops-desktop: %s\nTry 'sigmaops-desktop --help'.\n", qPrintable(parser.errorText()));
        return 2;
    }
    if (parser.isSet(helpOption)) {
        std::fputs(qPrintable(parser.helpText().replace(QStringLiteral("<executable_name>"), QStringLiteral("sigmaops-desktop"))), stdout);
        return 0;
    }
    if (parser.isSet(versionOption)) {
        std::printf("sigmaops-desktop %s\n", sigmaops::app_version().c_str());
        return 0;
    }

    QApplication app(argc, argv);
    QApplication::setOrganizationName(QStringLiteral("SigmaOps"));
    QApplication::setApplicationName(QStringLiteral("sigmaops-desktop"));
    QApplication::setApplicationDisplayName(QStringLiteral("SigmaOps"));
    QApplication::setApplicationVersion(QString::fromStdString(sigmaops::app_version()));

    sigmaops::ui::StartOptions options;
    options.model_path = parser.value(modelOption);
    options.history_path = parser.value(historyOption);
    options.demo_prompt = parser.value(demoOption);
    options.screenshot_path = parser.value(shotOption);

    sigmaops::ui::MainWindow window(options);
    window.show();
    QTimer::singleShot(0, &window, &sigmaops::ui::MainWindow::start);
    return app.exec();
}
