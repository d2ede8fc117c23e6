// The decode-attention launcher's plan (kernels.h decode_attention_plan), without a GPU: which
// kernels, how many slices, the chunk pool, the stages, selective V's select path and the
// workspace for given shapes and multiprocessor count, and what the SIGMAOPS_ATTN_* benchmark
// knobs of the environment do to it, malformed and out-of-range values included. Runs in CI
// (no GPU needed); the kernels themselves are tested in test_gpu_attention.
#include <catch2/catch.hpp>

#include "kernels.h"

#include <cstdlib>
#include <optional>
#include <string>

using sigmaops::kernels::DType;
using sigmaops::kernels::decode_attention_plan;
using sigmaops::kernels::DecodeAttentionParams;
using sigmaops::kernels::DecodeAttentionPlanInfo;

namespace {

constexpr int kSms = 132;  // an H100 SXM

// Sets (or, with nullopt, unsets) one environment variable for a scope and restores it after.
class EnvVar {
public:
    EnvVar(const char* name, std::optional<std::string> value) : m_name(name) {
        if (const char* old = std::getenv(name)) m_old = old;
        if (value) setenv(name, value->c_str(), 1);
        else unsetenv(name);
    }
    ~EnvVar() {
        if (m_old) setenv(m_name, m_old->c_str(), 1);
        else unsetenv(m_name);
    }
    EnvVar(const EnvVar&) = delete;
    EnvVar& operator=(const EnvVar&) = delete;

private:
    const char* m_name;
    std::optional<std::string> m_old;
};

// Every knob unset, so the environment the tests run in cannot change the defaults.
struct CleanEnv {
    EnvVar v1{"SIGMAOPS_ATTN_OLD", std::nullopt}, v2{"SIGMAOPS_ATTN_SPLIT_PCT", std::nullopt},
        v3{"SIGMAOPS_ATTN_DYN", std::nullopt}, v4{"SIGMAOPS_ATTN_STAGE", std::nullopt},
        v5{"SIGMAOPS_ATTN_SEL_FULL", std::nullopt}, v6{"SIGMAOPS_ATTN_SEL_MINLEN", std::nullopt},
        v7{"SIGMAOPS_ATTN_PDL_PREFETCH", std::nullopt};
};

// Sigma-1.5B's attention (32/4/16 heads, d 64, BF16 cache), or its GQA twin (32/16/16).
DecodeAttentionParams shape(int batch, int ctx, bool gqa = false, int selective_v = 0) {
    DecodeAttentionParams p;
    p.batch = batch;
    p.n_q = 32;
    p.n_k = gqa ? 16 : 4;
    p.n_v = 16;
    p.d_qk = 64;
    p.d_v = 64;
    p.max_ctx = ctx;
    p.kv_type = DType::BF16;
    p.selective_v = selective_v;
    return p;
}

DecodeAttentionPlanInfo plan(const DecodeAttentionParams& p) {
    DecodeAttentionPlanInfo info = decode_attention_plan(p, kSms);
    INFO(info.error);
    REQUIRE(info.error.empty());
    return info;
}

}  // namespace

TEST_CASE("attention plan: the defaults for Sigma and its GQA twin", "[gpu-plan]") {
    CleanEnv clean;
    // Batch 1, 16K keys: one tile of 8 query heads per K head, one slice per SM over the 4 K
    // heads, the chunk pool (few tiles, long cache), no stages, the 8 KB PDL prefetch.
    DecodeAttentionPlanInfo a = plan(shape(1, 16384));
    CHECK(a.tensor_cores);
    CHECK_FALSE(a.pdl);
    CHECK(a.head_tiles == 1);
    CHECK(a.tile_heads == 8);
    CHECK(a.splits == 33);
    CHECK(a.chunk_pool);
    CHECK_FALSE(a.stages);
    CHECK(a.pdl_prefetch_bytes == 8192);
    CHECK(a.workspace_bytes > 0);
    DecodeAttentionParams with_pdl = shape(1, 16384);
    with_pdl.pdl = true;
    CHECK(plan(with_pdl).pdl);
    // 4K keys: fixed runs; slices capped at one 128-key run each (32).
    DecodeAttentionPlanInfo b = plan(shape(1, 4096));
    CHECK_FALSE(b.chunk_pool);
    CHECK(b.splits == 32);
    // The GQA twin at batch 8: 128 head tiles, one slice each, no pool.
    DecodeAttentionPlanInfo c = plan(shape(8, 32768, true));
    CHECK(c.splits == 1);
    CHECK_FALSE(c.chunk_pool);
    // Selective V: the group-maximum select from 4096 keys; no pool or stages; more workspace
    // (scores, group maxima, selected rows).
    DecodeAttentionPlanInfo d = plan(shape(1, 16384, false, 100));
    CHECK(d.group_max_select);
    CHECK(d.group_max_min_len == 4096);
    CHECK_FALSE(d.chunk_pool);
    CHECK_FALSE(d.stages);
    CHECK(d.workspace_bytes > a.workspace_bytes);
    // Selective V's scores grow with the cache.
    CHECK(plan(shape(1, 32768, false, 100)).workspace_bytes > d.workspace_bytes);
}

