// test_gpu_serve.cpp - `sigmaops serve`'s continuous batching on the GPU (cuda::BatchForward behind
// sigma::BatchSession): the shipped model served with Device::Cuda and the batch scheduler, 8
// concurrent greedy clients (some streaming, joining and leaving the batch at different times)
// each get the reply the prompt gets alone, and that reply is the CPU FIFO server's (the
// engine's single-sequence decode). Built with CUDA; "skipped: no GPU" without one.
#include "gpu_test_util.h"
#include "serve_test_util.h"

#include <thread>

using namespace serve_test;

TEST_CASE("gpu serve: continuous batching gives every concurrent client its greedy reply alone", "[gpu][serve]") {
    if (!sigma::testing::have_gpu()) {
        WARN("skipped: no GPU");
        std::printf("skipped: no GPU\n");
        return;
    }
    SERVE_REQUIRE_CURL();
    auto o = options();
    o.device = sigmaops::serve::Device::Cuda;
    o.scheduling = sigmaops::serve::Scheduling::Batch;
    o.parallel = 8;
    auto gpu = start(o);
    CHECK(gpu->description().find("cuda, batch x8") != std::string::npos);
    auto cpu = start(options());
    const std::vector<std::string> prompts = {"What does the df command show?", "How do I restart nginx?",
                                              "Show the last 50 lines of the syslog.", "Which process listens on port 22?"};
    std::vector<std::string> alone;
    for (const auto& p : prompts) {
        // Different lengths, so that the clients below leave the batch at different steps.
        const int n = 12 + 6 * int(alone.size());
        Reply g = curl(base(*gpu) + "/v1/chat/completions", chat_body(p, n).dump());
        Reply c = curl(base(*cpu) + "/v1/chat/completions", chat_body(p, n).dump());
        REQUIRE(g.status == 200);
        INFO(p);
        CHECK(g.j["choices"][0]["message"]["content"] == c.j["choices"][0]["message"]["content"]);
        alone.push_back(g.j["choices"][0]["message"]["content"]);
    }
    std::vector<std::string> got(8);
    std::vector<std::thread> clients;
    for (int i = 0; i < 8; ++i)
        clients.emplace_back([&, i] {
            std::this_thread::sleep_for(std::chrono::milliseconds(20 * i));   // join a running batch
            const size_t k = size_t(i) % prompts.size();
            json b = chat_body(prompts[k], 12 + 6 * int(k), i % 2 == 1);
            got[size_t(i)] = i % 2 ? stream_text(sse_events(curl(base(*gpu) + "/v1/chat/completions", b.dump(), {"-N"}).body))
                                   : curl(base(*gpu) + "/v1/chat/completions", b.dump()).j["choices"][0]["message"]["content"].get<std::string>();
        });
    for (auto& t : clients) t.join();
    for (int i = 0; i < 8; ++i) {
        INFO("client " << i);
        CHECK(got[size_t(i)] == alone[size_t(i) % prompts.size()]);
    }
}
