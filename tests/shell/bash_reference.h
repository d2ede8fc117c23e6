// bash_reference.h - the reference the shell parser is measured against: `bash -n` run on one
// snippet (fed on stdin), and the corpus of real snippets that tools/shell_corpus.py writes.
// Shared by tests/shell/test_shell_corpus.cpp and bench/bench_shell_parse.cpp.
#pragma once

#include <nlohmann/json.hpp>

#include <cerrno>
#include <fcntl.h>
#include <fstream>
#include <optional>
#include <spawn.h>
#include <string>
#include <sys/wait.h>
#include <unistd.h>
#include <vector>

extern char** environ;

namespace shell_reference {

struct BashVerdict {
    bool ran = false;      // bash could be started
    bool ok = false;       // bash -n exited 0 and printed nothing but warnings
    std::string message;   // its stderr (the syntax error)
};

// Runs `bash -n` with `text` on stdin. Warnings (a here-document cut by the end of the file)
// do not make it fail, as in bash.
inline BashVerdict bash_n(const std::string& text, const std::string& bash = "/bin/bash") {
    BashVerdict v;
    int in[2], err[2];
    if (pipe2(in, O_CLOEXEC) != 0) return v;
    if (pipe2(err, O_CLOEXEC) != 0) { close(in[0]); close(in[1]); return v; }
    posix_spawn_file_actions_t fa;
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_adddup2(&fa, in[0], 0);
    posix_spawn_file_actions_adddup2(&fa, err[1], 2);
    posix_spawn_file_actions_addopen(&fa, 1, "/dev/null", O_WRONLY, 0);
    std::string a0 = bash, a1 = "-n";
    char* argv[] = {a0.data(), a1.data(), nullptr};
    pid_t pid = 0;
    int rc = posix_spawn(&pid, bash.c_str(), &fa, nullptr, argv, environ);
    posix_spawn_file_actions_destroy(&fa);
    close(in[0]);
    close(err[1]);
    if (rc != 0) { close(in[1]); close(err[0]); return v; }
    // Snippets are small next to the pipe's buffer only sometimes: write all, then read stderr
    // (bash -n reads its whole input before it exits, so the write never waits on our read).
    size_t off = 0;
    while (off < text.size()) {
        ssize_t n = write(in[1], text.data() + off, text.size() - off);
        if (n < 0) { if (errno == EINTR) continue; break; }
        off += size_t(n);
    }
    close(in[1]);
    char buf[4096];
    for (ssize_t n; (n = read(err[0], buf, sizeof buf)) != 0;) {
        if (n < 0) { if (errno == EINTR) continue; break; }
        v.message.append(buf, size_t(n));
    }
    close(err[0]);
    int status = 0;
    while (waitpid(pid, &status, 0) < 0 && errno == EINTR) {}
    v.ran = true;
    v.ok = WIFEXITED(status) && WEXITSTATUS(status) == 0;
    // bash reports some errors of [[ ]] ("conditional binary operator expected") and still
    // exits 0 under -n; any message that is not a warning counts as a rejection.
    size_t from = 0;
    while (v.ok && from < v.message.size()) {
        size_t eol = v.message.find('\n', from);
        std::string line = v.message.substr(from, eol == std::string::npos ? std::string::npos : eol - from);
        if (!line.empty() && line.find("warning: ") == std::string::npos) v.ok = false;
        from = eol == std::string::npos ? v.message.size() : eol + 1;
    }
    return v;
}

struct Snippet {
    std::string source;    // "tldr:common/tar.md:12", "completion:/usr/share/...", "maintainer:..."
    std::string text;
    std::string kind() const { return source.substr(0, source.find(':')); }
};

// Reads the JSON lines of tools/shell_corpus.py; nullopt when the file cannot be read.
inline std::optional<std::vector<Snippet>> read_corpus(const std::string& path) {
    std::ifstream f(path);
    if (!f) return std::nullopt;
    std::vector<Snippet> out;
    for (std::string line; std::getline(f, line);) {
        if (line.empty()) continue;
        nlohmann::json j = nlohmann::json::parse(line, nullptr, false);
        if (j.is_discarded() || !j.is_object()) continue;
        out.push_back({j.value("source", ""), j.value("text", "")});
    }
    return out;
}

} // namespace shell_reference
