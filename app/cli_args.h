// cli_args.h - a small, strict command-line parser for the `sigmaops` subcommands: every flag is
// declared with its help text, unknown flags and missing values are usage errors (exit code 2).
#pragma once

#include <cctype>
#include <cstdio>
#include <map>
#include <optional>
#include <stdexcept>
#include <string>
#include <vector>

namespace sigmaops::cli {

struct UsageError : std::runtime_error {
    using std::runtime_error::runtime_error;
};

struct Flag {
    std::string name;     // "--temp"
    std::string alias;    // "-t" or ""
    std::string value;    // value placeholder ("T"); "" for a switch
    std::string help;
};

class Args {
public:
    Args(std::string command, std::string synopsis, std::vector<Flag> flags)
        : m_command(std::move(command)), m_synopsis(std::move(synopsis)), m_flags(std::move(flags)) {
        m_flags.push_back({"--help", "-h", "", "show this help"});
    }
    // Throws UsageError naming the bad flag.
    void parse(const std::vector<std::string>& argv) {
        for (size_t i = 0; i < argv.size(); ++i) {
            const std::string& a = argv[i];
            if (a == "--") { for (++i; i < argv.size(); ++i) m_positional.push_back(argv[i]); break; }
            if (a.size() > 1 && a[0] == '-' && !(a.size() > 1 && (std::isdigit(static_cast<unsigned char>(a[1])) || a[1] == '.'))) {
                std::string name = a, inline_value;
                bool has_inline = false;
                if (auto eq = a.find('='); a.rfind("--", 0) == 0 && eq != std::string::npos) {
                    name = a.substr(0, eq); inline_value = a.substr(eq + 1); has_inline = true;
                }
                const Flag* f = find(name);
                if (!f) throw UsageError("unknown option '" + name + "'");
                if (f->value.empty()) {
                    if (has_inline) throw UsageError("option " + f->name + " takes no value");
                    m_values[f->name] = "1";
                } else if (has_inline) {
                    m_values[f->name] = inline_value;
                } else {
                    if (i + 1 >= argv.size()) throw UsageError("option " + f->name + " needs a value (" + f->value + ")");
                    m_values[f->name] = argv[++i];
                }
            } else {
                m_positional.push_back(a);
            }
        }
    }
    bool has(const std::string& name) const { return m_values.count(name) > 0; }
    std::string get(const std::string& name, const std::string& def = "") const {
        auto it = m_values.find(name);
        return it == m_values.end() ? def : it->second;
    }
    long long get_int(const std::string& name, long long def, long long lo, long long hi) const {
        if (!has(name)) return def;
        const std::string v = get(name);
        size_t used = 0;
        long long x = 0;
        try { x = std::stoll(v, &used); } catch (...) { used = 0; }
        if (used != v.size() || v.empty()) throw UsageError(name + " expects an integer, got '" + v + "'");
        if (x < lo || x > hi)
            throw UsageError(name + " must be between " + std::to_string(lo) + " and " + std::to_string(hi) + ", got '" + v + "'");
        return x;
    }
    double get_double(const std::string& name, double def, double lo, double hi) const {
        if (!has(name)) return def;
        const std::string v = get(name);
        size_t used = 0;
        double x = 0;
        try { x = std::stod(v, &used); } catch (...) { used = 0; }
        if (used != v.size() || v.empty()) throw UsageError(name + " expects a number, got '" + v + "'");
        if (!(x >= lo && x <= hi)) {
            auto num = [](double d) {  // "0 and 100", not std::to_string's "0.000000 and 100.000000"
                char buf[32];
                std::snprintf(buf, sizeof buf, "%g", d);
                return std::string(buf);
            };
            throw UsageError(name + " must be between " + num(lo) + " and " + num(hi) + ", got '" + v + "'");
        }
        return x;
    }
    const std::vector<std::string>& positional() const { return m_positional; }
    std::string help() const {
        std::string s = "usage: " + m_synopsis + "\n\noptions:\n";
        for (const Flag& f : m_flags) {
            std::string left = "  " + (f.alias.empty() ? "" : f.alias + ", ") + f.name + (f.value.empty() ? "" : " " + f.value);
            if (left.size() < 30) left.resize(30, ' '); else left += "  ";
            s += left + f.help + "\n";
        }
        return s;
    }
    const std::string& command() const { return m_command; }

private:
    const Flag* find(const std::string& n) const {
        for (const Flag& f : m_flags)
            if (f.name == n || (!f.alias.empty() && f.alias == n)) return &f;
        return nullptr;
    }
    std::string m_command, m_synopsis;
    std::vector<Flag> m_flags;
    std::map<std::string, std::string> m_values;
    std::vector<std::string> m_positional;
};

} // namespace sigmaops::cli
