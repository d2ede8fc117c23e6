// command.cpp - help generation and dispatch over the command table (command.h).
#include "command.h"

#include <exception>
#include <ostream>

namespace sigmaops::cli {

namespace {

std::string pad(std::string left, size_t width) {
    if (left.size() < width) left.resize(width, ' ');
    else left += "  ";
    return left;
}

const Flag* find_flag(const Command& c, const std::string& name) {
    for (const Flag& f : c.flags) {
        if (f.name == name || (!f.alias.empty() && f.alias == name)) return &f;
        for (const std::string& old : f.old_names)
            if (old == name) return &f;
    }
    return nullptr;
}

const Command* find_sub(const Command& c, const std::string& name) {
    for (const Command& s : c.subcommands)
        if (s.name == name) return &s;
    return nullptr;
}

} // namespace

std::string help_text(const Command& c, const std::string& path) {
    const std::string prog = path.empty() ? "sigmaops" : "sigmaops " + path;
    std::string s;
    if (!c.subcommands.empty() && c.usage.empty()) s += "usage: " + prog + " COMMAND [OPTIONS]\n";
    else s += "usage: " + prog + (c.usage.empty() ? "" : " " + c.usage) + "\n";
    if (!c.summary.empty()) s += "\n" + c.summary + "\n";
    if (!c.subcommands.empty()) {
        s += "\ncommands:\n";
        for (const Command& sub : c.subcommands) s += pad("  " + sub.name, 22) + sub.summary + "\n";
    }
    s += "\noptions:\n";
    auto line = [&](const Flag& f) {
        s += pad("  " + (f.alias.empty() ? "" : f.alias + ", ") + f.name + (f.value.empty() ? "" : " " + f.value), 30) + f.help + "\n";
    };
    for (const Flag& f : c.flags) line(f);
    line(Flag{"--help", "-h", "", c.subcommands.empty() ? "show this help"
                                                        : "show this help; `" + prog + " COMMAND --help` for a command's options"});
    if (!c.notes.empty()) s += "\n" + c.notes + (c.notes.back() == '\n' ? "" : "\n");
    return s;
}

int dispatch(const Command& root, const std::vector<std::string>& argv, Io& io) {
    const Command* c = &root;
    std::string path;
    size_t i = 0;
    // A group's own options given before the subcommand's name (`history --history F list`)
    // are passed on to the subcommand, which declares them too.
    std::vector<std::string> carried;
    try {
        // Walk down the subcommands: `history list ...`.
        while (!c->subcommands.empty() && i < argv.size()) {
            if (argv[i].size() > 1 && argv[i][0] == '-') {
                const std::string name = argv[i].substr(0, argv[i].find('='));
                const Flag* f = find_flag(*c, name);
                if (!f) break;
                carried.push_back(argv[i++]);
                if (!f->value.empty() && name == carried.back() && i < argv.size()) carried.push_back(argv[i++]);
                continue;
            }
            const Command* sub = find_sub(*c, argv[i]);
            if (!sub) {
                if (argv[i] == "help") break;
                throw UsageError("unknown command '" + (path.empty() ? "" : path + " ") + argv[i] + "'");
            }
            c = sub;
            path += (path.empty() ? "" : " ") + argv[i];
            ++i;
        }
        std::vector<std::string> rest(argv.begin() + long(i), argv.end());
        rest.insert(rest.end(), carried.begin(), carried.end());
        if (!c->run || (i < argv.size() && argv[i] == "help")) {
            // A group: `sigmaops history` or `sigmaops history --help`.
            Args a(rest, c->flags);
            if (a.has("--help") || (i < argv.size() && argv[i] == "help")) { io.out << help_text(*c, path); return k_exit_ok; }
            io.err << help_text(*c, path);
            return k_exit_usage;
        }
        Args a(rest, c->flags);
        if (a.has("--help")) { io.out << help_text(*c, path); return k_exit_ok; }
        return c->run(Invocation{a, io, *c, path});
    } catch (const UsageError& e) {
        io.err << "sigmaops: " << e.what() << "\nTry 'sigmaops " << (path.empty() ? "" : path + " ") << "--help'.\n";
        return k_exit_usage;
    }
}

} // namespace sigmaops::cli
