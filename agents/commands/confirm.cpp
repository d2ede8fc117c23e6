// confirm.cpp - proposals and the one way to an Approval: confirm() asks a Confirmer and checks
// the answer itself (the typed host name for destructive, irreversible and unknown commands),
// then binds the approval to the exact text, target, sudo and risk.
#include "commands_internal.h"

#include <base/term.h>

#include <fcntl.h>
#include <pwd.h>
#include <termios.h>
#include <unistd.h>

#include <chrono>
#include <climits>

namespace sigmaops::commands {

std::string_view origin_name(Origin o) { return o == Origin::Model ? "model" : "user"; }

bool needs_typed_host(shell::Risk r) {
    return r == shell::Risk::Unknown || r == shell::Risk::Destructive || r == shell::Risk::Irreversible;
}

std::string local_host_name() {
    char buf[HOST_NAME_MAX + 1] = {};
    if (gethostname(buf, sizeof buf - 1) != 0 || buf[0] == 0) return "localhost";
    return buf;
}

std::string current_user_name() {
    const uid_t uid = getuid();
    std::string buf(4096, '\0');
    passwd pw{};
    passwd* found = nullptr;
    if (getpwuid_r(uid, &pw, buf.data(), buf.size(), &found) == 0 && found && found->pw_name)
        return found->pw_name;
    return "uid " + std::to_string(uid);
}

history::Risk history_risk(shell::Risk r) {
    switch (r) {
    case shell::Risk::ReadOnly: return history::Risk::ReadOnly;
    case shell::Risk::ChangesFiles: return history::Risk::Low;
    case shell::Risk::ChangesSystem: return history::Risk::Medium;
    case shell::Risk::Unknown: return history::Risk::Unknown;
    case shell::Risk::Destructive:
    case shell::Risk::Irreversible: return history::Risk::High;
    }
    return history::Risk::Unknown;
}

namespace {

// `sudo CMD...` as the whole script: a single simple command, no assignments or redirections,
// `sudo` written plainly, the next word not an option. Returns the text after "sudo ".
std::optional<std::string> lift_sudo(const std::string& text, const shell::Script& script) {
    const shell::Command& list = script.list;
    if (list.body.size() != 1) return std::nullopt;
    const shell::Command& c = list.body[0];
    if (c.kind != shell::Kind::Simple || c.background || c.negated || c.timed) return std::nullopt;
    if (!c.assignments.empty() || !c.redirects.empty() || c.words.size() < 2) return std::nullopt;
    const auto w0 = c.words[0].literal();
    if (!w0 || *w0 != "sudo" || text.compare(c.words[0].begin, 4, "sudo") != 0) return std::nullopt;
    const auto w1 = c.words[1].literal();
    if (w1 && !w1->empty() && (*w1)[0] == '-') return std::nullopt;
    if (c.end < c.words[1].begin || c.end > text.size()) return std::nullopt;
    return text.substr(c.words[1].begin, c.end - c.words[1].begin);
}

std::int64_t now_ms() {
    using namespace std::chrono;
    return duration_cast<milliseconds>(system_clock::now().time_since_epoch()).count();
}

} // namespace

Proposal make_proposal(std::string text, std::string host, Origin origin, std::string explanation) {
    Proposal p;
    p.host = std::move(host);
    p.origin = origin;
    p.explanation = std::move(explanation);
    const shell::ParseResult parsed = shell::parse(text);
    if (!parsed.ok()) {
        p.parse_error = parsed.error;
        p.assessment = shell::classify_source(text);
        p.assessment.risk = std::max(p.assessment.risk, shell::Risk::Unknown);
        p.text = std::move(text);
        return p;
    }
    // The rating is always of the text as written (sudo included), so lifting sudo never lowers it.
    p.assessment = shell::classify(*parsed.script);
    if (auto inner = lift_sudo(text, *parsed.script)) {
        p.sudo = true;
        p.text = std::move(*inner);
    } else {
        p.text = std::move(text);
    }
    return p;
}

// --- Approval ----------------------------------------------------------------------------------

Approval::Approval(const Proposal& p, std::string approved_by, std::int64_t approved_ms, bool host_typed)
    : m_text(p.text), m_host(p.host), m_sudo(p.sudo), m_risk(p.risk()), m_approved_by(std::move(approved_by)),
      m_approved_ms(approved_ms), m_host_typed(host_typed), m_valid(true) {}

Approval::Approval(Approval&& o) noexcept
    : m_text(std::move(o.m_text)), m_host(std::move(o.m_host)), m_sudo(o.m_sudo), m_risk(o.m_risk),
      m_approved_by(std::move(o.m_approved_by)), m_approved_ms(o.m_approved_ms), m_host_typed(o.m_host_typed),
      m_valid(o.m_valid) {
    o.m_valid = false;
}

Approval& Approval::operator=(Approval&& o) noexcept {
    if (this != &o) {
        m_text = std::move(o.m_text);
        m_host = std::move(o.m_host);
        m_sudo = o.m_sudo;
        m_risk = o.m_risk;
        m_approved_by = std::move(o.m_approved_by);
        m_approved_ms = o.m_approved_ms;
        m_host_typed = o.m_host_typed;
        m_valid = o.m_valid;
        o.m_valid = false;
    }
    return *this;
}

bool Approval::covers(const Proposal& p) const {
    return m_valid && m_text == p.text && m_host == p.host && m_sudo == p.sudo && m_risk == p.risk();
}

// --- confirmation ------------------------------------------------------------------------------

ConfirmRequest confirm_request(const Proposal& p) {
    ConfirmRequest r;
    r.local = p.local();
    r.host = p.local() ? local_host_name() : p.host;
    r.command = visible((p.sudo ? "sudo " : "") + p.text);
    r.origin = p.origin;
    r.explanation = visible(p.explanation);
    r.sudo = p.sudo;
    r.risk = p.risk();
    for (const shell::Reason& reason : p.assessment.reasons)
        r.reasons.push_back(visible(reason.word) + ": " + visible(reason.why) + " (at " + std::to_string(reason.offset) + ")");
    if (p.parse_error)
        r.parse_error = visible(p.parse_error->message) + " (at " + std::to_string(p.parse_error->offset) + ")";
    r.typed_host_required = needs_typed_host(p.risk());
    return r;
}

Verdict confirm(const Proposal& proposal, Confirmer& confirmer) {
    Verdict v;
    if (proposal.text.empty()) {
        v.declined = "empty command";
        return v;
    }
    const ConfirmRequest request = confirm_request(proposal);
    const Answer answer = confirmer.ask(request);
    if (!answer.unanswered.empty()) {
        v.declined = "declined: " + answer.unanswered;
        return v;
    }
    if (request.typed_host_required) {
        if (answer.typed != request.host) {
            v.declined = answer.typed.empty() && !answer.yes
                             ? "declined"
                             : "declined: the host name typed ('" + visible(answer.typed) + "') is not '" + request.host + "'";
            return v;
        }
    } else if (!answer.yes) {
        v.declined = "declined";
        return v;
    }
    v.approval.emplace(Approval(proposal, current_user_name(), now_ms(), request.typed_host_required));
    return v;
}

// --- the terminal ------------------------------------------------------------------------------

namespace {

// /dev/tty, opened for one question; closed in the destructor.
class Tty {
public:
    Tty() : m_fd(::open("/dev/tty", O_RDWR | O_CLOEXEC | O_NOCTTY)) {}
    ~Tty() {
        if (m_fd >= 0) ::close(m_fd);
    }
    Tty(const Tty&) = delete;
    Tty& operator=(const Tty&) = delete;
    bool ok() const { return m_fd >= 0 && isatty(m_fd); }
    void write(const std::string& s) {
        std::size_t off = 0;
        while (off < s.size()) {
            const ssize_t n = ::write(m_fd, s.data() + off, s.size() - off);
            if (n <= 0) return;
            off += static_cast<std::size_t>(n);
        }
    }
    // One line without its end; nullopt on EOF or error before a newline.
    // Discards what was typed before the question was shown: typed-ahead text answers nothing.
    void drop_typeahead() { tcflush(m_fd, TCIFLUSH); }
    std::optional<std::string> read_line() {
        std::string line;
        char c = 0;
        while (true) {
            const ssize_t n = ::read(m_fd, &c, 1);
            if (n <= 0) return std::nullopt;
            if (c == '\n' || c == '\r') return line;
            if (line.size() < 1024) line.push_back(c);
        }
    }

private:
    int m_fd;
};

} // namespace

Answer TerminalConfirmer::ask(const ConfirmRequest& r) {
    Answer a;
    Tty tty;
    if (!tty.ok()) {   // no terminal: declined
        a.unanswered = "no terminal to ask on";
        return a;
    }
    std::string s;
    s += "\n  host:    " + r.host + (r.local ? " (this machine)" : "") + "\n";
    s += "  command: " + r.command + "\n";
    if (!r.explanation.empty()) s += "  what:    " + r.explanation + "\n";
    s += "  from:    " + std::string(r.origin == Origin::Model ? "the model (check it before you approve)" : "you") + "\n";
    if (r.sudo) s += "  runs as: root (sudo; a password is asked here, never shown)\n";
    const std::string risk(shell::risk_name(r.risk));
    s += "  risk:    " + (m_options.color ? colored_risk(risk) : risk) + "\n";
    for (const std::string& reason : r.reasons) s += "           - " + reason + "\n";
    if (r.parse_error) s += "  does not parse: " + *r.parse_error + "\n";
    if (r.typed_host_required)
        s += "Type the host name (" + r.host + ") to run it, anything else declines: ";
    else
        s += "Run it? [y/N] ";
    tty.drop_typeahead();
    tty.write(s);
    const auto line = tty.read_line();
    if (!line) {
        tty.write("\n");
        a.unanswered = "no answer (end of input)";
        return a;
    }
    if (r.typed_host_required) {
        a.typed = *line;
    } else {
        a.yes = *line == "y" || *line == "Y" || *line == "yes" || *line == "YES" || *line == "Yes";
    }
    return a;
}

} // namespace sigmaops::commands
