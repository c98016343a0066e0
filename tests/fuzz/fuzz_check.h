// FUZZ_CHECK: a property every fuzz target asserts besides "no crash": on
// failure it names the check and aborts, which libFuzzer reports as a crash
// and keeps the input for. Unlike assert(), it is on in every build type.
#pragma once

#include <cstdio>
#include <cstdlib>

#define FUZZ_CHECK(cond)                                                            \
  do {                                                                              \
    if (!(cond)) {                                                                  \
      std::fprintf(stderr, "%s:%d: check failed: %s\n", __FILE__, __LINE__, #cond); \
      std::abort();                                                                 \
    }                                                                               \
  } while (false)
