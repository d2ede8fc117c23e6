#include <shell/shell.h>
namespace sigmaops::shell {
Assessment classify(const Script&) { return {}; }
Assessment classify_source(std::string_view s, const Options& o) { auto r = parse(s, o); Assessment a; if (!r.ok()) a.risk = Risk::Unknown; return a; }
}
