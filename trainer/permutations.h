// Jigsaw's permutation set: permutations of the 9 cells of a 3x3 grid chosen
// greedily for maximal average Hamming distance (Noroozi & Favaro 2016,
// "maxHamming"): start from a seeded random permutation, then repeatedly add
// the candidate whose mean Hamming distance to those already chosen is
// largest. The identity is never chosen. Deterministic in (count, seed).
#ifndef SSLAB_TRAINER_PERMUTATIONS_H_
#define SSLAB_TRAINER_PERMUTATIONS_H_

#include <ATen/core/Tensor.h>

#include <cstdint>

#include "absl/status/statusor.h"

namespace sslab::trainer {

// int64 [count, 9] on CPU; row r maps position j of the shuffled sequence to
// source cell row[j]. Returns INVALID_ARGUMENT naming "num_permutations" for
// count < 1 or count > 9! - 1. Takes ~0.1 s for 100.
absl::StatusOr<at::Tensor> GenerateJigsawPermutations(int count, uint64_t seed);

// Mean Hamming distance over all distinct pairs of rows of `permutations`.
double MeanPairwiseHamming(const at::Tensor& permutations);

}  // namespace sslab::trainer

#endif  // SSLAB_TRAINER_PERMUTATIONS_H_
