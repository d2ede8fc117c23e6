// commands_test_util.h - shared by the tests/commands/ files: a temp directory, scripted
// Confirmers (they only answer; confirm() decides), and file checks.
#pragma once

#include "commands/commands.h"

#include <signal.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

namespace commands_test {

namespace fs = std::filesystem;
using namespace sigmaops::commands;

// A fresh directory under /tmp, removed with everything in it at the end.
struct TempDir {
    std::string path;
    TempDir() {
        char tmpl[] = "/tmp/sigmaops-cmd-XXXXXX";
        if (!mkdtemp(tmpl)) throw std::runtime_error("mkdtemp failed");
        path = tmpl;
    }
    ~TempDir() {
        std::error_code ec;
        fs::remove_all(path, ec);
    }
    std::string operator/(const std::string& name) const { return path + "/" + name; }
};

inline std::string read_file(const std::string& path) {
    std::ifstream in(path, std::ios::binary);
    std::ostringstream s;
    s << in.rdbuf();
    return s.str();
}

inline bool exists(const std::string& path) { return fs::exists(path); }

// The processes of group `pgid` that are alive (not zombies waiting for a reaper: a killed
// orphan stays a zombie until init reaps it, and kill(-pgid, 0) still counts those).
inline std::vector<pid_t> live_group_members(pid_t pgid) {
    std::vector<pid_t> found;
    for (const auto& e : fs::directory_iterator("/proc")) {
        const std::string name = e.path().filename();
        if (name.find_first_not_of("0123456789") != std::string::npos) continue;
        const std::string stat = read_file(e.path().string() + "/stat");
        const auto close = stat.rfind(')');
        if (close == std::string::npos) continue;
        std::istringstream rest(stat.substr(close + 2));
        char state = 0;
        long ppid = 0, pgrp = 0;
        rest >> state >> ppid >> pgrp;
        if (pgrp == pgid && state != 'Z' && state != 'X') found.push_back(pid_t(std::stol(name)));
    }
    return found;
}

// True while any process of group `pgid` is alive (waits up to a second for the kernel to
// finish delivering SIGKILL).
inline bool group_alive(pid_t pgid) {
    for (int i = 0; i < 100; ++i) {
        if (live_group_members(pgid).empty()) return false;
        usleep(10000);
    }
    return true;
}

// Answers every request the same way and keeps what it was shown.
struct ScriptedConfirmer : Confirmer {
    Answer answer;
    std::vector<ConfirmRequest> asked;
    Answer ask(const ConfirmRequest& r) override {
        asked.push_back(r);
        return answer;
    }
};

inline ScriptedConfirmer says_yes() {
    ScriptedConfirmer c;
    c.answer.yes = true;
    return c;
}

inline ScriptedConfirmer types(const std::string& text) {
    ScriptedConfirmer c;
    c.answer.typed = text;
    return c;
}

} // namespace commands_test
