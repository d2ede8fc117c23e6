// test_logs_formats.cpp - stage 2 of agents/logs: format detection on realistic excerpts of each
// format, timestamps to UTC (year-less syslog dates), stack traces kept as one record, and the
// Loghub-style LogFormat override.
#include "logs_test_util.h"

#include <catch2/catch.hpp>

using namespace sigmaops;
using logs_test::records_of;

namespace {

logs::Format detect(const std::string& text) {
    std::vector<std::string> lines;
    std::size_t b = 0;
    while (b < text.size()) {
        std::size_t e = text.find('\n', b);
        if (e == std::string::npos) e = text.size();
        lines.push_back(text.substr(b, e - b));
        b = e + 1;
    }
    return logs::detect_format(lines);
}

std::int64_t utc(int y, int mo, int d, int h, int mi, int s) {
    std::tm t{};
    t.tm_year = y - 1900; t.tm_mon = mo - 1; t.tm_mday = d; t.tm_hour = h; t.tm_min = mi; t.tm_sec = s;
    return std::int64_t(timegm(&t)) * 1000;
}

} // namespace

TEST_CASE("each format is detected from a realistic excerpt", "[logs][detect]") {
    CHECK(detect("Mar  1 09:12:01 web01 sshd[1234]: Failed password for root from 203.0.113.9 port 52144 ssh2\n"
                 "Mar  1 09:12:03 web01 sshd[1234]: Connection closed by authenticating user root 203.0.113.9 port 52144 [preauth]\n"
                 "Mar  1 09:13:00 web01 CRON[2201]: pam_unix(cron:session): session opened for user root(uid=0) by (uid=0)\n")
          == logs::Format::Syslog3164);
    CHECK(detect("2024-03-01T09:12:01.123456+01:00 web01 systemd[1]: Started nginx.service - A high performance web server.\n"
                 "2024-03-01T09:12:02.000001+01:00 web01 kernel: EXT4-fs (sda1): re-mounted. Quota mode: none.\n")
          == logs::Format::Syslog3164);
    CHECK(detect("<34>1 2003-10-11T22:14:15.003Z mymachine.example.com su - ID47 - BOM'su root' failed for lonvick on /dev/pts/8\n"
                 "<165>1 2003-10-11T22:14:15.003Z mymachine.example.com evntslog - ID47 [exampleSDID@32473 iut=\"3\" eventSource=\"App\"] An application event\n")
          == logs::Format::Syslog5424);
    CHECK(detect(R"J({"__CURSOR":"s=1;i=2","__REALTIME_TIMESTAMP":"1709284321000000","PRIORITY":"3","_HOSTNAME":"web01","SYSLOG_IDENTIFIER":"nginx","_PID":"812","MESSAGE":"nginx: [emerg] bind() to 0.0.0.0:80 failed (98: Address already in use)"})J"
                 "\n"
                 R"J({"__CURSOR":"s=1;i=3","__REALTIME_TIMESTAMP":"1709284322000000","PRIORITY":"6","_HOSTNAME":"web01","_COMM":"systemd","_PID":"1","MESSAGE":"nginx.service: Failed with result 'exit-code'."})J")
          == logs::Format::Journald);
    CHECK(detect(R"J({"time":"2024-03-01T09:12:01Z","level":"error","msg":"connection refused","addr":"10.0.0.5:5432"})J" "\n"
                 R"J({"time":"2024-03-01T09:12:02Z","level":"info","msg":"retrying in 5s"})J")
          == logs::Format::JsonLines);
    CHECK(detect("203.0.113.9 - - [01/Mar/2024:09:12:01 +0000] \"GET /index.html HTTP/1.1\" 200 615 \"-\" \"curl/8.5.0\"\n"
                 "198.51.100.7 - alice [01/Mar/2024:09:12:02 +0000] \"POST /api/login HTTP/2.0\" 502 157 \"https://example.com/\" \"Mozilla/5.0\"\n")
          == logs::Format::AccessLog);
    CHECK(detect("[Fri Mar 01 09:12:01.123456 2024] [proxy:error] [pid 4242:tid 140] (111)Connection refused: AH00957: http: attempt to connect to 127.0.0.1:8080 (localhost) failed\n"
                 "[Fri Mar 01 09:12:02 2024] [notice] Apache/2.4.58 (Debian) configured -- resuming normal operations\n")
          == logs::Format::ApacheError);
    CHECK(detect("2024/03/01 09:12:01 [error] 812#812: *17 connect() failed (111: Connection refused) while connecting to upstream, client: 203.0.113.9\n"
                 "2024/03/01 09:12:02 [emerg] 812#812: bind() to 0.0.0.0:80 failed (98: Address already in use)\n")
          == logs::Format::NginxError);
    CHECK(detect("[    0.000000] Linux version 6.1.0-18-amd64 (debian-kernel@lists.debian.org)\n"
                 "[12345.678901] Out of memory: Killed process 4242 (java) total-vm:8123456kB, anon-rss:7000000kB\n")
          == logs::Format::Kernel);
    CHECK(detect("2024-03-01 09:12:01,123 ERROR [main] org.example.App: Cannot connect to database\n"
                 "2024-03-01 09:12:02,456 INFO  [pool-1-thread-3] org.example.Worker: job 17 done\n")
          == logs::Format::Generic);
    CHECK(detect("just some text\nwithout any header at all\n") == logs::Format::Plain);
}

