// cli/args.h - the one command-line parser of `sigmaops`: every option is declared once, with
// its help text, in a command's table entry (command.h); unknown options and missing or
// malformed values are usage errors (exit code 2) that name the option and what it accepts.
#pragma once

#include <map>
#include <stdexcept>
#include <string>
#include <vector>

namespace sigmaops::cli {

struct UsageError : std::runtime_error {
    using std::runtime_error::runtime_error;
};

// What the shell completions (docgen.h) offer for an option's value. Auto derives it from the
// placeholder: FILE, F, PATH a file; DIR, D a directory; H, HOST, J a host (~/.ssh/config,
// hosts.conf, known_hosts); H1,H2 a comma-separated list of hosts; USER a login name; a|b|c one of
// the choices; anything else nothing (the shell waits for typed text).
enum class Complete { Auto, None, File, Dir, Host, HostList, User };

struct Flag {
    std::string name;     // "--temp"
    std::string alias;    // "-t" or ""
    std::string value;    // value placeholder ("T"); "" for a switch
    std::string help;
    // Earlier names of this option ("--db"): accepted as this one, never shown in help.
    std::vector<std::string> old_names = {};
    Complete complete = Complete::Auto;   // set only where the placeholder says the wrong thing
};

class Args {
public:
    // Parses argv against `flags` (plus --help/-h). Throws UsageError naming the bad option.
    Args(const std::vector<std::string>& argv, const std::vector<Flag>& flags);

    bool has(const std::string& name) const { return m_values.count(name) > 0; }
    std::string get(const std::string& name, const std::string& def = "") const;
    // The value as an integer in [lo, hi]; `def` when absent. Throws UsageError otherwise.
    long long get_int(const std::string& name, long long def, long long lo, long long hi) const;
    double get_double(const std::string& name, double def, double lo, double hi) const;
    const std::vector<std::string>& positional() const { return m_positional; }
    // How many positionals came before a "--" (all of them when there was none).
    size_t n_before_separator() const { return m_n_before_separator; }
    // Throws UsageError("unexpected argument 'X'") when there are more than n positionals.
    void at_most(size_t n) const;

private:
    std::map<std::string, std::string> m_values;
    std::vector<std::string> m_positional;
    size_t m_n_before_separator = 0;
};

} // namespace sigmaops::cli
