// The architecture registry: general.architecture -> the loader of its file (arch/arch.h).
// Adding an architecture: its struct in arch.h, its file arch/<name>.cpp, its line here.
#include "arch/arch.h"

#include <iterator>

namespace sigma {

namespace {

template <class A>
constexpr ArchLoader entry() {
    return ArchLoader{A::name, A::hparams, A::weights};
}

constexpr ArchLoader kArchitectures[] = {
    entry<arch::Sigma>(),
    entry<arch::Llama>(),
    entry<arch::Qwen2>(),
};

} // namespace

const ArchLoader* find_arch(const std::string& name) {
    for (const ArchLoader& a : kArchitectures)
        if (name == a.name) return &a;
    return nullptr;
}

std::string arch_names() {
    std::string out;
    for (const ArchLoader& a : kArchitectures) out += (out.empty() ? "" : ", ") + std::string(a.name);
    return out;
}

} // namespace sigma
