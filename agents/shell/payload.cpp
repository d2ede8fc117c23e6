#include <shell/shell.h>
namespace sigmaops::shell {
std::vector<Payload> payloads(const Command& simple) { Payload p; p.words = simple.words; return {p}; }
}
