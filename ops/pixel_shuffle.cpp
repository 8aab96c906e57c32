#include <ember/ops/pixel_shuffle.h>

#include <vector>

#include <ember/ops/op.h>
#include <ember/ops/ops.h>

namespace ember {
namespace {

// Checks what both directions need and returns r^2 (r > 0, at least 3 dims, r^2 fits in int64).
int64_t checked_factor(const char* op, const char* name, const Tensor& x, int64_t r) {
  EMBER_CHECK(x.defined(), op, "got an undefined tensor");
  EMBER_CHECK(r > 0, op, "{} must be positive, got {} (input {})", name, r, shape_str(x.shape()));
  EMBER_CHECK(x.dim() >= 3, op, "expected input [..., C, H, W] with at least 3 dims, got shape {}",
              shape_str(x.shape()));
  int64_t r2 = 0;
  EMBER_CHECK(!__builtin_mul_overflow(r, r, &r2), op, "{} {} squared overflows int64 (input {})", name, r,
              shape_str(x.shape()));
  return r2;
}

std::vector<int64_t> batch_dims(const Tensor& x) { return {x.shape().begin(), x.shape().end() - 3}; }

}  // namespace

Tensor pixel_shuffle(const Tensor& x, int64_t r) {
  const char* op = "pixel_shuffle";
  const int64_t r2 = checked_factor(op, "upscale_factor", x, r);
  const int64_t C = x.size(-3), H = x.size(-2), W = x.size(-1);
  EMBER_CHECK(C % r2 == 0, op, "the channel dim {} of input {} is not divisible by upscale_factor^2 = {}", C,
              shape_str(x.shape()), r2);
  // (zero sizes count as one here, so H r and W r fit in int64 even when the output is empty)
  checked_numel(op, "the output", {C / r2, H, r, W, r});
  std::vector<int64_t> out_shape = batch_dims(x);
  out_shape.insert(out_shape.end(), {C / r2, H * r, W * r});
  // [..., C, r, r, H, W] -> [..., C, H, r, W, r]
  std::vector<int64_t> split = batch_dims(x);
  split.insert(split.end(), {C / r2, r, r, H, W});
  const int64_t b = x.dim() - 3;
  std::vector<int64_t> order;
  for (int64_t d = 0; d < b; ++d) order.push_back(d);
  order.insert(order.end(), {b, b + 3, b + 1, b + 4, b + 2});
  return reshape(permute(reshape(x, split), order), out_shape);
}

Tensor pixel_unshuffle(const Tensor& x, int64_t r) {
  const char* op = "pixel_unshuffle";
  const int64_t r2 = checked_factor(op, "downscale_factor", x, r);
  const int64_t C = x.size(-3), H = x.size(-2), W = x.size(-1);
  EMBER_CHECK(H % r == 0 && W % r == 0, op, "the height {} and width {} of input {} must be multiples of "
              "downscale_factor {}", H, W, shape_str(x.shape()), r);
  checked_numel(op, "the output", {C, r2, H / r, W / r});
  // [..., C, H/r, r, W/r, r] -> [..., C, r, r, H/r, W/r]
  std::vector<int64_t> split = batch_dims(x);
  split.insert(split.end(), {C, H / r, r, W / r, r});
  const int64_t b = x.dim() - 3;
  std::vector<int64_t> order;
  for (int64_t d = 0; d < b; ++d) order.push_back(d);
  order.insert(order.end(), {b, b + 2, b + 4, b + 1, b + 3});
  std::vector<int64_t> out_shape = batch_dims(x);
  out_shape.insert(out_shape.end(), {C * r2, H / r, W / r});
  return reshape(permute(reshape(x, split), order), out_shape);
}

}  // namespace ember
