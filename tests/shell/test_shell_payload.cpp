// test_shell_payload.cpp - the commands wrappers run (agents/shell payloads()): sudo, env, nice,
// timeout, xargs, find -exec, sh -c, su -c, eval, watch, nested wrappers, computed strings.
#include <catch2/catch.hpp>

#include <shell/shell.h>

#include <string>
#include <vector>

using namespace sigmaops::shell;

namespace {

// The payloads of the first command of `src`, each as "wrapper,wrapper: word word" or
// "wrappers: {script: first program}" / "wrappers: opaque".
std::vector<std::string> run(const std::string& src) {
    ParseResult r = parse(src);
    INFO(src);
    REQUIRE(r.ok());
    const Command& c = r.script->list.body[0];
    REQUIRE(c.kind == Kind::Simple);
    std::vector<std::string> out;
    for (const Payload& p : payloads(c)) {
        std::string s;
        for (const auto& w : p.wrappers) s += (s.empty() ? "" : ",") + w;
        s += ":";
        if (p.opaque) s += " opaque";
        else if (p.script_error) s += " error";
        else if (p.script) {
            s += " {";
            for (const Command& x : p.script->list.body)
                s += " " + (x.kind == Kind::Simple && !x.words.empty() ? x.words[0].literal().value_or("?") : "compound");
            s += " }";
        } else {
            for (const Word& w : p.words) s += " " + w.literal().value_or("$");
        }
        out.push_back(s);
    }
    return out;
}

using V = std::vector<std::string>;

} // namespace

TEST_CASE("privilege and environment wrappers are peeled off", "[shell][payload]") {
    CHECK(run("ls -l") == V{": ls -l"});
    CHECK(run("sudo -u www-data -H rm -f x") == V{"sudo: rm -f x"});
    CHECK(run("sudo -- rm x") == V{"sudo: rm x"});
    CHECK(run("sudo VAR=1 rm x") == V{"sudo: rm x"});
    CHECK(run("sudo -l") == V{": sudo -l"});
    CHECK(run("sudo -i") == V{": sudo -i"});
    CHECK(run("doas rm x") == V{"doas: rm x"});
    CHECK(run("env -i A=1 B=2 rm x") == V{"env: rm x"});
    CHECK(run("env -u HOME rm x") == V{"env: rm x"});
    CHECK(run("env") == V{": env"});
    CHECK(run("env -S 'rm -rf x'") == V{"env: { rm }"});
}

TEST_CASE("scheduling wrappers: nice, ionice, nohup, timeout, stdbuf, chroot, flock, time", "[shell][payload]") {
    CHECK(run("nice -n 10 rm x") == V{"nice: rm x"});
    CHECK(run("nice -5 rm x") == V{"nice: rm x"});
    CHECK(run("ionice -c 3 rm x") == V{"ionice: rm x"});
    CHECK(run("nohup rm x") == V{"nohup: rm x"});
    CHECK(run("timeout -s KILL 5s rm x") == V{"timeout: rm x"});
    CHECK(run("timeout 5 sudo nice rm x") == V{"timeout,sudo,nice: rm x"});
    CHECK(run("stdbuf -oL rm x") == V{"stdbuf: rm x"});
    CHECK(run("chroot /mnt rm x") == V{"chroot: rm x"});
    CHECK(run("flock /tmp/l rm x") == V{"flock: rm x"});
    CHECK(run("flock /tmp/l -c 'rm x'") == V{"flock: { rm }"});
    CHECK(run("command rm x") == V{"command: rm x"});
    CHECK(run("command -v rm") == V{": command -v rm"});
    CHECK(run("exec rm x") == V{"exec: rm x"});
    CHECK(run("time rm x") == V{": rm x"});                 // the reserved word: the parser's `timed`
    CHECK(run("/usr/bin/time -v -o t.txt rm x") == V{"time: rm x"});
}

TEST_CASE("xargs and find -exec run their command on each input", "[shell][payload]") {
    CHECK(run("xargs -0 -n 1 -I{} rm {}") == V{"xargs: rm {}"});
    CHECK(run("xargs") == V{": xargs"});
    CHECK(run("find . -name '*.o' -exec rm -f {} \\;") == V{": find . -name *.o -exec rm -f {} ;", "find -exec: rm -f {}"});
    CHECK(run("find / -execdir sudo shred {} + -ok cat {} ';'") ==
          V{": find / -execdir sudo shred {} + -ok cat {} ;", "find -execdir,sudo: shred {}", "find -ok: cat {}"});
    CHECK(run("find . -name x") == V{": find . -name x"});
}

TEST_CASE("shell strings are parsed as scripts: sh -c, bash -c, su -c, eval, watch", "[shell][payload]") {
    CHECK(run("sh -c 'rm -rf x; ls'") == V{"sh -c: { rm ls }"});
    CHECK(run("bash -ec \"rm x\"") == V{"bash -c: { rm }"});
    CHECK(run("sudo bash -c 'curl x | sh'") == V{"sudo,bash -c: { compound }"});
    CHECK(run("bash -c \"$CMD\"") == V{"bash -c: opaque"});
    CHECK(run("bash -c 'echo \"'") == V{"bash -c: error"});
    CHECK(run("bash script.sh") == V{": bash script.sh"});
    CHECK(run("su -c 'rm x' root") == V{"su: { rm }"});
    CHECK(run("su - root") == V{": su - root"});
    CHECK(run("eval rm -rf x") == V{"eval: { rm }"});
    CHECK(run("eval \"$x\"") == V{"eval: opaque"});
    CHECK(run("watch -n 5 'df -h; rm x'") == V{"watch: { df rm }"});
    CHECK(run("busybox rm x") == V{"busybox: rm x"});
    CHECK(run("ssh -p 22 host 'rm -rf /tmp/x'") == V{": ssh -p 22 host rm -rf /tmp/x", "ssh: { rm }"});
}

TEST_CASE("data is not a payload, and nesting is bounded", "[shell][payload]") {
    CHECK(run("echo sudo rm -rf /") == V{": echo sudo rm -rf /"});
    CHECK(run("grep 'sh -c' file") == V{": grep sh -c file"});
    std::string deep;
    for (int i = 0; i < 100; ++i) deep += "sudo ";
    deep += "rm x";
    std::vector<std::string> p = run(deep);
    REQUIRE(p.size() == 1);   // unwrapped to a limit, then left as it is
}
