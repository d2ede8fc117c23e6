// ChatService through every layer below the UI: a real tiny model, a real SQLite history file.
#include <catch2/catch.hpp>

#include "engine_test_util.h"

#include <base/paths.h>
#include <chat/chat.h>
#include <history/history.h>
#include <llm/llm.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>

namespace fs = std::filesystem;
using namespace sigmaops;

static fs::path temp_dir(const std::string& name) {
    fs::path d = fs::temp_directory_path() / ("sigmaops-chat-" + std::to_string(::getpid()) + "-" + name);
    fs::remove_all(d);
    fs::create_directories(d);
    return d;
}

static std::shared_ptr<const llm::Model> tiny() {
    auto m = llm::load_local(sigma::testing::tiny_chat_model());
    REQUIRE(m);
    return m->model;
}

TEST_CASE("a chat exchange streams and lands in the history database", "[agents][chat]") {
    const fs::path dir = temp_dir("stream");
    ChatOptions opt;
    opt.history_db = (dir / "sub" / "history.db").string();   // directories are created
    opt.sampling.max_tokens = 12;
    opt.sampling.seed = 3;
    auto svc = ChatService::create(tiny(), opt);
    REQUIRE(svc);
    std::string streamed;
    auto reply = (*svc)->send("how do I free disk space?", [&](std::string_view p) { streamed += p; return true; });
    REQUIRE(reply);
    CHECK(streamed == reply->text);
    CHECK((*svc)->session_id() > 0);
    CHECK((fs::status(opt.history_db).permissions() & fs::perms::all) == (fs::perms::owner_read | fs::perms::owner_write));

    // A restart (new service, same file) sees the exchange and can continue it.
    auto hist = history::History::open(opt.history_db);
    REQUIRE(hist);
    auto sessions = (*hist)->list_sessions();
    REQUIRE(sessions);
    REQUIRE(sessions->size() == 1);
    CHECK(sessions->at(0).title == "how do I free disk space?");
    auto msgs = (*hist)->messages(sessions->at(0).id);
    REQUIRE(msgs);
    REQUIRE(msgs->size() == 2);
    CHECK(msgs->at(0).role == "user");
    CHECK(msgs->at(1).role == "assistant");
    CHECK(msgs->at(1).content == reply->text);

    auto svc2 = ChatService::create(tiny(), opt);
    REQUIRE(svc2);
    REQUIRE((*svc2)->resume(sessions->at(0).id));
    CHECK((*svc2)->conversation().size() == 3);   // system + user + assistant
    auto again = (*svc2)->send("and the journal?", {});
    REQUIRE(again);
    auto msgs2 = (*hist)->messages(sessions->at(0).id);
    REQUIRE(msgs2);
    CHECK(msgs2->size() == 4);
    fs::remove_all(dir);
}

TEST_CASE("cancel keeps the partial reply, marked as stopped", "[agents][chat]") {
    const fs::path dir = temp_dir("cancel");
    ChatOptions opt;
    opt.history_db = (dir / "history.db").string();
    opt.sampling.max_tokens = 200;
    opt.sampling.min_p = 0;
    auto svc = ChatService::create(tiny(), opt);
    REQUIRE(svc);
    ChatService* s = svc->get();
    int n = 0;
    auto reply = s->send("tell me a long story", [&](std::string_view) { if (++n == 3) s->cancel(); return true; });
    REQUIRE(reply);
    CHECK(reply->stop == llm::StopReason::Cancelled);
    auto hist = history::History::open(opt.history_db);
    REQUIRE(hist);
    auto msgs = (*hist)->messages(s->session_id());
    REQUIRE(msgs);
    REQUIRE(msgs->size() == 2);
    CHECK_THAT(msgs->at(1).content, Catch::EndsWith("[stopped by the user]"));
    fs::remove_all(dir);
}

TEST_CASE("a damaged history file is reported, not overwritten", "[agents][chat]") {
    const fs::path dir = temp_dir("corrupt");
    const fs::path db = dir / "history.db";
    { std::ofstream f(db); f << "definitely not sqlite, but my precious notes\n"; }
    ChatOptions opt;
    opt.history_db = db.string();
    auto svc = ChatService::create(tiny(), opt);
    REQUIRE_FALSE(svc);
    CHECK(svc.error().code == sigmaops::ErrorCode::BadFile);
    std::ifstream f(db);
    std::string content((std::istreambuf_iterator<char>(f)), {});
    CHECK(content == "definitely not sqlite, but my precious notes\n");
    fs::remove_all(dir);
}

TEST_CASE("model lookup explains where it looked", "[agents][paths]") {
    auto missing = llm::find_model("/nope/model.gguf");
    REQUIRE_FALSE(missing);
    CHECK_THAT(missing.error().message, Catch::Contains("/nope/model.gguf"));

    const fs::path dir = temp_dir("paths");
    setenv("XDG_DATA_HOME", (dir / "data").c_str(), 1);
    setenv("SIGMAOPS_MODEL", (dir / "none.gguf").c_str(), 1);
    const AppPaths p = AppPaths::resolve();
    CHECK(p.history_db == (dir / "data" / "sigmaops" / "history.db").string());
    const auto paths = llm::model_search_paths();
    REQUIRE(paths.size() >= 3);
    CHECK(paths[0] == (dir / "none.gguf").string());
    CHECK(paths[1] == (dir / "data" / "sigmaops" / "models").string());
    // A model dropped into the data dir is found.
    fs::create_directories(dir / "data" / "sigmaops" / "models");
    fs::copy_file(sigma::testing::tiny_chat_model(), dir / "data" / "sigmaops" / "models" / "a.gguf");
    // ... but not instead of a $SIGMAOPS_MODEL that is not there (a typo must not silently give
    // another model), nor of a directory without a .gguf in it.
    auto typo = llm::find_model("");
    REQUIRE_FALSE(typo);
    CHECK(typo.error().message == "SIGMAOPS_MODEL=" + (dir / "none.gguf").string() +
                                      ": no such model file (unset it to use the default model)");
    fs::create_directories(dir / "empty");
    setenv("SIGMAOPS_MODEL", (dir / "empty").c_str(), 1);
    auto empty = llm::find_model("");
    REQUIRE_FALSE(empty);
    CHECK_THAT(empty.error().message, Catch::Contains(": no .gguf file in this directory"));
    setenv("SIGMAOPS_MODEL", (dir / "data" / "sigmaops" / "models").c_str(), 1);
    auto in_dir = llm::find_model("");
    REQUIRE(in_dir);
    CHECK(*in_dir == (dir / "data" / "sigmaops" / "models" / "a.gguf").string());
    unsetenv("SIGMAOPS_MODEL");
    auto found = llm::find_model("");
    REQUIRE(found);
    CHECK(*found == (dir / "data" / "sigmaops" / "models" / "a.gguf").string());
    unsetenv("XDG_DATA_HOME");
    fs::remove_all(dir);
}
