// The commands shown in a chat answer (agents/commands annotate.cpp): found in code fences only,
// `$ ` prompts and their continuation lines, here-docs spanning lines, prose left alone, each
// parsed and rated, missing programs marked against this machine's real context.
#include <catch2/catch.hpp>

#include "commands/commands.h"

using namespace sigmaops::commands;
namespace shell = sigmaops::shell;

namespace {
std::vector<std::string> texts(const std::vector<ShownCommand>& v) {
    std::vector<std::string> out;
    for (const auto& c : v) out.push_back(c.text);
    return out;
}
} // namespace

TEST_CASE("annotate: commands come from shell code fences, not from prose", "[commands][annotate]") {
    const std::string answer =
        "To find big files, run find. You could also rm -rf / but do not.\n"
        "```bash\n"
        "find /var -size +1G -mtime -7\n"
        "# a comment\n"
        "\n"
        "du -sh /var/log\n"
        "```\n"
        "Then:\n"
        "```python\n"
        "import os\n"
        "```\n"
        "```\n"
        "ls -l\n"
        "```\n"
        "~~~sh\n"
        "echo tilde\n"
        "~~~\n";
    auto c = extract_commands(answer);
    CHECK(texts(c) == std::vector<std::string>{"find /var -size +1G -mtime -7", "du -sh /var/log", "ls -l", "echo tilde"});
    REQUIRE(c.size() == 4);
    CHECK(c[0].line == 3);
    CHECK(c[1].line == 6);
    CHECK(extract_commands("Use rm -rf /tmp/x to clean up; `ls` lists files.\n").empty());
}

TEST_CASE("annotate: $ prompts, their continuation lines and output", "[commands][annotate]") {
    const std::string answer =
        "```console\n"
        "$ uname -r\n"
        "6.1.0-13-amd64\n"
        "$ echo 'two\n"
        "lines'\n"
        "two\n"
        "lines\n"
        "$ tar -czf a.tgz \\\n"
        "    /etc\n"
        "```\n";
    CHECK(texts(extract_commands(answer)) ==
          std::vector<std::string>{"uname -r", "echo 'two\nlines'", "tar -czf a.tgz \\\n    /etc"});
}

TEST_CASE("annotate: a here-doc and an if spanning lines are one command each", "[commands][annotate]") {
    const std::string answer =
        "```sh\n"
        "cat > /etc/motd <<EOF\n"
        "hello\n"
        "rm -rf /\n"
        "EOF\n"
        "if [ -f /x ]; then\n"
        "  echo yes\n"
        "fi\n"
        "```\n";
    auto c = annotate_answer(answer, nullptr);
    REQUIRE(c.size() == 2);
    CHECK(c[0].text == "cat > /etc/motd <<EOF\nhello\nrm -rf /\nEOF");
    CHECK_FALSE(c[0].parse_error);
    CHECK(c[0].assessment.risk >= shell::Risk::ChangesSystem);    // writes /etc; the body is data
    CHECK(c[0].assessment.risk < shell::Risk::Destructive);
    CHECK(c[1].text == "if [ -f /x ]; then\n  echo yes\nfi");
    CHECK(c[1].assessment.risk == shell::Risk::ReadOnly);
}

TEST_CASE("annotate: risk, parse errors with offsets, missing programs", "[commands][annotate]") {
    const std::string answer =
        "```sh\n"
        "rm -rf /etc\n"
        "```\n"
        "```bash\n"
        "if then fi\n"
        "```\n"
        "```\n"
        "find . -name \"*.cpp\" | keep-header -- ls -l\n"
        "```\n";
    auto ctx = target_context(local_probe(), nullptr, "", {"find", "keep-header", "ls"});
    REQUIRE(ctx);
    auto c = annotate_answer(answer, &*ctx);
    REQUIRE(c.size() == 3);
    CHECK(c[0].assessment.risk >= shell::Risk::Destructive);
    CHECK_FALSE(c[0].assessment.reasons.empty());
    REQUIRE(c[1].parse_error);
    CHECK(c[1].parse_error->offset == 3);
    CHECK(c[1].assessment.risk == shell::Risk::Unknown);
    CHECK_FALSE(c[2].parse_error);
    CHECK(c[2].missing_programs == std::vector<std::string>{"keep-header"});
    CHECK(c[0].missing_programs.empty());
}

TEST_CASE("annotate: an unclosed fence (a cut-off answer) still yields its command", "[commands][annotate]") {
    CHECK(texts(extract_commands("Here:\n```bash\nsystemctl restart nginx\n")) == std::vector<std::string>{"systemctl restart nginx"});
    CHECK(texts(extract_commands("```bash\necho 'never closed\n```\n")) == std::vector<std::string>{"echo 'never closed"});
}
