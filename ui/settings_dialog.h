// settings_dialog.h - Settings: model file, sampling, history database; persisted with QSettings
// (organization "SigmaOps", application "sigmaops-desktop", i.e. ~/.config/SigmaOps/sigmaops-desktop.conf).
#pragma once

#include "engine_worker.h"

#include <QDialog>

class QCheckBox;
class QDoubleSpinBox;
class QLineEdit;
class QSpinBox;

namespace sigmaops::ui {

// Everything Settings holds. load()/save() go through QSettings.
struct DesktopSettings {
    QString model_path;          // empty: search model_search_paths()
    ChatSettings chat;           // chat.history_db empty: the default history path
    static DesktopSettings load();
    void save() const;
};

class SettingsDialog : public QDialog {
    Q_OBJECT
public:
    explicit SettingsDialog(const DesktopSettings& current, QWidget* parent = nullptr);
    DesktopSettings settings() const;

private:
    QLineEdit* m_model_edit = nullptr;
    QDoubleSpinBox* m_temperature_spin = nullptr;
    QSpinBox* m_max_tokens_spin = nullptr;
    QSpinBox* m_selective_v_spin = nullptr;
    QLineEdit* m_history_edit = nullptr;
    QCheckBox* m_gpu_check = nullptr;
};

} // namespace sigmaops::ui
