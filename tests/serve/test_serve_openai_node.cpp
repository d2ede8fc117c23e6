// test_serve_openai_node.cpp - `sigmaops serve` with the official `openai` Node.js library (v4):
// the test installs it from npm into <build>/npm (once; `npm install --prefix BUILD/npm openai@4`)
// and runs tests/serve/openai_client.mjs against a real server on a loopback port. Skips with
// the reason when node or npm is missing or the install fails (no network).
#include "serve_test_util.h"

#include <fstream>

using namespace serve_test;

namespace {

// <build>/npm with openai@4 installed; "" and `why` when it cannot be had.
std::string openai_node_dir(std::string& why) {
    if (!on_path("node")) { why = "node is not installed"; return ""; }
    const fs::path dir = fs::path(SIGMAOPS_BINARY_DIR) / "npm";
    if (!fs::exists(dir / "node_modules" / "openai" / "package.json")) {
        if (!on_path("npm")) { why = "npm is not installed"; return ""; }
        fs::create_directories(dir);
        Child npm({"npm", "install", "--prefix", dir.string(), "--no-audit", "--no-fund", "openai@4"});
        if (npm.finish(300) != 0) { why = "npm install openai@4 failed: " + npm.out(); return ""; }
    }
    // The script beside node_modules, so that `import 'openai'` finds the library.
    fs::copy_file(fs::path(SIGMAOPS_SOURCE_DIR) / "tests/serve/openai_client.mjs", dir / "openai_client.mjs",
                  fs::copy_options::overwrite_existing);
    return dir.string();
}

} // namespace

TEST_CASE("serve conformance with the official openai Node.js library", "[serve][node]") {
    std::string why;
    const std::string dir = openai_node_dir(why);
    if (dir.empty()) {
        WARN("skipped: " << why);
        std::printf("skipped: %s\n", why.c_str());
        return;
    }
    auto o = options();
    o.api_key = "sk-node-test-51d0";
    auto srv = start(o);
    Child node({"node", dir + "/openai_client.mjs", base(*srv) + "/v1", o.api_key, "nano"});
    const int rc = node.finish(120);
    INFO(node.out());
    REQUIRE(rc == 0);
    const std::string& out = node.out();
    const size_t at = out.find("{\"models\"");
    REQUIRE(at != std::string::npos);
    const json j = json::parse(out.substr(at));
    CHECK(j["models"] == json::array({"nano"}));
    CHECK(j["chat"]["object"] == "chat.completion");
    const std::string content = j["chat"]["content"];
    CHECK_FALSE(content.empty());
    CHECK(j["chat"]["usage"]["total_tokens"] ==
          j["chat"]["usage"]["prompt_tokens"].get<int>() + j["chat"]["usage"]["completion_tokens"].get<int>());
    // Streaming through the library's SSE parser: the same text, finish and usage.
    CHECK(j["stream"]["content"] == content);
    CHECK(j["stream"]["finish"] == j["chat"]["finish"]);
    CHECK(j["stream"]["usage"] == j["chat"]["usage"]);
    CHECK(j["stream"]["chunks"].get<int>() >= 3);
    // stop: the reply up to the stop string.
    const std::string stop = j["stop"]["stop"];
    CHECK(j["stop"]["content"] == content.substr(0, content.find(stop)));
    CHECK(j["stop"]["finish"] == "stop");
    CHECK_FALSE(j["completion"]["text"].get<std::string>().empty());
    CHECK(j["seed_same"] == true);
    // Errors arrive as the library's APIError with the server's status, code and type.
    CHECK(j["unknown_model"]["status"] == 404);
    CHECK(j["unknown_model"]["code"] == "model_not_found");
    CHECK(j["n2"]["status"] == 400);
    CHECK(j["wrong_key"]["status"] == 401);
    CHECK(j["wrong_key"]["code"] == "invalid_api_key");
}
