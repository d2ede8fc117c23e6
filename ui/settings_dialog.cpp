// settings_dialog.cpp - see settings_dialog.h.
#include "settings_dialog.h"

#include <base/paths.h>

#include <QCheckBox>
#include <QDialogButtonBox>
#include <QDoubleSpinBox>
#include <QFileDialog>
#include <QFormLayout>
#include <QHBoxLayout>
#include <QLabel>
#include <QLineEdit>
#include <QPushButton>
#include <QSettings>
#include <QSpinBox>
#include <QVBoxLayout>

namespace sigmaops::ui {

DesktopSettings DesktopSettings::load() {
    QSettings s;
    DesktopSettings d;
    d.model_path = s.value(QStringLiteral("model/path")).toString();
    d.chat.temperature = s.value(QStringLiteral("chat/temperature"), d.chat.temperature).toDouble();
    d.chat.max_tokens = s.value(QStringLiteral("chat/max_tokens"), d.chat.max_tokens).toInt();
    d.chat.history_db = s.value(QStringLiteral("history/path")).toString();
    d.chat.prefer_gpu = s.value(QStringLiteral("engine/prefer_gpu"), d.chat.prefer_gpu).toBool();
    d.chat.selective_v = s.value(QStringLiteral("engine/selective_v"), d.chat.selective_v).toInt();
    return d;
}

void DesktopSettings::save() const {
    QSettings s;
    s.setValue(QStringLiteral("model/path"), model_path);
    s.setValue(QStringLiteral("chat/temperature"), chat.temperature);
    s.setValue(QStringLiteral("chat/max_tokens"), chat.max_tokens);
    s.setValue(QStringLiteral("history/path"), chat.history_db);
    s.setValue(QStringLiteral("engine/prefer_gpu"), chat.prefer_gpu);
    s.setValue(QStringLiteral("engine/selective_v"), chat.selective_v);
}

namespace {
// A line edit with a "Browse..." button that opens a file dialog.
QWidget* fileRow(QLineEdit* edit, const QString& caption, const QString& filter, bool save, QWidget* parent) {
    auto* row = new QWidget(parent);
    auto* layout = new QHBoxLayout(row);
    layout->setContentsMargins(0, 0, 0, 0);
    auto* browse = new QPushButton(SettingsDialog::tr("Browse..."), row);
    layout->addWidget(edit, 1);
    layout->addWidget(browse);
    QObject::connect(browse, &QPushButton::clicked, row, [=] {
        const QString path = save ? QFileDialog::getSaveFileName(row, caption, edit->text(), filter,
                                                                 nullptr, QFileDialog::DontConfirmOverwrite)
                                  : QFileDialog::getOpenFileName(row, caption, edit->text(), filter);
        if (!path.isEmpty()) edit->setText(path);
    });
    return row;
}
} // namespace

SettingsDialog::SettingsDialog(const DesktopSettings& current, QWidget* parent) : QDialog(parent) {
    setWindowTitle(tr("Settings"));
    setMinimumWidth(560);
    auto* form = new QFormLayout;

    m_model_edit = new QLineEdit(current.model_path, this);
    m_model_edit->setPlaceholderText(tr("search the model folders, or http(s)://HOST:PORT of a server"));
    form->addRow(tr("Model file or backend URL:"), fileRow(m_model_edit, tr("Model file"), tr("GGUF models (*.gguf)"), false, this));

    m_temperature_spin = new QDoubleSpinBox(this);
    m_temperature_spin->setRange(0.0, 2.0);
    m_temperature_spin->setSingleStep(0.05);
    m_temperature_spin->setDecimals(2);
    m_temperature_spin->setValue(current.chat.temperature);
    m_temperature_spin->setToolTip(tr("0 = always the most likely token (deterministic)"));
    form->addRow(tr("Temperature:"), m_temperature_spin);

    m_max_tokens_spin = new QSpinBox(this);
    m_max_tokens_spin->setRange(16, 32768);
    m_max_tokens_spin->setSingleStep(64);
    m_max_tokens_spin->setValue(current.chat.max_tokens);
    form->addRow(tr("Max tokens per reply:"), m_max_tokens_spin);

    m_history_edit = new QLineEdit(current.chat.history_db, this);
    m_history_edit->setPlaceholderText(QString::fromStdString(AppPaths::resolve().history_db));
    form->addRow(tr("History database:"),
                 fileRow(m_history_edit, tr("History database"), tr("SQLite databases (*.db);;All files (*)"), true, this));

    m_gpu_check = new QCheckBox(tr("Use the GPU (CUDA) when available"), this);
    m_gpu_check->setChecked(current.chat.prefer_gpu);
    form->addRow(QString(), m_gpu_check);

    m_selective_v_spin = new QSpinBox(this);
    m_selective_v_spin->setRange(0, 1 << 20);
    m_selective_v_spin->setSingleStep(50);
    m_selective_v_spin->setSpecialValueText(tr("off"));
    m_selective_v_spin->setValue(current.chat.selective_v);
    m_selective_v_spin->setToolTip(tr("Selective V fetching (--selective-v): at each decode step every query head reads only\n"
                                      "its K highest-scoring V rows. Faster on long contexts; 0 = off (exact attention)."));
    form->addRow(tr("Selective V (top-K rows):"), m_selective_v_spin);

    auto* note = new QLabel(tr("Model and history changes take effect now; the current chat continues."), this);
    note->setWordWrap(true);
    note->setEnabled(false);

    auto* buttons = new QDialogButtonBox(QDialogButtonBox::Ok | QDialogButtonBox::Cancel, this);
    connect(buttons, &QDialogButtonBox::accepted, this, &QDialog::accept);
    connect(buttons, &QDialogButtonBox::rejected, this, &QDialog::reject);

    auto* layout = new QVBoxLayout(this);
    layout->addLayout(form);
    layout->addWidget(note);
    layout->addWidget(buttons);
}

DesktopSettings SettingsDialog::settings() const {
    DesktopSettings d;
    d.model_path = m_model_edit->text().trimmed();
    d.chat.temperature = m_temperature_spin->value();
    d.chat.max_tokens = m_max_tokens_spin->value();
    d.chat.history_db = m_history_edit->text().trimmed();
    d.chat.prefer_gpu = m_gpu_check->isChecked();
    d.chat.selective_v = m_selective_v_spin->value();
    return d;
}

} // namespace sigmaops::ui
