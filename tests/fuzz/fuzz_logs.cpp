// fuzz_logs.cpp - libFuzzer target for the log pipeline (agents/logs): read -> detect -> parse
// records -> mine templates -> match signatures and collect findings, on any bytes.
//
// Contract under test: every stage accepts any input without crashing, reading out of bounds or
// growing without bound: lines are valid UTF-8 and at most max_line_bytes long, records at most
// max_record_bytes, templates at most max_templates (+ one catch-all per token count), and every
// record gets a template id in 1..size(). The first input byte picks small limits so the caps are
// reached often. Then the report's and the model stage's text scanners (mask_secrets,
// neutralise_untrusted, check_citations) on the same bytes. ASan/UBSan turn any violation into a
// crash. Build and run: docs/fuzzing.md.
#include <logs/logs.h>

#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>

using namespace sigmaops;

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    if (size == 0) return 0;
    const std::uint8_t knobs = data[0];
    std::string_view bytes(reinterpret_cast<const char*>(data + 1), size - 1);

    logs::ReadOptions ro;
    ro.max_line_bytes = (knobs & 1) ? 64 : 4096;
    ro.chunk_bytes = (knobs & 2) ? 64 : 1 << 16;
    logs::ParseOptions po;
    po.detect_lines = 1 + (knobs >> 4);
    po.max_record_lines = 4;
    po.max_record_bytes = 512;
    po.time.now_ms = 1709251200000LL;
    if (knobs & 4) po.log_format = "<Date> <Time> <Level> <Content>";
    logs::MinerOptions mo;
    mo.max_templates = (knobs & 8) ? 8 : 1000;
    mo.max_tokens = 32;

    auto reader = logs::LineReader::from_bytes(bytes, "fuzz", ro);
    auto parser = logs::RecordParser::create(po);
    if (!parser) std::abort();
    logs::TemplateMiner miner(mo);
    logs::Collector collector(2);
    logs::Record rec;
    std::vector<std::string> params;
    while (parser->next(reader, rec)) {
        if (rec.message.size() > po.max_record_bytes) std::abort();
        std::string again;
        if (logs::clean_line(rec.message.substr(0, rec.message.find('\n')), again)) std::abort();   // already clean
        const logs::Match m = miner.add(rec.message, &params);
        if (m.template_id < 1 || m.template_id > miner.size()) std::abort();
        collector.add(rec, "fuzz", m.template_id, miner.get(m.template_id).text);
    }
    for (const logs::Finding& f : collector.findings())
        if (f.evidence.empty() || f.evidence.size() > 2 || f.count == 0) std::abort();
    (void)collector.digest(5);
    if (miner.size() > mo.max_templates + mo.max_tokens + 1) std::abort();
    // The standalone helpers too.
    std::int64_t ms = 0;
    (void)logs::parse_timestamp(bytes.substr(0, 64), po.time, ms);
    (void)logs::tokenize(bytes.substr(0, 256));
    // The text scanners of the report and the model stage: masking keeps the text outside the
    // values it replaces; untrusted text can never keep a fence or chat marker or a newline;
    // citations are only ids of the form F<digits>.
    const std::string_view head = bytes.substr(0, 512);
    const std::string masked = logs::mask_secrets(head);
    if (masked.size() > head.size() + 10 * (head.size() / 2 + 1)) std::abort();
    const std::string fenced = logs::neutralise_untrusted(head);
    for (std::string_view bad : {"<<<", ">>>", "<|", "|>", "\n", "\r"})
        if (fenced.find(bad) != std::string::npos) std::abort();
    const logs::Citations c = logs::check_citations(head, {"F1", "F2"});
    for (const auto* ids : {&c.cited, &c.unknown})
        for (const std::string& id : *ids)
            if (id.size() < 2 || id[0] != 'F' || id.find_first_not_of("0123456789", 1) != std::string::npos) std::abort();
    if (c.flag.empty() != (c.unknown.empty() && !c.cited.empty())) std::abort();
    return 0;
}
