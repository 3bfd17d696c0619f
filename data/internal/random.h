// Portable, seedable randomness for data/: the same numbers on every platform
// and standard library (std:: distributions are implementation-defined).
#ifndef SSLAB_DATA_INTERNAL_RANDOM_H_
#define SSLAB_DATA_INTERNAL_RANDOM_H_

#include <cmath>
#include <cstdint>
#include <vector>

namespace sslab::data::internal {

// SplitMix64's finaliser: a bijective 64-bit mix.
inline uint64_t Mix64(uint64_t x) {
  x += 0x9e3779b97f4a7c15ULL;
  x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ULL;
  x = (x ^ (x >> 27)) * 0x94d049bb133111ebULL;
  return x ^ (x >> 31);
}

// Derives an independent seed from a seed and a value (stream id, index...).
inline uint64_t DeriveSeed(uint64_t seed, uint64_t value) {
  return Mix64(Mix64(seed) ^
               (value * 0xd1b54a32d192ed03ULL + 0x632be59bd9b4e019ULL));
}

// xoshiro256** seeded through SplitMix64. Not thread-safe; cheap to create.
class Rng {
 public:
  explicit Rng(uint64_t seed) {
    for (uint64_t& s : s_) {
      seed += 0x9e3779b97f4a7c15ULL;
      uint64_t z = seed;
      z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
      z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
      s = z ^ (z >> 31);
    }
  }

  uint64_t Next() {
    const uint64_t result = Rotl(s_[1] * 5, 7) * 9;
    const uint64_t t = s_[1] << 17;
    s_[2] ^= s_[0];
    s_[3] ^= s_[1];
    s_[1] ^= s_[2];
    s_[0] ^= s_[3];
    s_[2] ^= t;
    s_[3] = Rotl(s_[3], 45);
    return result;
  }

  // Uniform in [0, 1).
  double Uniform() { return static_cast<double>(Next() >> 11) * 0x1.0p-53; }
  double Uniform(double lo, double hi) { return lo + (hi - lo) * Uniform(); }
  // Uniform integer in [0, n), n >= 1.
  uint64_t Below(uint64_t n) {
    return static_cast<uint64_t>((static_cast<unsigned __int128>(Next()) * n) >>
                                 64);
  }
  bool Bernoulli(double p) { return Uniform() < p; }

 private:
  static uint64_t Rotl(uint64_t x, int k) { return (x << k) | (x >> (64 - k)); }
  uint64_t s_[4];
};

// Fisher-Yates with Rng: the same permutation everywhere.
template <typename T>
void Shuffle(std::vector<T>& v, Rng& rng) {
  for (size_t i = v.size(); i > 1; --i) {
    const size_t j = rng.Below(i);
    std::swap(v[i - 1], v[j]);
  }
}

}  // namespace sslab::data::internal

#endif  // SSLAB_DATA_INTERNAL_RANDOM_H_