TEST_CASE("attention plan: the environment's knobs, and their bad values falling back", "[gpu-plan]") {
    CleanEnv clean;
    const DecodeAttentionParams full = shape(1, 16384), sel = shape(1, 16384, false, 100);
    SECTION("SIGMAOPS_ATTN_SPLIT_PCT: 10..1000 percent of one block per SM") {
        {
            EnvVar e("SIGMAOPS_ATTN_SPLIT_PCT", "10");
            CHECK(plan(full).splits == 3);  // 132 * 10% / 4 K heads
        }
        {
            EnvVar e("SIGMAOPS_ATTN_SPLIT_PCT", "200");
            CHECK(plan(full).splits == 66);
        }
        for (const char* bad : {"5", "1001", "abc", "", "-100"}) {
            EnvVar e("SIGMAOPS_ATTN_SPLIT_PCT", std::string(bad));
            INFO("'" << bad << "'");
            CHECK(plan(full).splits == 33);
        }
    }
    SECTION("SIGMAOPS_ATTN_DYN forces the chunk pool off or on, for full attention only") {
        {
            EnvVar e("SIGMAOPS_ATTN_DYN", "0");
            CHECK_FALSE(plan(full).chunk_pool);
        }
        {
            EnvVar e("SIGMAOPS_ATTN_DYN", "1");
            CHECK(plan(shape(1, 4096)).chunk_pool);
            CHECK_FALSE(plan(sel).chunk_pool);
        }
        {
            EnvVar e("SIGMAOPS_ATTN_DYN", "");  // empty: as unset
            CHECK(plan(full).chunk_pool);
            CHECK_FALSE(plan(shape(1, 4096)).chunk_pool);
        }
    }
    SECTION("SIGMAOPS_ATTN_STAGE=1 turns the stages on, for the tensor-core full attention only") {
        {
            EnvVar e("SIGMAOPS_ATTN_STAGE", "1");
            CHECK(plan(full).stages);
            CHECK(plan(shape(8, 4096, true)).stages);
            CHECK_FALSE(plan(sel).stages);
            EnvVar old("SIGMAOPS_ATTN_OLD", "1");
            CHECK_FALSE(plan(full).stages);
        }
        for (const char* off : {"0", ""}) {
            EnvVar e("SIGMAOPS_ATTN_STAGE", std::string(off));
            CHECK_FALSE(plan(full).stages);
        }
    }
    SECTION("SIGMAOPS_ATTN_OLD=1: the older kernels, never with PDL") {
        EnvVar e("SIGMAOPS_ATTN_OLD", "1");
        DecodeAttentionParams p = full;
        p.pdl = true;
        const DecodeAttentionPlanInfo info = plan(p);
        CHECK_FALSE(info.tensor_cores);
        CHECK_FALSE(info.pdl);
        CHECK_FALSE(info.chunk_pool);
    }
    SECTION("SIGMAOPS_ATTN_PDL_PREFETCH: 0..1 MiB a warp") {
        {
            EnvVar e("SIGMAOPS_ATTN_PDL_PREFETCH", "0");
            CHECK(plan(full).pdl_prefetch_bytes == 0);
        }
        {
            EnvVar e("SIGMAOPS_ATTN_PDL_PREFETCH", "32768");
            CHECK(plan(full).pdl_prefetch_bytes == 32768);
        }
        for (const char* bad : {"-5", "2000000", "lots", "12x", "99999999999999999999"}) {
            EnvVar e("SIGMAOPS_ATTN_PDL_PREFETCH", std::string(bad));
            INFO("'" << bad << "'");
            CHECK(plan(full).pdl_prefetch_bytes == 8192);
        }
    }
    SECTION("SIGMAOPS_ATTN_SEL_MINLEN and SIGMAOPS_ATTN_SEL_FULL: selective V's select") {
        {
            EnvVar e("SIGMAOPS_ATTN_SEL_MINLEN", "1024");
            CHECK(plan(sel).group_max_min_len == 1024);
        }
        for (const char* bad : {"0", "x", "-1"}) {
            EnvVar e("SIGMAOPS_ATTN_SEL_MINLEN", std::string(bad));
            CHECK(plan(sel).group_max_min_len == 4096);
        }
        EnvVar e("SIGMAOPS_ATTN_SEL_FULL", "1");
        CHECK_FALSE(plan(sel).group_max_select);
    }
}

TEST_CASE("attention plan: unsupported shapes and a bad SM count are errors, not plans", "[gpu-plan]") {
    CleanEnv clean;
    DecodeAttentionParams p = shape(1, 4096);
    p.n_k = 5;
    DecodeAttentionPlanInfo a = decode_attention_plan(p, kSms);
    CHECK_THAT(a.error, Catch::Contains("must divide n_q"));
    CHECK(a.workspace_bytes == 0);
    CHECK_FALSE(a.tensor_cores);
    p = shape(1, 4096);
    p.d_v = 96;
    CHECK_THAT(decode_attention_plan(p, kSms).error, Catch::Contains("unsupported head size d_qk=64 d_v=96"));
    p = shape(1, 4096);
    p.kv_type = DType::F32;
    CHECK_THAT(decode_attention_plan(p, kSms).error, Catch::Contains("BF16 or F16"));
    p = shape(1, 4096);
    p.max_seq_len = 5000;
    CHECK_THAT(decode_attention_plan(p, kSms).error, Catch::Contains("max_seq_len"));
    CHECK_THAT(decode_attention_plan(shape(1, 4096), 0).error, Catch::Contains("sms must be positive"));
}
