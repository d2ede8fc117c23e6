// The decode-attention launcher's plan (kernels.h decode_attention_plan), without a GPU: which
// kernels, how many slices, the chunk pool, selective V's select path and the workspace for
// given shapes and multiprocessor count, what each tuning knob (DecodeAttentionKnobs) does to
// it, and how decode_attention_knobs_from_env() reads the SIGMAOPS_ATTN_* variables, malformed
// and out-of-range values included. Runs in CI (no GPU needed); the kernels themselves are
// tested in test_gpu_attention.
#include <catch2/catch.hpp>

#include "kernels.h"

#include <cstdlib>
#include <optional>
#include <string>
#include <vector>

using sigmaops::kernels::DType;
using sigmaops::kernels::decode_attention_knobs_from_env;
using sigmaops::kernels::decode_attention_plan;
using sigmaops::kernels::DecodeAttentionKnobs;
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
        v3{"SIGMAOPS_ATTN_DYN", std::nullopt}, v4{"SIGMAOPS_ATTN_SEL_FULL", std::nullopt},
        v5{"SIGMAOPS_ATTN_SEL_MINLEN", std::nullopt}, v6{"SIGMAOPS_ATTN_PDL_PREFETCH", std::nullopt},
        v7{"SIGMAOPS_ATTN_TRACE", std::nullopt};
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
    // heads, the chunk pool (few tiles, long cache), the 8 KB PDL prefetch.
    DecodeAttentionPlanInfo a = plan(shape(1, 16384));
    CHECK(a.tensor_cores);
    CHECK_FALSE(a.pdl);
    CHECK(a.head_tiles == 1);
    CHECK(a.tile_heads == 8);
    CHECK(a.splits == 33);
    CHECK(a.chunk_pool);
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
    // Selective V: the group-maximum select from 4096 keys; no pool; more workspace
    // (scores, group maxima, selected rows).
    DecodeAttentionPlanInfo d = plan(shape(1, 16384, false, 100));
    CHECK(d.group_max_select);
    CHECK(d.group_max_min_len == 4096);
    CHECK_FALSE(d.chunk_pool);
    CHECK(d.workspace_bytes > a.workspace_bytes);
    // Selective V's scores grow with the cache.
    CHECK(plan(shape(1, 32768, false, 100)).workspace_bytes > d.workspace_bytes);
}