TEST_CASE("syslog headers: host, app, pid, and year-less dates in the most recent past", "[logs][detect][time]") {
    // now = 2024-03-01: "Mar  1" is this year, "Dec 31" is last year (not ten months ahead).
    auto r = records_of("Feb 28 23:59:59 web01 sshd[1234]: Accepted publickey for deploy from 10.0.0.2 port 50000 ssh2\n"
                        "Dec 31 10:00:00 web01 kernel: [1.0] boot\n"
                        "Mar  1 00:00:30 web01 sshd(pam_unix)[77]: check pass; user unknown\n");
    REQUIRE(r.size() == 3);
    CHECK(r[0].format == logs::Format::Syslog3164);
    CHECK(r[0].host == "web01");
    CHECK(r[0].app == "sshd");
    CHECK(r[0].pid == "1234");
    CHECK(r[0].message == "Accepted publickey for deploy from 10.0.0.2 port 50000 ssh2");
    CHECK(r[0].time_ms == utc(2024, 2, 28, 23, 59, 59));
    CHECK(r[1].time_ms == utc(2023, 12, 31, 10, 0, 0));
    CHECK(r[1].app == "kernel");
    CHECK(r[2].app == "sshd(pam_unix)");
    CHECK(r[2].time_ms == utc(2024, 3, 1, 0, 0, 30));   // 30 s after "now": within a day, so this year
}

TEST_CASE("timestamps of every form are converted to UTC", "[logs][time]") {
    logs::TimeContext tc;
    tc.now_ms = utc(2024, 3, 1, 0, 0, 0);
    std::int64_t ms = 0;
    CHECK(logs::parse_timestamp("2024-03-01T09:12:01.250+01:00 x", tc, ms) == 29);
    CHECK(ms == utc(2024, 3, 1, 8, 12, 1) + 250);
    CHECK(logs::parse_timestamp("2024-03-01 09:12:01,123 INFO", tc, ms) == 23);
    CHECK(ms == utc(2024, 3, 1, 9, 12, 1) + 123);
    CHECK(logs::parse_timestamp("01/Mar/2024:09:12:01 -0500]", tc, ms) > 0);
    CHECK(ms == utc(2024, 3, 1, 14, 12, 1));
    CHECK(logs::parse_timestamp("Sun Dec 04 04:47:44 2005]", tc, ms) > 0);
    CHECK(ms == utc(2005, 12, 4, 4, 47, 44));
    CHECK(logs::parse_timestamp("17/06/09 20:10:40 INFO", tc, ms) > 0);
    CHECK(ms == utc(2017, 6, 9, 20, 10, 40));
    CHECK(logs::parse_timestamp("081109 203615 148", tc, ms) > 0);
    CHECK(ms == utc(2008, 11, 9, 20, 36, 15));
    CHECK(logs::parse_timestamp("1117838570 x", tc, ms) == 10);
    CHECK(ms == 1117838570000LL);
    CHECK(logs::parse_timestamp("2024/03/01 09:12:01 [error]", tc, ms) == 19);
    CHECK(logs::parse_timestamp("hello", tc, ms) == 0);
    CHECK(logs::parse_timestamp("2024-13-45 99:00:00", tc, ms) == 0);
    CHECK(logs::parse_timestamp("12345", tc, ms) == 0);
}

TEST_CASE("a Java stack trace stays one record, so does a Python traceback", "[logs][records]") {
    auto r = records_of("2024-03-01 09:12:01,123 ERROR [main] org.example.App: request failed\n"
                        "java.lang.IllegalStateException: pool exhausted\n"
                        "\tat org.example.Pool.get(Pool.java:42)\n"
                        "\tat org.example.App.handle(App.java:17)\n"
                        "Caused by: java.net.SocketTimeoutException: connect timed out\n"
                        "\t... 12 more\n"
                        "2024-03-01 09:12:02,000 INFO  [main] org.example.App: recovered\n");
    REQUIRE(r.size() == 2);
    CHECK(r[0].n_lines == 6);
    CHECK(r[0].first_line == 1);
    CHECK(r[0].severity == logs::Severity::Error);
    CHECK(r[0].app == "org.example.App");
    CHECK_THAT(r[0].message, Catch::StartsWith("request failed\njava.lang.IllegalStateException"));
    CHECK(r[1].first_line == 7);
    CHECK(r[1].message == "recovered");

    auto p = records_of("starting worker\n"
                        "Traceback (most recent call last):\n"
                        "  File \"/srv/app/main.py\", line 3, in <module>\n"
                        "    main()\n"
                        "ValueError: bad config\n"
                        "worker exited\n");
    REQUIRE(p.size() == 3);
    CHECK(p[1].n_lines == 4);
    CHECK_THAT(p[1].message, Catch::EndsWith("ValueError: bad config"));
    CHECK(p[2].message == "worker exited");
}

