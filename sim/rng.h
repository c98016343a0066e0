// The simulator's randomness: SplitMix64 and the few distributions it needs,
// written out so that a seed gives the same run with any standard library
// (std::*_distribution may differ between implementations).
#pragma once

#include <cmath>
#include <cstdint>

namespace himalaya::sim {

class Rng {
 public:
  explicit Rng(std::uint64_t seed) : state_(seed) {}

  std::uint64_t next() {
    std::uint64_t z = (state_ += 0x9e3779b97f4a7c15ULL);
    z = (z ^ (z >> 30U)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27U)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31U);
  }
  // Uniform in [0, 1).
  double unit() { return static_cast<double>(next() >> 11U) * 0x1.0p-53; }
  double uniform(double lo, double hi) { return lo + (hi - lo) * unit(); }
  std::uint64_t below(std::uint64_t n) { return n == 0 ? 0 : next() % n; }
  bool chance(double p) { return unit() < p; }
  double exponential(double mean) { return -mean * std::log(1 - unit()); }
  // Pareto with minimum xm and shape alpha: heavy-tailed.
  double pareto(double xm, double alpha) { return xm / std::pow(1 - unit(), 1 / alpha); }

 private:
  std::uint64_t state_;
};

}  // namespace himalaya::sim
