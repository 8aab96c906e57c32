#include <ember/nn/vector_quantizer.h>

#include <cmath>
#include <vector>

#include <ember/ops/ops.h>

namespace ember::nn {
namespace {

constexpr const char* kOp = "VectorQuantizer";

// The dtype the distances and losses are computed in: float32 at least (a 16-bit input under
// autocast still picks its code in float32, where ||z||^2 - 2 z.e + ||e||^2 does not cancel away),
// float64 when either side is float64.
DType compute_dtype(DType input, DType codebook) {
  const DType promoted = promote_types(input, codebook);
  return promoted == DType::Float64 ? DType::Float64 : DType::Float32;
}

// Nearest row of `codes` [K, D] for each row of `vectors` [M, D] (same dtype), by the expanded
// squared distance: one [M, K] matmul instead of an [M, K, D] difference.
Tensor nearest_rows(const Tensor& vectors, const Tensor& codes) {
  NoGradGuard no_grad;
  Tensor distances = vectors.pow(2).sum({1}, true) - 2 * mm(vectors, codes.t()) + codes.pow(2).sum({1}).unsqueeze(0);
  return argmin(distances, 1);
}

// `count` distinct row numbers below `rows`, uniformly at random.
std::vector<int64_t> distinct_rows(int64_t rows, int64_t count, Generator* generator) {
  const Tensor picked = multinomial(ones({rows}, {.dtype = DType::Float64}), count, false, generator).contiguous();
  std::vector<int64_t> out(static_cast<size_t>(count));
  const int64_t* p = picked.data<int64_t>();
  for (int64_t i = 0; i < count; ++i) out[static_cast<size_t>(i)] = p[i];
  return out;
}

// counts as code_counts makes them (non-negative, a positive total): the forward pass's own, unchecked,
// so that it does not wait for the device to read the counts back.
Tensor perplexity_of(const Tensor& counts) {
  NoGradGuard no_grad;
  const Tensor share = counts.to(DType::Float64) / counts.sum().to(DType::Float64);
  // The clamp only keeps log finite where the share is 0.
  return (-(share * clamp(share, 1e-300, std::nullopt).log()).sum()).exp();
}

}  // namespace

Tensor code_counts(const Tensor& indices, int64_t num_codes) {
  EMBER_CHECK(indices.defined() && indices.dtype() == DType::Int64, "code_counts", "expects int64 code indices, got {}",
              indices.defined() ? fmt::format("{}", indices.dtype()) : "undefined");
  EMBER_CHECK(num_codes > 0, "code_counts", "num_codes must be positive, got {}", num_codes);
  NoGradGuard no_grad;
  if (indices.numel() > 0) {
    const auto [lowest, highest] = backend(indices.device()).index_range(kview(indices));
    EMBER_CHECK(lowest >= 0 && highest < num_codes, "code_counts", "code {} is outside [0, {}) (indices of shape {})",
                lowest < 0 ? lowest : highest, num_codes, shape_str(indices.shape()));
  }
  const Tensor flat = indices.reshape({-1});
  const TensorOptions int64_opts{.dtype = DType::Int64, .device = indices.device()};
  return index_add(zeros({num_codes}, int64_opts), 0, flat, ones({flat.numel()}, int64_opts));
}

Tensor code_perplexity(const Tensor& counts) {
  EMBER_CHECK(counts.defined() && counts.dim() == 1 && counts.numel() > 0, "code_perplexity",
              "expected code counts [num_codes], got {}", counts.defined() ? shape_str(counts.shape()) : "undefined");
  // All zeros gave NaN, a negative count a share outside [0, 1] and a meaningless number.
  NoGradGuard no_grad;
  const Tensor as_double = counts.to(DType::Float64);
  const double lowest = amin(as_double).item<double>(), total = as_double.sum().item<double>();
  EMBER_CHECK(lowest >= 0 && std::isfinite(total) && total > 0, "code_perplexity",
              "counts must be finite, non-negative and not all zero (smallest {}, total {})", lowest, total);
  return perplexity_of(counts);
}

VectorQuantizerImpl::VectorQuantizerImpl(int64_t num_codes_, int64_t code_dim_, VectorQuantizerOptions options_)
    : num_codes(num_codes_), code_dim(code_dim_), options(options_) {
  EMBER_CHECK(num_codes > 0 && code_dim > 0, kOp, "num_codes and code_dim must be positive, got {} and {}", num_codes,
              code_dim);
  EMBER_CHECK(std::isfinite(options.beta) && options.beta >= 0, kOp, "beta must be a finite number >= 0, got {}",
              options.beta);
  EMBER_CHECK(options.decay >= 0 && options.decay < 1, kOp, "decay must be in [0, 1), got {}", options.decay);
  EMBER_CHECK(options.epsilon > 0 && std::isfinite(options.epsilon), kOp, "epsilon must be positive, got {}",
              options.epsilon);
  NoGradGuard no_grad;
  // The VQ-VAE's initialisation, U(-1/K, 1/K): small codes near the origin, where a freshly
  // initialised encoder's outputs are.
  Tensor initial = empty({num_codes, code_dim});
  initial.uniform_(-1.0 / double(num_codes), 1.0 / double(num_codes));
  if (options.ema)
    register_buffer("codebook", &codebook, initial);
  else
    register_parameter("codebook", &codebook, initial);
  // Every code starts as if one vector had been assigned to it: the codebook is sum / size from the
  // start, so a code that nothing is assigned to stays where it is as both decay, instead of being
  // divided by the smoothing epsilon.
  register_buffer("ema_cluster_size", &ema_cluster_size, ones({num_codes}));
  register_buffer("ema_embed_sum", &ema_embed_sum, initial.clone());
  register_buffer("usage", &usage, zeros({num_codes}, {.dtype = DType::Int64}));
}

std::string VectorQuantizerImpl::extra_repr() const {
  return fmt::format("num_codes={}, code_dim={}, beta={}, {}", num_codes, code_dim, options.beta,
                     options.ema ? fmt::format("ema=true, decay={}", options.decay) : std::string("ema=false"));
}

Tensor VectorQuantizerImpl::flat_vectors(const Tensor& z, const char* op) const {
  EMBER_CHECK(z.defined(), op, "the input is undefined");
  EMBER_CHECK(z.is_floating_point(), op, "expects a floating-point input, got {} of shape {}", z.dtype(),
              shape_str(z.shape()));
  EMBER_CHECK(z.device() == codebook.device(), op, "the input is on {} and the codebook on {}", z.device(),
              codebook.device());
  EMBER_CHECK(z.dim() >= 1, op, "expects an input with a feature dimension, got a 0-dim tensor");
  const int64_t dim = options.dim < 0 ? options.dim + z.dim() : options.dim;
  EMBER_CHECK(dim >= 0 && dim < z.dim(), op, "options.dim = {} is out of range for an input of shape {}", options.dim,
              shape_str(z.shape()));
  EMBER_CHECK(z.size(dim) == code_dim, op, "expects {} features in dimension {} (the code dimension), got shape {}",
              code_dim, dim, shape_str(z.shape()));
  EMBER_CHECK(z.numel() > 0, op, "the input of shape {} has no vectors", shape_str(z.shape()));
  Tensor last = z;
  if (dim != z.dim() - 1) {
    std::vector<int64_t> order;
    for (int64_t d = 0; d < z.dim(); ++d)
      if (d != dim) order.push_back(d);
    order.push_back(dim);
    last = z.permute(order);
  }
  return last.reshape({-1, code_dim});
}

Tensor VectorQuantizerImpl::nearest_codes(const Tensor& z) const {
  constexpr const char* op = "VectorQuantizer::nearest_codes";
  EMBER_CHECK(z.defined() && z.is_floating_point() && z.dim() >= 1 && z.size(-1) == code_dim && z.numel() > 0, op,
              "expects floating-point vectors [..., {}], got {}", code_dim,
              z.defined() ? fmt::format("{} of shape {}", z.dtype(), shape_str(z.shape())) : std::string("undefined"));
  EMBER_CHECK(z.device() == codebook.device(), op, "the input is on {} and the codebook on {}", z.device(),
              codebook.device());
  const DType dtype = compute_dtype(z.dtype(), codebook.dtype());
  Tensor indices = nearest_rows(z.detach().reshape({-1, code_dim}).to(dtype), codebook.detach().to(dtype));
  return indices.reshape(Shape(z.shape().begin(), z.shape().end() - 1));
}

Tensor VectorQuantizerImpl::lookup(const Tensor& indices) const {
  EMBER_CHECK(indices.defined() && indices.dtype() == DType::Int64, "VectorQuantizer::lookup",
              "expects int64 code indices, got {}", indices.defined() ? fmt::format("{}", indices.dtype()) : "undefined");
  EMBER_CHECK(indices.device() == codebook.device(), "VectorQuantizer::lookup", "the indices are on {} and the codebook on {}",
              indices.device(), codebook.device());
  if (indices.numel() > 0) {
    const auto [lowest, highest] = backend(indices.device()).index_range(kview(indices));
    EMBER_CHECK(lowest >= 0 && highest < codebook.size(0), "VectorQuantizer::lookup",
                "code {} is outside the codebook [0, {}) (indices of shape {})", lowest < 0 ? lowest : highest,
                codebook.size(0), shape_str(indices.shape()));
  }
  return embedding(codebook, indices);
}

VectorQuantizerOutput VectorQuantizerImpl::forward(const Tensor& z) {
  const Tensor flat = flat_vectors(z, kOp);
  const DType dtype = compute_dtype(z.dtype(), codebook.dtype());
  const Tensor flat_c = flat.to(dtype);  // differentiable cast: the losses' gradients reach z in its dtype
  const Tensor indices = nearest_rows(flat_c.detach(), codebook.detach().to(dtype));
  const Tensor chosen = index_select(codebook, 0, indices).to(dtype);  // [M, D], a graph to the codebook

  VectorQuantizerOutput out;
  out.commitment_loss = mse_loss(flat_c, chosen.detach());
  if (options.ema) {
    out.codebook_loss = zeros({}, {.dtype = dtype, .device = z.device()});
    out.loss = options.beta * out.commitment_loss;
  } else {
    out.codebook_loss = mse_loss(chosen, flat_c.detach());
    out.loss = out.codebook_loss + options.beta * out.commitment_loss;
  }

  // The codes back in z's layout, then the straight-through estimator: the value of the codes, the
  // gradient of the identity.
  const int64_t dim = options.dim < 0 ? options.dim + z.dim() : options.dim;
  Shape last_shape;
  for (int64_t d = 0; d < z.dim(); ++d)
    if (d != dim) last_shape.push_back(z.size(d));
  Tensor codes = chosen.detach().to(z.dtype()).reshape(
      [&] { Shape s = last_shape; s.push_back(code_dim); return s; }());
  if (dim != z.dim() - 1) {
    std::vector<int64_t> inverse(static_cast<size_t>(z.dim()));
    for (int64_t d = 0, from = 0; d < z.dim(); ++d)
      if (d != dim) inverse[static_cast<size_t>(d)] = from++;
    inverse[static_cast<size_t>(dim)] = z.dim() - 1;
    codes = codes.permute(inverse);
  }
  out.quantized = z + (codes - z).detach();
  out.indices = indices.reshape(last_shape);

  NoGradGuard no_grad;
  const Tensor counts = code_counts(indices, num_codes);
  usage.add_(counts);
  out.perplexity = perplexity_of(counts).to(DType::Float32);
  out.codes_used = gt(counts, 0).to(DType::Int64).sum();

  if (options.ema && is_training()) {
    // N_k <- decay N_k + (1 - decay) n_k and m_k <- decay m_k + (1 - decay) sum of the vectors on k;
    // after the quantization above, which used the codes as they were.
    const Tensor sums = index_add(zeros({num_codes, code_dim}, {.dtype = ema_embed_sum.dtype(), .device = z.device()}), 0,
                                  indices, flat.detach().to(ema_embed_sum.dtype()));
    ema_cluster_size.mul_(options.decay).add_(counts.to(ema_cluster_size.dtype()), 1 - options.decay);
    ema_embed_sum.mul_(options.decay).add_(sums, 1 - options.decay);
    set_codebook_from_ema();
  }
  return out;
}

void VectorQuantizerImpl::set_codebook_from_ema() {
  NoGradGuard no_grad;
  // Laplace smoothing: N_k + eps, renormalised to the same total, so that a code with no vectors
  // divides by a small positive number instead of zero.
  const Tensor total = ema_cluster_size.sum();
  const Tensor smoothed = (ema_cluster_size + options.epsilon) / (total + double(num_codes) * options.epsilon) * total;
  codebook.copy_(ema_embed_sum / smoothed.unsqueeze(1));
}

int64_t VectorQuantizerImpl::restart_dead_codes(const Tensor& z, double min_uses, Generator* generator) {
  constexpr const char* op = "VectorQuantizer::restart_dead_codes";
  // NaN compared false with every count: no code was dead and the usage counts were reset anyway.
  EMBER_CHECK(std::isfinite(min_uses), op, "min_uses must be finite, got {} (the input of shape {})", min_uses,
              z.defined() ? shape_str(z.shape()) : std::string("undefined"));
  const Tensor flat = flat_vectors(z, op).detach().to(codebook.dtype()).contiguous();
  NoGradGuard no_grad;
  const Tensor used = usage.cpu().contiguous();
  std::vector<int64_t> dead;
  for (int64_t k = 0; k < num_codes; ++k)
    if (double(used.data<int64_t>()[k]) < min_uses) dead.push_back(k);
  if (!dead.empty()) {
    EMBER_CHECK(flat.size(0) >= int64_t(dead.size()), op,
                "{} dead codes need as many vectors to restart from, the input of shape {} has {}", dead.size(),
                shape_str(z.shape()), flat.size(0));
    const std::vector<int64_t> rows = distinct_rows(flat.size(0), int64_t(dead.size()), generator);
    for (size_t i = 0; i < dead.size(); ++i) {
      const Tensor vector = flat.select(0, rows[i]);
      codebook.select(0, dead[i]).copy_(vector);
      ema_embed_sum.select(0, dead[i]).copy_(vector);
      ema_cluster_size.select(0, dead[i]).fill_(1);
    }
  }
  usage.zero_();
  return int64_t(dead.size());
}

void VectorQuantizerImpl::kmeans_init(const Tensor& z, int64_t iterations, Generator* generator) {
  constexpr const char* op = "VectorQuantizer::kmeans_init";
  EMBER_CHECK(iterations >= 0, op, "iterations must be >= 0, got {}", iterations);
  const DType dtype = compute_dtype(z.dtype(), codebook.dtype());
  const Tensor flat = flat_vectors(z, op).detach().to(dtype).contiguous();
  EMBER_CHECK(flat.size(0) >= num_codes, op, "needs at least {} vectors (one per code), the input of shape {} has {}",
              num_codes, shape_str(z.shape()), flat.size(0));
  NoGradGuard no_grad;
  const std::vector<int64_t> start = distinct_rows(flat.size(0), num_codes, generator);
  Tensor centroids = index_select(flat, 0, from_vector(start).to(flat.device()));
  Tensor counts;
  for (int64_t it = 0; it <= iterations; ++it) {
    const Tensor assigned = nearest_rows(flat, centroids);
    counts = code_counts(assigned, num_codes).to(dtype);
    if (it == iterations) break;
    const Tensor sums = index_add(zeros({num_codes, code_dim}, {.dtype = dtype, .device = flat.device()}), 0, assigned, flat);
    // An empty cluster keeps its centroid.
    const Tensor nonempty = gt(counts, 0).unsqueeze(1);
    centroids = where(nonempty, sums / clamp(counts, 1, std::nullopt).unsqueeze(1), centroids);
  }
  // EMA state consistent with the centroids: size n_k (at least 1) and sum n_k * centroid.
  const Tensor sizes = clamp(counts, 1, std::nullopt);
  codebook.copy_(centroids.to(codebook.dtype()));
  ema_cluster_size.copy_(sizes.to(ema_cluster_size.dtype()));
  ema_embed_sum.copy_((centroids * sizes.unsqueeze(1)).to(ema_embed_sum.dtype()));
  usage.zero_();
}

}  // namespace ember::nn