TEST_CASE("attention plan: every knob, and knobs out of range refused", "[gpu-plan]") {
    CleanEnv clean;
    const DecodeAttentionParams full = shape(1, 16384), sel = shape(1, 16384, false, 100);
    auto with = [](DecodeAttentionParams p, auto set) {
        set(p.knobs);
        return p;
    };
    SECTION("split_pct: 10..1000 percent of one block per SM") {
        CHECK(plan(with(full, [](DecodeAttentionKnobs& k) { k.split_pct = 10; })).splits == 3);  // 132 * 10% / 4 K heads
        CHECK(plan(with(full, [](DecodeAttentionKnobs& k) { k.split_pct = 200; })).splits == 66);
    }
    SECTION("chunk_pool forces the pool off or on, for full attention only") {
        CHECK_FALSE(plan(with(full, [](DecodeAttentionKnobs& k) { k.chunk_pool = 0; })).chunk_pool);
        CHECK(plan(with(shape(1, 4096), [](DecodeAttentionKnobs& k) { k.chunk_pool = 1; })).chunk_pool);
        CHECK_FALSE(plan(with(sel, [](DecodeAttentionKnobs& k) { k.chunk_pool = 1; })).chunk_pool);
        CHECK(plan(full).chunk_pool);  // -1: by shape
        CHECK_FALSE(plan(shape(1, 4096)).chunk_pool);
    }
    SECTION("old_kernels: the older kernels, never with PDL") {
        DecodeAttentionParams p = with(full, [](DecodeAttentionKnobs& k) { k.old_kernels = true; });
        p.pdl = true;
        const DecodeAttentionPlanInfo info = plan(p);
        CHECK_FALSE(info.tensor_cores);
        CHECK_FALSE(info.pdl);
        CHECK_FALSE(info.chunk_pool);
    }
    SECTION("pdl_prefetch_bytes: 0..1 MiB a warp") {
        CHECK(plan(with(full, [](DecodeAttentionKnobs& k) { k.pdl_prefetch_bytes = 0; })).pdl_prefetch_bytes == 0);
        CHECK(plan(with(full, [](DecodeAttentionKnobs& k) { k.pdl_prefetch_bytes = 32768; })).pdl_prefetch_bytes == 32768);
    }
    SECTION("select_groups_from and select_every_key: selective V's select") {
        CHECK(plan(with(sel, [](DecodeAttentionKnobs& k) { k.select_groups_from = 1024; })).group_max_min_len == 1024);
        CHECK_FALSE(plan(with(sel, [](DecodeAttentionKnobs& k) { k.select_every_key = true; })).group_max_select);
    }
    SECTION("trace changes no plan") {
        const DecodeAttentionPlanInfo a = plan(full), b = plan(with(full, [](DecodeAttentionKnobs& k) { k.trace = true; }));
        CHECK(a.splits == b.splits);
        CHECK(a.workspace_bytes == b.workspace_bytes);
    }
    SECTION("knobs out of range are an error, as for the workspace size") {
        for (auto set : std::vector<void (*)(DecodeAttentionKnobs&)>{
                 [](DecodeAttentionKnobs& k) { k.split_pct = 9; }, [](DecodeAttentionKnobs& k) { k.split_pct = 1001; },
                 [](DecodeAttentionKnobs& k) { k.chunk_pool = 2; }, [](DecodeAttentionKnobs& k) { k.chunk_pool = -2; },
                 [](DecodeAttentionKnobs& k) { k.select_groups_from = 0; },
                 [](DecodeAttentionKnobs& k) { k.pdl_prefetch_bytes = -1; },
                 [](DecodeAttentionKnobs& k) { k.pdl_prefetch_bytes = (1 << 20) + 1; }}) {
            const DecodeAttentionParams p = with(full, set);
            const DecodeAttentionPlanInfo info = decode_attention_plan(p, kSms);
            CHECK_THAT(info.error, Catch::Contains("knobs out of range"));
            CHECK(info.workspace_bytes == 0);
            CHECK(sigmaops::kernels::decode_attention_workspace_bytes(p) == 0);
        }
    }
}

