// config/ansible.cpp - the same per-host changes as an Ansible playbook (issue 18 item 6), for
// teams that apply at scale with Ansible: an inventory, and one play per host whose tasks write
// each changed file with the bytes the agent's own apply would write (copy, backup: true), check
// it with the service's own checker, restore the backup when the checker refuses it, and reload
// the service through a handler. File contents are JSON strings tagged !unsafe (no Jinja2
// templating of config text).
#include "config_flow.h"

#include <nlohmann/json.hpp>

#include <algorithm>
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

} // namespace

Expected<std::vector<std::string>> export_ansible(const std::vector<AnsibleHost>& hosts, const std::string& dir) {
    std::error_code ec;
    std::filesystem::create_directories(dir, ec);
    if (ec) return unexpected(ErrorCode::Io, "cannot create " + dir + ": " + ec.message());
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
                       "# Each file is written with a backup, checked with the service's own checker (the backup is\n"
                       "# put back when it refuses), and the service is reloaded by a handler.\n";
    for (const AnsibleHost& h : hosts) {
        play += "\n- name: " + js("SigmaOps changes on " + h.name) + "\n  hosts: " + js(h.name) + "\n  gather_facts: false\n  tasks:\n";
        std::vector<std::pair<std::string, std::string>> handlers;  // name -> reload command
        int n = 0;
        for (const Proposal& p : h.proposals) {
            std::vector<Hunk> all = p.file.hunks;
            auto content = apply_text_hunks(p.file.before, all);
            if (!content) return unexpected(content.error());
            const std::string reg = "sigmaops_write_" + std::to_string(n++);
            const std::string handler = "reload " + std::string(service_name(p.target.service)) + " (" + p.target.config_path + ")";
            if (std::none_of(handlers.begin(), handlers.end(), [&](const auto& x) { return x.first == handler; }))
                handlers.push_back({handler, reload_command(p.target, p.file.before, *content)});
            std::string why;
            for (const Hunk& hk : p.file.hunks) why += "\n      #   " + hk.change.reason + (hk.change.source.empty() ? "" : " [" + hk.change.source + "]");
            play += "    - block:\n"
                    "        - name: " + js("write " + p.file.path) + why + "\n"
                    "          ansible.builtin.copy:\n"
                    "            dest: " + js(p.file.path) + "\n"
                    "            content: !unsafe " + js(*content) + "\n"
                    "            backup: true\n"
                    "          register: " + reg + "\n"
                    "          notify: " + js(handler) + "\n"
                    "        - name: " + js("check it with " + std::string(service_name(p.target.service)) + "'s own checker") + "\n"
                    "          ansible.builtin.shell: " + js(validate_command(p.target)) + "\n"
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
        }
        if (!handlers.empty()) {
            play += "  handlers:\n";
            for (const auto& [name, cmd] : handlers) play += "    - name: " + js(name) + "\n      ansible.builtin.shell: " + js(cmd) + "\n";
        }
    }
    std::vector<std::string> written = {dir + "/inventory.ini", dir + "/playbook.yml"};
    if (auto r = write_file(written[0], inventory); !r) return unexpected(r.error());
    if (auto r = write_file(written[1], play); !r) return unexpected(r.error());
    return written;
}

} // namespace sigmaops::config
