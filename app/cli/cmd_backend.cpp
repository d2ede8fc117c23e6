// cmd_backend.cpp - `sigmaops backend set-key URL` / `forget-key URL`: the API key of a remote
// backend (--backend URL) kept in the system keyring (llm::store_api_key, libsecret), read from
// stdin without echo on a terminal, so it never appears in argv, shell history or a file.
#include "commands.h"
#include "common.h"

#include <llm/llm.h>

#include <iostream>
#include <string>

#include <termios.h>
#include <unistd.h>

namespace sigmaops::cli {

namespace {

std::string one_url(const Invocation& c) {
    if (c.args.positional().size() != 1) throw UsageError("needs exactly one URL (the --backend URL the key belongs to)");
    return c.args.positional()[0];
}

// One line from stdin; on a terminal with the echo off and a prompt on stderr.
std::string read_key(const Invocation& c) {
    const bool tty = &c.io.in == &std::cin && ::isatty(STDIN_FILENO) == 1;
    termios old{};
    if (tty) {
        c.io.err << "API key (not shown): " << std::flush;
        ::tcgetattr(STDIN_FILENO, &old);
        termios quiet = old;
        quiet.c_lflag &= ~tcflag_t(ECHO);
        ::tcsetattr(STDIN_FILENO, TCSAFLUSH, &quiet);
    }
    std::string key;
    std::getline(c.io.in, key);
    if (tty) {
        ::tcsetattr(STDIN_FILENO, TCSAFLUSH, &old);
        c.io.err << "\n";
    }
    while (!key.empty() && (key.back() == '\r' || key.back() == ' ' || key.back() == '\t')) key.pop_back();
    return key;
}

int run_set_key(const Invocation& c) {
    const std::string url = one_url(c);
    std::string key = read_key(c);
    if (key.empty()) {
        c.io.err << "sigmaops: no key read from stdin; nothing stored\n";
        return k_exit_failure;
    }
    auto done = llm::store_api_key(url, key);
    std::fill(key.begin(), key.end(), '\0');
    if (!done) {
        c.io.err << "sigmaops: " << done.error().message << "\n";
        return k_exit_failure;
    }
    c.io.err << "sigmaops: the API key for " << url << " is in the system keyring\n";
    return k_exit_ok;
}

int run_forget_key(const Invocation& c) {
    const std::string url = one_url(c);
    auto done = llm::forget_api_key(url);
    if (!done) {
        c.io.err << "sigmaops: " << done.error().message << "\n";
        return k_exit_failure;
    }
    c.io.err << "sigmaops: " << (*done ? "removed the API key for " : "no API key was stored for ") << url << "\n";
    return k_exit_ok;
}

} // namespace

Command backend_command() {
    Command c;
    c.name = "backend";
    c.summary = "the API key of a remote backend (--backend URL), kept in the system keyring";
    c.subcommands = {
        {"set-key", "store the API key for URL in the system keyring (read from stdin, not echoed)", "URL", {}, "", run_set_key, {}},
        {"forget-key", "remove the API key for URL from the system keyring", "URL", {}, "", run_forget_key, {}},
    };
    c.notes = "A remote backend is any OpenAI-compatible server: --backend URL [--backend-model NAME] on chat, cmd,\n"
              "diagnose and generate (or $SIGMAOPS_BACKEND / $SIGMAOPS_BACKEND_MODEL). Its API key comes from\n"
              "$SIGMAOPS_API_KEY, else the keyring entry stored here; never from the command line.";
    return c;
}

} // namespace sigmaops::cli