TEST_CASE("attention knobs from the environment: each variable, and bad values falling back", "[gpu-plan]") {
    CleanEnv clean;
    const DecodeAttentionKnobs def;
    SECTION("unset: the compiled defaults") {
        const DecodeAttentionKnobs k = decode_attention_knobs_from_env();
        CHECK_FALSE(k.old_kernels);
        CHECK(k.split_pct == 100);
        CHECK(k.chunk_pool == -1);
        CHECK_FALSE(k.select_every_key);
        CHECK(k.select_groups_from == 4096);
        CHECK(k.pdl_prefetch_bytes == 8192);
        CHECK_FALSE(k.trace);
    }
    SECTION("flags: any value but empty or 0 is on") {
        for (const char* name : {"SIGMAOPS_ATTN_OLD", "SIGMAOPS_ATTN_SEL_FULL", "SIGMAOPS_ATTN_TRACE"})
            for (const char* value : {"1", "yes", "0", ""}) {
                EnvVar e(name, std::string(value));
                const DecodeAttentionKnobs k = decode_attention_knobs_from_env();
                const bool on = std::string(value) == "1" || std::string(value) == "yes";
                INFO(name << "='" << value << "'");
                const std::string n = name;
                CHECK((n == "SIGMAOPS_ATTN_OLD" ? k.old_kernels : n == "SIGMAOPS_ATTN_SEL_FULL" ? k.select_every_key : k.trace) == on);
            }
    }
    SECTION("SIGMAOPS_ATTN_DYN: 0 off, another value on, empty as unset") {
        {
            EnvVar e("SIGMAOPS_ATTN_DYN", "0");
            CHECK(decode_attention_knobs_from_env().chunk_pool == 0);
        }
        {
            EnvVar e("SIGMAOPS_ATTN_DYN", "1");
            CHECK(decode_attention_knobs_from_env().chunk_pool == 1);
        }
        {
            EnvVar e("SIGMAOPS_ATTN_DYN", "");
            CHECK(decode_attention_knobs_from_env().chunk_pool == -1);
        }
    }
    SECTION("numbers: in range taken, malformed or out of range the default") {
        struct Case {
            const char* name;
            const char* value;
            int DecodeAttentionKnobs::*field;
            int want;
        };
        const Case cases[] = {
            {"SIGMAOPS_ATTN_SPLIT_PCT", "10", &DecodeAttentionKnobs::split_pct, 10},
            {"SIGMAOPS_ATTN_SPLIT_PCT", "1000", &DecodeAttentionKnobs::split_pct, 1000},
            {"SIGMAOPS_ATTN_SPLIT_PCT", "5", &DecodeAttentionKnobs::split_pct, def.split_pct},
            {"SIGMAOPS_ATTN_SPLIT_PCT", "1001", &DecodeAttentionKnobs::split_pct, def.split_pct},
            {"SIGMAOPS_ATTN_SPLIT_PCT", "abc", &DecodeAttentionKnobs::split_pct, def.split_pct},
            {"SIGMAOPS_ATTN_SPLIT_PCT", "", &DecodeAttentionKnobs::split_pct, def.split_pct},
            {"SIGMAOPS_ATTN_SPLIT_PCT", "-100", &DecodeAttentionKnobs::split_pct, def.split_pct},
            {"SIGMAOPS_ATTN_PDL_PREFETCH", "0", &DecodeAttentionKnobs::pdl_prefetch_bytes, 0},
            {"SIGMAOPS_ATTN_PDL_PREFETCH", "32768", &DecodeAttentionKnobs::pdl_prefetch_bytes, 32768},
            {"SIGMAOPS_ATTN_PDL_PREFETCH", "-5", &DecodeAttentionKnobs::pdl_prefetch_bytes, def.pdl_prefetch_bytes},
            {"SIGMAOPS_ATTN_PDL_PREFETCH", "2000000", &DecodeAttentionKnobs::pdl_prefetch_bytes, def.pdl_prefetch_bytes},
            {"SIGMAOPS_ATTN_PDL_PREFETCH", "lots", &DecodeAttentionKnobs::pdl_prefetch_bytes, def.pdl_prefetch_bytes},
            {"SIGMAOPS_ATTN_PDL_PREFETCH", "12x", &DecodeAttentionKnobs::pdl_prefetch_bytes, def.pdl_prefetch_bytes},
            {"SIGMAOPS_ATTN_PDL_PREFETCH", "99999999999999999999", &DecodeAttentionKnobs::pdl_prefetch_bytes,
             def.pdl_prefetch_bytes},
            {"SIGMAOPS_ATTN_SEL_MINLEN", "1024", &DecodeAttentionKnobs::select_groups_from, 1024},
            {"SIGMAOPS_ATTN_SEL_MINLEN", "0", &DecodeAttentionKnobs::select_groups_from, def.select_groups_from},
            {"SIGMAOPS_ATTN_SEL_MINLEN", "x", &DecodeAttentionKnobs::select_groups_from, def.select_groups_from},
            {"SIGMAOPS_ATTN_SEL_MINLEN", "-1", &DecodeAttentionKnobs::select_groups_from, def.select_groups_from},
        };
        for (const Case& c : cases) {
            EnvVar e(c.name, std::string(c.value));
            INFO(c.name << "='" << c.value << "'");
            CHECK(decode_attention_knobs_from_env().*c.field == c.want);
        }
    }
    SECTION("the plan of the environment's knobs is the plan of the same knobs set directly") {
        EnvVar e1("SIGMAOPS_ATTN_SPLIT_PCT", "50"), e2("SIGMAOPS_ATTN_DYN", "0");
        DecodeAttentionParams p = shape(1, 16384);
        p.knobs = decode_attention_knobs_from_env();
        const DecodeAttentionPlanInfo info = plan(p);
        CHECK(info.splits == 16);
        CHECK_FALSE(info.chunk_pool);
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
