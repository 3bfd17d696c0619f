// Triplet loss with semi-hard negative mining (Schroff et al. 2015), as
// TensorFlow's `triplet_semihard_loss` that the study's Exemplar code uses.
#ifndef SSLAB_TRAINER_TRIPLET_LOSS_H_
#define SSLAB_TRAINER_TRIPLET_LOSS_H_

#include <ATen/core/Tensor.h>

namespace sslab::trainer {

// `embeddings` float [N, D], `labels` int64 [N]. Distances are squared
// Euclidean. For every anchor a and positive p (same label, p != a) the
// negative n is the closest one farther than p (d(a,n) > d(a,p)); when none
// is, the farthest negative. The loss is the mean over all (a, p) of
// max(d(a,p) - d(a,n) + margin, 0). Anchors without negatives contribute
// margin + d(a,p) - 0 as in TensorFlow's masked maximum (never happens with
// more than one source image per batch). Differentiable w.r.t. embeddings.
at::Tensor TripletSemiHardLoss(const at::Tensor& embeddings,
                               const at::Tensor& labels, double margin);

// Fraction (as a 0-d tensor) of rows whose nearest other row (squared
// Euclidean) has the same label: Exemplar's pretext accuracy.
at::Tensor NearestNeighbourAccuracy(const at::Tensor& embeddings,
                                    const at::Tensor& labels);

}  // namespace sslab::trainer

#endif  // SSLAB_TRAINER_TRIPLET_LOSS_H_
