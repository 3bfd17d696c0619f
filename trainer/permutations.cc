#include "trainer/permutations.h"

#include <ATen/Functions.h>

#include <algorithm>
#include <array>
#include <random>
#include <vector>

#include "absl/strings/str_cat.h"

namespace sslab::trainer {
namespace {
constexpr int kCells = 9;
using Perm = std::array<uint8_t, kCells>;
}  // namespace

absl::StatusOr<at::Tensor> GenerateJigsawPermutations(int count,
                                                      uint64_t seed) {
  // All 9! permutations in lexicographic order; the identity (first) is
  // excluded from the candidates.
  std::vector<Perm> candidates;
  candidates.reserve(362880);
  Perm p;
  for (int i = 0; i < kCells; ++i) p[i] = static_cast<uint8_t>(i);
  while (std::next_permutation(p.begin(), p.end())) candidates.push_back(p);
  const int64_t n = static_cast<int64_t>(candidates.size());
  if (count < 1 || count > n) {
    return absl::InvalidArgumentError(
        absl::StrCat("num_permutations: must be in [1, ", n, "], got ", count));
  }
  std::mt19937_64 rng(seed);
  int64_t next = static_cast<int64_t>(rng() % static_cast<uint64_t>(n));
  // distance_sum[c]: summed Hamming distance of candidate c to the chosen
  // set; -1 marks chosen candidates.
  std::vector<int32_t> distance_sum(n, 0);
  at::Tensor out = at::empty({count, kCells}, at::kLong);
  int64_t* out_data = out.data_ptr<int64_t>();
  for (int k = 0; k < count; ++k) {
    const Perm chosen = candidates[next];
    for (int j = 0; j < kCells; ++j) out_data[k * kCells + j] = chosen[j];
    distance_sum[next] = -1;
    int64_t best = -1;
    int32_t best_sum = -1;
    for (int64_t c = 0; c < n; ++c) {
      if (distance_sum[c] < 0) continue;
      const Perm& q = candidates[c];
      int32_t h = 0;
      for (int j = 0; j < kCells; ++j) h += q[j] != chosen[j];
      distance_sum[c] += h;
      // Ties go to the lowest index: deterministic.
      if (distance_sum[c] > best_sum) {
        best_sum = distance_sum[c];
        best = c;
      }
    }
    next = best;
  }
  return out;
}

double MeanPairwiseHamming(const at::Tensor& permutations) {
  at::Tensor p = permutations.to(at::kLong).contiguous();
  const int64_t n = p.size(0);
  if (n < 2) return 0;
  at::Tensor diff = p.unsqueeze(1).ne(p.unsqueeze(0)).sum(-1);  // [n, n]
  return diff.sum().item<double>() / static_cast<double>(n * (n - 1));
}

}  // namespace sslab::trainer
