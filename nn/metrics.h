#pragma once
// Sample-quality metrics computed in float64 on the CPU: Gaussian statistics of feature vectors and
// the Frechet distance between two Gaussians (the "FID" of Heusel et al. 2017 when the features are
// an Inception network's; ember's GAN trainer uses its own Fashion-MNIST classifier's, docs/gan.md).
#include <vector>

#include <ember/core/tensor.h>

namespace ember::nn::metrics {

// Eigen-decomposition of a symmetric matrix a [n, n] by cyclic Jacobi rotations (float64):
// a = V diag(values) V^T, with the eigenvectors as the columns of vectors [n, n].
struct SymmetricEigen {
  Tensor values;   // [n], ascending
  Tensor vectors;  // [n, n]
};
SymmetricEigen symmetric_eigen(const Tensor& a);

// The symmetric positive semi-definite square root of a symmetric PSD matrix: V diag(sqrt(max(l, 0))) V^T.
// (Eigenvalues that rounding made slightly negative are clipped to 0.)
Tensor sqrtm_psd(const Tensor& a);

// Mean [d] and unbiased covariance [d, d] (float64) of the rows of features [N, d], N >= 2.
struct GaussianStats {
  Tensor mean, cov;
};
GaussianStats gaussian_stats(const Tensor& features);

// ||mu1 - mu2||^2 + tr(S1 + S2 - 2 (S1 S2)^(1/2)): the squared 2-Wasserstein distance between
// N(mu1, S1) and N(mu2, S2). tr (S1 S2)^(1/2) is computed as tr (S1^(1/2) S2 S1^(1/2))^(1/2), the same
// number (S1 S2 is similar to that matrix) but a square root of a symmetric matrix.
double frechet_distance(const GaussianStats& a, const GaussianStats& b);

}  // namespace ember::nn::metrics
