#include "trainer/triplet_loss.h"

#include <ATen/ATen.h>

#include <limits>

namespace sslab::trainer {
namespace {

// Squared Euclidean distances, clamped at 0 and with an exact zero diagonal,
// as TensorFlow's pairwise_distance(squared=True).
at::Tensor PairwiseSquaredDistance(const at::Tensor& x) {
  at::Tensor sq = x.pow(2).sum(1);
  at::Tensor d = sq.unsqueeze(1) + sq.unsqueeze(0) - 2 * x.matmul(x.t());
  d = d.clamp_min(0);
  at::Tensor off_diagonal =
      1 - at::eye(x.size(0), x.options().dtype(d.scalar_type()));
  return d * off_diagonal;
}

}  // namespace

at::Tensor TripletSemiHardLoss(const at::Tensor& embeddings,
                               const at::Tensor& labels, double margin) {
  const at::Tensor x = embeddings.to(at::kFloat);
  const int64_t n = x.size(0);
  const at::Tensor d = PairwiseSquaredDistance(x);  // [n, n]
  const at::Tensor lab = labels.to(x.device()).view({-1});
  const at::Tensor same = lab.unsqueeze(1).eq(lab.unsqueeze(0));
  const at::Tensor negative = same.logical_not();
  const float inf = std::numeric_limits<float>::infinity();

  // For each anchor, its negatives' distances in ascending order (non-
  // negatives pushed to +inf at the end); the semi-hard negative of (a, p) is
  // the first sorted value > d(a, p).
  const at::Tensor negative_distances =
      at::where(negative, d, at::full({}, inf, d.options()));
  const at::Tensor sorted = std::get<0>(negative_distances.sort(1));
  const at::Tensor num_negatives = negative.sum(1, /*keepdim=*/true);
  at::Tensor index;
  {
    at::NoGradGuard no_grad;
    index = at::searchsorted(sorted.detach().contiguous(),
                             d.detach().contiguous(), /*out_int32=*/false,
                             /*right=*/true);
  }
  const at::Tensor has_outside = index.lt(num_negatives);
  const at::Tensor outside = sorted.gather(1, index.clamp_max(n - 1));
  // Farthest negative; with no negatives at all, TensorFlow's masked maximum
  // yields the row minimum (0, the diagonal).
  const at::Tensor inside = at::where(
      num_negatives.gt(0),
      std::get<0>(at::where(negative, d, at::full({}, -inf, d.options()))
                      .max(1, /*keepdim=*/true)),
      at::zeros({n, 1}, d.options()));
  const at::Tensor semi_hard = at::where(has_outside, outside, inside);
  const at::Tensor loss_matrix = (margin + d - semi_hard).clamp_min(0);
  const at::Tensor positive =
      same.logical_and(at::eye(n, same.options()).logical_not());
  const at::Tensor positive_f = positive.to(d.scalar_type());
  return (loss_matrix * positive_f).sum() / positive_f.sum().clamp_min(1);
}

at::Tensor NearestNeighbourAccuracy(const at::Tensor& embeddings,
                                    const at::Tensor& labels) {
  at::NoGradGuard no_grad;
  const at::Tensor x = embeddings.detach().to(at::kFloat);
  const int64_t n = x.size(0);
  at::Tensor d = PairwiseSquaredDistance(x) +
                 at::diag(at::full({n}, std::numeric_limits<float>::infinity(),
                                   x.options()));
  const at::Tensor nearest = d.argmin(1);
  const at::Tensor lab = labels.to(x.device()).view({-1});
  return lab.index_select(0, nearest).eq(lab).to(at::kFloat).mean();
}

}  // namespace sslab::trainer