TEST_CASE("records are bounded: continuation lines past the cap are counted, not kept", "[logs][records][hostile]") {
    std::string text = "2024-03-01 09:12:01,123 ERROR [main] a.B: boom\n";
    for (int i = 0; i < 10000; ++i) text += "\tat a.B.f" + std::to_string(i) + "(B.java:1)\n";
    auto r = records_of(text);
    REQUIRE(r.size() == 1);
    CHECK(r[0].n_lines == 10001);
    CHECK(r[0].truncated);
    CHECK(r[0].message.size() <= logs::ParseOptions{}.max_record_bytes);
}

TEST_CASE("journald JSON: message, priority, unit fields, escapes and byte-array messages", "[logs][detect]") {
    auto r = records_of(R"J({"__REALTIME_TIMESTAMP":"1709284321000000","PRIORITY":"2","_HOSTNAME":"db1","SYSLOG_IDENTIFIER":"postgres","_PID":"99","MESSAGE":"line one\nFATAL: \"x\" \u00e9"})J" "\n"
                        R"J({"__REALTIME_TIMESTAMP":"1709284322000000","PRIORITY":"6","_COMM":"app","MESSAGE":[104,105,255]})J" "\n");
    REQUIRE(r.size() == 2);
    CHECK(r[0].format == logs::Format::Journald);
    CHECK(r[0].severity == logs::Severity::Critical);
    CHECK(r[0].time_ms == 1709284321000LL);
    CHECK(r[0].app == "postgres");
    CHECK(r[0].message == "line one\nFATAL: \"x\" \xc3\xa9");
    CHECK(r[1].app == "app");
    CHECK(r[1].message == "hi\xEF\xBF\xBD");
}

TEST_CASE("JSON times out of range are ignored, not overflowed (found by fuzz_logs)", "[logs][detect][hostile]") {
    auto r = records_of(R"J({"time":9.28432e+25,"msg":"a"})J" "\n" R"J({"time":1e400,"msg":"b"})J" "\n"
                        R"J({"time":1709284321.5,"msg":"c"})J" "\n");
    REQUIRE(r.size() == 3);
    CHECK_FALSE(r[0].has_time);
    CHECK_FALSE(r[1].has_time);
    CHECK(r[2].has_time);
    CHECK(r[2].time_ms == 1709284321500LL);
}

TEST_CASE("access and error logs: severity from status and level", "[logs][detect]") {
    auto a = records_of("203.0.113.9 - - [01/Mar/2024:09:12:01 +0000] \"GET / HTTP/1.1\" 502 157 \"-\" \"curl/8\"\n"
                        "203.0.113.9 - - [01/Mar/2024:09:12:02 +0000] \"GET / HTTP/1.1\" 200 15 \"-\" \"curl/8\"\n");
    REQUIRE(a.size() == 2);
    CHECK(a[0].severity == logs::Severity::Error);
    CHECK(a[1].severity == logs::Severity::Info);
    CHECK(a[0].time_ms == utc(2024, 3, 1, 9, 12, 1));
    auto n = records_of("2024/03/01 09:12:01 [crit] 812#812: *3 open() \"/srv/x\" failed (13: Permission denied)\n");
    REQUIRE(n.size() == 1);
    CHECK(n[0].format == logs::Format::NginxError);
    CHECK(n[0].severity == logs::Severity::Critical);
    CHECK(n[0].pid == "812");
    CHECK_THAT(n[0].message, Catch::StartsWith("*3 open()"));
}

TEST_CASE("a Loghub log_format overrides detection", "[logs][logformat]") {
    const std::string line = "Jun 14 15:16:01 combo sshd(pam_unix)[19939]: authentication failure; rhost=218.188.2.4 \n";
    auto r = records_of(line, "<Month> <Date> <Time> <Level> <Component>(\\[<PID>\\])?: <Content>");
    REQUIRE(r.size() == 1);
    CHECK(r[0].format == logs::Format::Custom);
    CHECK(r[0].message == "authentication failure; rhost=218.188.2.4 ");
    CHECK(r[0].app == "sshd(pam_unix)");
    CHECK(r[0].pid == "19939");
    CHECK(r[0].has_time);

    auto bad = logs::LogFormat::compile("<Date> <Time");
    REQUIRE_FALSE(bad);
    CHECK_THAT(bad.error().message, Catch::Contains("offset 7"));
    auto no_content = logs::LogFormat::compile("<Date> <Time>");
    REQUIRE_FALSE(no_content);
    CHECK_THAT(no_content.error().message, Catch::Contains("<Content>"));
    auto bad_regex = logs::LogFormat::compile("<Date> (<Content>");
    REQUIRE_FALSE(bad_regex);
    CHECK_THAT(bad_regex.error().message, Catch::Contains("offset"));
}
