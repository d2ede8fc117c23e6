// commands::asks_for_command: which plain chat messages the chat sends through the command agent
// (issue 17 item 9) and which stay with the chat model. The rule is documented in commands.h.
#include <catch2/catch.hpp>

#include "commands/commands.h"

#include <string>
#include <vector>

using sigmaops::commands::asks_for_command;

TEST_CASE("intent: requests for a shell command are recognised", "[commands][intent]") {
    const std::vector<std::string> asks{
        "find files larger than 1GB under /var",
        "Find files larger than 1GB under /var",
        "how do I show the last 50 lines of the nginx error log",
        "How do I show the last 50 lines of the nginx error log?",
        "list all listening tcp ports",
        "show disk usage of /home sorted by size",
        "delete log files older than 30 days in /var/log/app",
        "remove the docker images that are dangling",
        "kill the process listening on port 8080",
        "restart nginx",
        "check if port 443 is open",
        "count the lines in access.log",
        "compress /srv/backup into a tar.gz",
        "extract backup.tar.gz into /opt",
        "copy /etc/nginx to /root/nginx-backup",
        "move all .log files to /tmp/old",
        "search for 'timeout' in /var/log/syslog",
        "how to list open files of a process",
        "how can I find which process uses the most memory",
        "please tail the auth log",
        "can you list the users with a login shell",
        "command to see the kernel version",
        "what is the command for reloading systemd units",
        "give me a command that prints the uptime",
        "which command shows the routing table",
        "a one-liner to count unique IPs in access.log",
        "  Show   me the   failed systemd units  ",
        "how would I mount /dev/sdb1 on /mnt",
    };
    for (const auto& m : asks) {
        INFO(m);
        CHECK(asks_for_command(m));
    }
}

TEST_CASE("intent: general questions and chat stay with the chat model", "[commands][intent]") {
    const std::vector<std::string> chat{
        "what is a inode?",
        "what is an inode",
        "why did nginx fail?",
        "explain TCP",
        "how does DNS work",
        "how do I know if my server was hacked",
        "what does the sticky bit mean",
        "hello",
        "thanks!",
        "restart",
        "show me why nginx failed",
        "find out what uses port 80",
        "show me how systemd works",
        "is ext4 better than xfs for postgres",
        "tell me about systemd timers",
        "/var is full",
        "my disk is full, what should I do",
        "difference between hard links and symlinks",
        "when should I use rsync instead of scp",
        "summarise the last diagnosis",
        "what are the risks of running as root",
        "how do I become a better sysadmin",
        "",
        "?",
        std::string(400, 'a') + " find files",
    };
    for (const auto& m : chat) {
        INFO(m);
        CHECK_FALSE(asks_for_command(m));
    }
}
