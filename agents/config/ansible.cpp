// config/ansible.cpp - the same per-host changes as an Ansible playbook (issue 18 item 6), for
// teams that apply at scale with Ansible: an inventory, and one play per host whose tasks edit
// each changed file in place, only the lines the agent's own apply changes (one
// ansible.builtin.replace per file, backup: true), so the result is byte for byte the agent's;
// check it with the service's own checker, restore the backup when the checker refuses it, and
// reload the service through a handler.
//
// No line the change leaves alone is written into the export: the edit finds its lines by line
// number (a regexp of "any line" N times, then the old lines themselves), so a password the file
// holds (redis requirepass/masterauth) never reaches the playbook on disk. A change that edits a
// line holding a secret is refused with what to do instead. Before editing, a read-only task
// checks that the file is still the one the agent read (or already has the change: a second run
// changes nothing). Text is tagged !unsafe (no Jinja2 templating of config text); a file holding a
// secret gets diff: false, so --diff never shows its lines around the change. Shell commands go
// in cmd: (free-form arguments are split by Ansible, which fails on redis' quoted awk).
#include "config_flow.h"

#include <nlohmann/json.hpp>

#include <algorithm>
#include <cctype>
#include <filesystem>
#include <fstream>

namespace sigmaops::config {

namespace {

std::string js(const std::string& s) {
    return nlohmann::json(s).dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
}

Expected<void> write_file(const std::string& path, const std::string& text) {
    std::ofstream out(path, std::ios::binary | std::ios::trunc);
    out << text;
    out.close();
    if (!out) return unexpected(ErrorCode::Io, "cannot write " + path);
    return {};
}


// Python's re: every ASCII punctuation character escaped (a backslash before one is always that
// character); letters, digits, '_', whitespace and non-ASCII bytes stand for themselves.
std::string re_escape(std::string_view s) {
    std::string out;
    for (char c : s) {
        const auto u = static_cast<unsigned char>(c);
        if (u >= 0x21 && u <= 0x7e && !std::isalnum(u) && c != '_') out += '\\';
        out += c;
    }
    return out;
}
// re.sub's replacement: only backslashes are special (\g<N>, \n, ...).
std::string repl_escape(std::string_view s) {
    std::string out;
    for (char c : s) {
        if (c == '\\') out += '\\';
        out += c;
    }
    return out;
}
bool valid_utf8(const std::string& s) {
    try {
        (void)nlohmann::json(s).dump();
        return true;
    } catch (const nlohmann::json::exception&) {
        return false;
    }
}
bool holds(std::string_view text, const std::vector<std::string>& secrets) {
    return std::any_of(secrets.begin(), secrets.end(), [&](const std::string& s) { return text.find(s) != std::string_view::npos; });
}

// Run on the host (read only): prints "applied" when the file already has the change, "apply"
// when it is still the file the agent read, and fails otherwise (argv: path, after, before).
const char* const k_state_script =
    "import re, sys\n"
    "path, after, before = sys.argv[1:4]\n"
    "text = open(path, 'rb').read().decode('utf-8', 'surrogateescape')\n"
    "if re.match(after, text, re.M): print('applied')\n"
    "elif re.match(before, text, re.M): print('apply')\n"
    "else: sys.exit(path + ' is not the file SigmaOps read (it changed since): export the playbook again')\n";

// One file's change as a replace: `regexp` matches from the start of the file, each gap between
// hunks as "any line" N times (a group), then the hunk's old text; `replace` puts the groups back
// with each hunk's new text. `before` / `after`: the file as read / as changed, same shape.
struct FileEdit {
    std::string regexp, replace, before, after;
    std::vector<std::string> secrets;
    bool secret = false;
};

Expected<FileEdit> file_edit(const FileChange& f, const std::string& content, std::vector<std::string> secrets,
                             const std::vector<std::string>& more) {
    secrets.insert(secrets.end(), more.begin(), more.end());
    FileEdit e;
    e.secrets = secrets;
    e.secret = !secrets.empty();
    if (!valid_utf8(f.before) || !valid_utf8(content))
        return unexpected(ErrorCode::InvalidArgument, f.path + " is not UTF-8 text: the playbook cannot edit it exactly; apply with SigmaOps instead");
    std::vector<Hunk> hunks = f.hunks;
    std::sort(hunks.begin(), hunks.end(), [](const Hunk& a, const Hunk& b) { return a.begin < b.begin; });
    e.regexp = e.before = e.after = "\\A";
    std::size_t at = 0;
    int group = 0;
    for (const Hunk& hk : hunks) {
        if (hk.begin < at || hk.end < hk.begin || hk.end > f.before.size())
            return unexpected(ErrorCode::InvalidArgument, f.path + ": overlapping or out-of-range hunks");
        const std::string_view gap = std::string_view(f.before).substr(at, hk.begin - at);
        const std::string_view old = std::string_view(f.before).substr(hk.begin, hk.end - hk.begin);
        const auto nl = gap.rfind('\n');
        const std::size_t lines = static_cast<std::size_t>(std::count(gap.begin(), gap.end(), '\n'));
        const std::string_view tail = nl == std::string_view::npos ? gap : gap.substr(nl + 1);  // a hunk that starts mid-line
        if (holds(old, secrets) || holds(hk.replacement, secrets) || holds(tail, secrets))
            return unexpected(ErrorCode::InvalidArgument,
                              f.path + ": the change edits a line holding a secret (requirepass/masterauth), which a playbook would "
                                       "carry in plain text; nothing was exported. Apply this change with SigmaOps (tune ... --apply, "
                                       "which keeps the secret off disk and out of history), or leave that line out and export again");
        std::string skip = lines ? "(?:.*\\n){" + std::to_string(lines) + "}" : "";
        skip += re_escape(tail);
        e.regexp += "(" + skip + ")" + re_escape(old);
        e.replace += "\\g<" + std::to_string(++group) + ">" + repl_escape(hk.replacement);
        e.before += skip + re_escape(old);
        e.after += skip + re_escape(hk.replacement);
        at = hk.end;
    }
    return e;
}

} // namespace

Expected<std::vector<std::string>> export_ansible(const std::vector<AnsibleHost>& hosts, const std::string& dir) {
    std::string inventory = "# SigmaOps: the hosts of playbook.yml\n[sigmaops]\n";
    for (const AnsibleHost& h : hosts) {
        inventory += h.name + " ansible_host=" + h.address + " ansible_port=" + std::to_string(h.port);
        if (!h.user.empty()) inventory += " ansible_user=" + h.user;
        if (!h.identity_file.empty()) inventory += " ansible_ssh_private_key_file=" + h.identity_file;
        if (!h.known_hosts.empty())
            inventory += " ansible_ssh_common_args='-o UserKnownHostsFile=" + h.known_hosts + " -o StrictHostKeyChecking=yes'";
        if (h.become) inventory += " ansible_become=true";
        inventory += "\n";
    }
    std::string play = "# SigmaOps: the proposed config changes, one play per host (values follow each host's facts).\n"
                       "# Only the changed lines of each file are edited (no other line of it, and no secret, is in here),\n"
                       "# with a backup; the file is checked with the service's own checker (the backup is put back\n"
                       "# when it refuses), and the service is reloaded by a handler.\n";
    for (const AnsibleHost& h : hosts) {
        play += "\n- name: " + js("SigmaOps changes on " + h.name) + "\n  hosts: " + js(h.name) + "\n  gather_facts: false\n  tasks:\n";
        std::vector<std::pair<std::string, std::string>> handlers;  // name -> reload command
        int n = 0;
        for (const Proposal& p : h.proposals) {
            std::vector<Hunk> all = p.file.hunks;
            auto content = apply_text_hunks(p.file.before, all);
            if (!content) return unexpected(content.error());
            auto e = file_edit(p.file, *content, config_secrets(p.target, p.file.before), config_secrets(p.target, *content));
            if (!e) return unexpected(e.error());
            const std::string reg = "sigmaops_write_" + std::to_string(n), state = "sigmaops_state_" + std::to_string(n);
            ++n;
            const std::string handler = "reload " + std::string(service_name(p.target.service)) + " (" + p.target.config_path + ")";
            if (std::none_of(handlers.begin(), handlers.end(), [&](const auto& x) { return x.first == handler; }))
                handlers.push_back({handler, reload_command(p.target, p.file.before, *content)});
            std::string why;
            for (const Hunk& hk : p.file.hunks) why += "\n      #   " + hk.change.reason + (hk.change.source.empty() ? "" : " [" + hk.change.source + "]");
            const std::string nodiff = e->secret ? "          diff: false  # the file holds a secret: --diff would show the lines around the change\n" : "";
            play += "    - name: " + js("check that " + p.file.path + " is the file SigmaOps read") + "\n"
                    "      ansible.builtin.command:\n"
                    "        argv:\n"
                    "          - python3\n"
                    "          - -c\n"
                    "          - " + js(k_state_script) + "\n"
                    "          - !unsafe " + js(p.file.path) + "\n"
                    "          - !unsafe " + js(e->after) + "\n"
                    "          - !unsafe " + js(e->before) + "\n"
                    "      register: " + state + "\n"
                    "      changed_when: false\n"
                    "      check_mode: false\n"
                    "    - block:\n"
                    "        - name: " + js("edit " + p.file.path) + why + "\n"
                    "          ansible.builtin.replace:\n"
                    "            path: " + js(p.file.path) + "\n"
                    "            regexp: !unsafe " + js(e->regexp) + "\n"
                    "            replace: !unsafe " + js(e->replace) + "\n"
                    "            backup: true\n" + nodiff +
                    "          register: " + reg + "\n"
                    "          when: " + state + ".stdout == 'apply'\n"
                    "          notify: " + js(handler) + "\n"
                    "        - name: " + js("check it with " + std::string(service_name(p.target.service)) + "'s own checker") + "\n"
                    "          ansible.builtin.shell:\n"
                    "            cmd: !unsafe " + js(validate_command(p.target)) + "\n"
                    "          changed_when: false\n"
                    "          when: " + reg + ".changed\n"
                    "      rescue:\n"
                    "        - name: " + js("put the backup of " + p.file.path + " back") + "\n"
                    "          ansible.builtin.copy:\n"
                    "            src: \"{{ " + reg + ".backup_file }}\"\n"
                    "            dest: " + js(p.file.path) + "\n"
                    "            remote_src: true\n"
                    "          when: " + reg + ".backup_file is defined\n"
                    "        - name: stop here\n"
                    "          ansible.builtin.fail:\n"
                    "            msg: " + js("the checker refused the new " + p.file.path + "; the backup was put back") + "\n";
            for (const std::string& secret : e->secrets)
                if (play.find(secret) != std::string::npos || handlers.back().second.find(secret) != std::string::npos)
                    return unexpected(ErrorCode::InvalidArgument, p.file.path + " on " + h.name + ": a secret the file holds would reach the playbook; nothing was exported");
        }
        if (!handlers.empty()) {
            play += "  handlers:\n";
            for (const auto& [name, cmd] : handlers) play += "    - name: " + js(name) + "\n      ansible.builtin.shell:\n        cmd: !unsafe " + js(cmd) + "\n";
        }
    }
    std::error_code ec;  // created only once every file's edit is known to be exportable
    std::filesystem::create_directories(dir, ec);
    if (ec) return unexpected(ErrorCode::Io, "cannot create " + dir + ": " + ec.message());
    std::vector<std::string> written = {dir + "/inventory.ini", dir + "/playbook.yml"};
    if (auto r = write_file(written[0], inventory); !r) return unexpected(r.error());
    if (auto r = write_file(written[1], play); !r) return unexpected(r.error());
    return written;
}

} // namespace sigmaops::config
