// The one Catch2 main shared by every test executable (compiled once).
#define CATCH_CONFIG_MAIN
#include <catch2/catch.hpp>

#include <cstdlib>

// Widget tests run without a display unless the caller chose a platform.
static const int k_offscreen = [] { return ::setenv("QT_QPA_PLATFORM", "offscreen", 0); }();

// LeakSanitizer (debug-asan preset): fontconfig, which Qt loads for every widget, keeps its font
// cache and patterns for the life of the process and never frees them at exit. Not our leak.
extern "C" const char* __lsan_default_suppressions() { return "leak:libfontconfig.so\n"; }
