// Static switches: a launcher turns a runtime value (a flag, a head size, a block shape) into a
// compile-time constant and calls the template instantiated for it, without writing one `case`
// per value. In the manner of flash-attention's static_switch.h (written anew here).
//
//   return SIGMAOPS_BOOL_SWITCH(p.g.dyn, DYN, [&] { return launch<T, DYN>(p); });
//       DYN is a constexpr bool inside the lambda; the switch returns what the lambda returns.
//   return static_switch<1, 2, 4>(p.g.fast_nvg, [&](auto nvg) { return launch<decltype(nvg)::value>(p); });
//       The lambda gets std::integral_constant<int, V> for the first V equal to the value; a
//       value equal to none of them takes the last (the launcher has checked it already).
//   static_switch_below<8>(shape, f): static_switch<0, 1, ..., 7>(shape, f).
// Every alternative is instantiated, so they must all compile (and return the same type).
#pragma once

#include <type_traits>
#include <utility>

#define SIGMAOPS_BOOL_SWITCH(COND, NAME, ...)   \
    [&] {                                       \
        if (COND) {                             \
            constexpr static bool NAME = true;  \
            return __VA_ARGS__();               \
        } else {                                \
            constexpr static bool NAME = false; \
            return __VA_ARGS__();               \
        }                                       \
    }()

namespace sigmaops::kernels {

template <int V, int... Rest, class F>
inline decltype(auto) static_switch(int value, F&& f) {
    if constexpr (sizeof...(Rest) == 0) {
        return f(std::integral_constant<int, V>{});
    } else {
        if (value == V) return f(std::integral_constant<int, V>{});
        return static_switch<Rest...>(value, std::forward<F>(f));
    }
}

namespace detail {
template <class F, int... Vs>
inline decltype(auto) static_switch_seq(int value, F&& f, std::integer_sequence<int, Vs...>) {
    return static_switch<Vs...>(value, std::forward<F>(f));
}
}  // namespace detail

template <int N, class F>
inline decltype(auto) static_switch_below(int value, F&& f) {
    return detail::static_switch_seq(value, std::forward<F>(f), std::make_integer_sequence<int, N>{});
}

}  // namespace sigmaops::kernels
