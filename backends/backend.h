#pragma once
// The kernel set every backend provides. Kernels see strided memory (a View), never autograd state.
// Callers (ops/) have already validated shapes, dtypes and devices, broadcast operands with stride-0
// views, and allocated outputs; kernels only compute.
#include <array>
#include <cstdint>
#include <span>
#include <string>

#include <ember/backends/common/cumulative_op.h>
#include <ember/core/device.h>
#include <ember/core/dtype.h>
#include <ember/core/shape.h>

namespace ember {

// A strided view of memory: data points at element [0, ..., 0]; strides are in elements. The shape
// and strides are borrowed from the tensor the view was made of, which must outlive the call.
struct View {
  void* data = nullptr;
  DType dtype = DType::Float32;
  std::span<const int64_t> shape;
  std::span<const int64_t> strides;
  int64_t numel() const { return shape_numel(shape); }
  int64_t ndim() const { return static_cast<int64_t>(shape.size()); }
};

// Gelu(x) = x Phi(x) and GeluDerivative(x) = Phi(x) + x phi(x), with Phi(x) = (1 + erf(x / sqrt 2)) / 2
// the normal CDF and phi its density: GELU forward and backward in one pass each, computed in float
// for 16-bit inputs and rounded once.
enum class UnaryOp : uint8_t {
  Neg, Abs, Sign, Exp, Log, Log1p, Expm1, Sqrt, Rsqrt, Sin, Cos, Tanh, Sigmoid, Relu, Erf,
  Reciprocal, Floor, Ceil, Round, LogicalNot, IsNan, IsInf, Gelu, GeluDerivative
};
// On integer dtypes Div rounds down (floor_divide), Remainder takes the sign of the divisor, and a
// zero divisor gives 0 (ops/ raises before calling a kernel with one).
// The activations' backward in one pass each, on floating dtypes (a and b: the incoming gradient and
// the saved tensor): ReluBackward(g, y) = g where y > 0, else 0 (a NaN in g is kept there, as in
// PyTorch's threshold_backward); GeluBackward(g, x) = g GeluDerivative(x), rounded once for 16-bit.
enum class BinaryOp : uint8_t {
  Add, Sub, Mul, Div, Pow, Maximum, Minimum, Atan2, Remainder, ReluBackward, GeluBackward,
  Eq, Ne, Lt, Le, Gt, Ge, LogicalAnd, LogicalOr, LogicalXor
};
inline bool is_comparison(BinaryOp op) { return op >= BinaryOp::Eq; }

enum class ReduceOp : uint8_t { Sum, Prod, Max, Min, ArgMax, ArgMin };

enum class RandomKind : uint8_t { Uniform, Normal, Bits };

// A sliding window over the last two dims of [N, C, H, W] (im2col, col2im, max pooling). Block
// (bh, bw) of the blocks[0] x blocks[1] grid covers input rows bh * stride[0] - padding[0] +
// i * dilation[0] for i < kernel[0], and columns likewise; positions outside [0, H) x [0, W) are padding.
struct Window2d {
  std::array<int64_t, 2> kernel{1, 1}, dilation{1, 1}, padding{0, 0}, stride{1, 1}, blocks{0, 0};
};

// Which keys each query may attend to, for the fused attention kernels. Query i (of n_q) may attend to
// key j (of n_k) when all of these hold:
//   j <= i + window_right   (window_right < 0: no bound; causal attention is window_right = 0)
//   j >= i - window_left    (window_left < 0: no bound; a causal window of w keys is window_left = w - 1)
//   mask[b, h, i, j]        (when mask.data is set: bool, broadcast to [B, H, n_q, n_k] by strides)
//   layout[i / block, j / block]   (when layout.data is set: bool [ceil(n_q / block), ceil(n_k / block)])
// A query with no allowed key gets output 0, log-sum-exp -inf and zero gradients.
//
// Dropout (dropout > 0): after the softmax normalisation each probability is kept and scaled by
// 1 / (1 - dropout), or dropped (0), so out = (P o M / (1 - dropout)) v; lse stays the log of the
// undropped denominator. Pair (b, h, i, j) is kept when
//   uniform_double(dropout_seed, dropout_offset + ((b * H + h) * n_q + i) * n_k + j) < 1 - dropout
// (core/philox.h): a pure function of the pair's coordinates, so backward regenerates the forward's
// mask whatever the tiling, thread count or instruction set, and it is the mask
// bernoulli([B, H, n_q, n_k], 1 - dropout) draws at that (seed, offset).
struct AttentionSpec {
  double scale = 1.0;
  int64_t window_left = -1, window_right = -1;
  View mask;
  View layout;
  int64_t block = 0;
  double dropout = 0.0;
  uint64_t dropout_seed = 0, dropout_offset = 0;
};

// Mamba's selective scan (ops/ssm/selective_scan.h states the maths). All views contiguous and of
// one floating dtype, float32 or float64 (ops/ converts 16-bit inputs): u, delta, z [batch, D, L],
// A [D, N], B, C [batch, N, L], D (the skip) and delta_bias [D]. z, D and delta_bias may be absent
// (data == nullptr). The same struct carries the gradients, each shaped like its input.
struct SelectiveScanTensors {
  View u, delta, A, B, C, D, z, delta_bias;
};
struct SelectiveScanSpec {
  bool delta_softplus = false;
  int64_t chunk = 64;  // timesteps between the states forward keeps for backward
};

// What the softmax row kernels apply around the softmax itself (softmax_forward below): a scale on
// the input, and the band of keys query i may see, i - left <= j <= i + right (a negative bound is no
// bound): attention's scale and causal or sliding-window mask, without an [n_q, n_k] mask tensor.
struct SoftmaxSpec {
  double scale = 1.0;
  int64_t left = -1, right = -1;
  bool empty_rows_zero = false;
};

// One Adam (or AdamW) update, fused (optim/optimizers.h states the rule). The scalars are folded
// here, once per tensor, so a kernel only multiplies, adds, divides and takes square roots:
//   step_size = -lr / (1 - beta1^t),   bias2_sqrt = sqrt(1 - beta2^t)
struct AdamSpec {
  double beta1 = 0.9, beta2 = 0.999, eps = 1e-8;
  double weight_decay = 0;         // added to the gradient (L2) or, when decoupled, decays the weights
  double decay_factor = 1;         // decoupled: 1 - lr * weight_decay
  bool decoupled = false, amsgrad = false;
  double step_size = -1e-3, bias2_sqrt = 1;
};

// A value to fill a tensor of any dtype with: floating dtypes take `real` (bool: real != 0), integer
// dtypes `integer`, which is exact where a double is not (past 2^53: 2^53 + 1 would become 2^53, and
// INT64_MAX a double of 2^63 that no int64 holds).
struct FillValue {
  double real = 0;
  int64_t integer = 0;
};

struct Backend {
  std::string (*name)();
  void* (*allocate)(size_t nbytes, Device device);
  void (*deallocate)(void* ptr, size_t nbytes, Device device);

  // out[i] = value
  void (*fill)(const View& out, FillValue value);
  // out[i] = convert(in[i]); same shape, any dtypes (in may be broadcast with stride 0)
  void (*copy)(const View& in, const View& out);
  // out[i] = op(in[i]); dtypes equal except IsNan/IsInf/LogicalNot (bool out)
  void (*unary)(UnaryOp op, const View& in, const View& out);
  // out[i] = op(a[i], b[i]); a, b share a dtype; out has it too, or bool for comparisons
  void (*binary)(BinaryOp op, const View& a, const View& b, const View& out);
  // out[i] = cond[i] ? a[i] : b[i]
  void (*where)(const View& cond, const View& a, const View& b, const View& out);
  // out (keepdim shape, size 1 on reduced dims) = reduction of in over dims; ArgMax/ArgMin write
  // int64 indices along the single reduced dim
  void (*reduce)(ReduceOp op, const View& in, const View& out, std::span<const int64_t> dims);
  // out = alpha * a @ b + beta * out over matching batch dims: a [..., m, k], b [..., k, n]
  void (*matmul)(const View& a, const View& b, const View& out, double alpha, double beta);
  // out[..., i, ...] = in[..., 0, ...] op ... op in[..., i, ...] along dim, on floating dtypes (and
  // integer ones for Sum and Prod)
  void (*cumulative)(CumulativeOp op, const View& in, const View& out, int64_t dim);
  // out[i][j][k] = in[i][index[i][j][k]][k] (dim = 1 shown); index int64, already bounds-checked
  void (*gather)(const View& in, int64_t dim, const View& index, const View& out);
  // out[i][index[i][j][k]][k] += src[i][j][k]; index already bounds-checked
  void (*scatter_add)(const View& out, int64_t dim, const View& index, const View& src);
  // out.select(dim, j) = in.select(dim, index[j])
  void (*index_select)(const View& in, int64_t dim, const View& index, const View& out);
  // out.select(dim, index[j]) += src.select(dim, j)
  void (*index_add)(const View& out, int64_t dim, const View& index, const View& src);
  // out[i] = random value for element i of the Philox stream at (seed, offset); see core/philox.h
  void (*random)(RandomKind kind, const View& out, uint64_t seed, uint64_t offset, double a,
                 double b);
  // returns {min, max} of an integer tensor, for bounds checks; {0, -1} for empty tensors
  std::pair<int64_t, int64_t> (*index_range)(const View& index);
  // true when any element of a floating tensor is NaN or infinite (anomaly mode)
  bool (*has_nonfinite)(const View& in);
  // out[n, (c * kh + i) * kw + j, bh * bw_count + bw] = in[n, c, row(bh, i), col(bw, j)] or 0 in
  // the padding; in [N, C, H, W], out [N, C * kh * kw, blocks_h * blocks_w]
  void (*im2col)(const View& in, const View& out, const Window2d& w);
  // the adjoint of im2col: out[n, c, row(bh, i), col(bw, j)] += cols[n, (c * kh + i) * kw + j, b];
  // out [N, C, H, W] holds the values added to (zeros for a plain col2im)
  void (*col2im)(const View& cols, const View& out, const Window2d& w);
  // out[n, c, bh, bw] = max of the window (padding never wins; NaN propagates), indices[...] =
  // row * W + col of the first maximum (int64); out and indices [N, C, blocks_h, blocks_w]
  void (*max_pool2d)(const View& in, const View& out, const View& indices, const Window2d& w);
  // Its adjoint: grad_in [N, C, H, W] (overwritten) = 0, plus each grad_out[n, c, bh, bw] added at
  // its window's indices[n, c, bh, bw], summed in the compute type and rounded once per element.
  // grad_in is contiguous; grad_out (any strides) has its dtype; indices are max_pool2d's, so each
  // lies in [0, H W). nullptr where the backend has none (the backward then uses scatter_add).
  void (*max_pool2d_backward)(const View& grad_out, const View& indices, const View& grad_in);
  // A fused 2-D convolution, where the backend has one that beats im2col + GEMM on this problem (the
  // CPU's is oneDNN's): out [N, O, Ho, Wo] = x [N, C, H, W] convolved with weight [O, C, kh, kw]
  // (+ bias [O] when bias is not null), one group, every view contiguous and of one dtype. Returns
  // false, having written nothing, where it declines; nullptr where the backend has none.
  bool (*conv2d_forward)(const View& x, const View& weight, const View* bias, const View& out, const Window2d& w);
  // Its adjoint in x: grad_x [N, C, H, W] (overwritten) from grad_out [N, O, Ho, Wo]. Same contract.
  bool (*conv2d_backward_data)(const View& grad_out, const View& weight, const View& grad_x, const Window2d& w);
  // Its adjoint in the weight: grad_weight [O, C, kh, kw] (overwritten) from x and grad_out. Same
  // contract, and the result's bits must not depend on the thread count (a sum over N Ho Wo split
  // among threads would break that). The bias's gradient is a sum ops/ takes itself, so that it is
  // the same whether or not the weight's is asked for too.
  bool (*conv2d_backward_weights)(const View& x, const View& grad_out, const View& grad_weight, const Window2d& w);
  // Fused ("flash") attention, never materialising the [n_q, n_k] scores: q [B, H, n_q, d],
  // k [B, H, n_k, d], v [B, H, n_k, dv] (any strides), out [B, H, n_q, dv] = softmax(scale q k^T
  // restricted to the allowed keys) v, lse [B, H, n_q] (contiguous, float32 or float64: float64 for
  // float64 inputs) = the log of each row's softmax denominator, scale included. nullptr where a
  // backend has no fused kernel (ops/ then runs the math path).
  void (*attention_forward)(const View& q, const View& k, const View& v, const AttentionSpec& spec,
                            const View& out, const View& lse);
  // Its backward, recomputing the probabilities tile by tile from q, k and lse: grad_q, grad_k,
  // grad_v (contiguous, the inputs' shapes and dtype) are overwritten.
  void (*attention_backward)(const View& q, const View& k, const View& v, const View& out,
                             const View& lse, const View& grad_out, const AttentionSpec& spec,
                             const View& grad_q, const View& grad_k, const View& grad_v);
  // Causal linear attention, fused: fq, fk [B, H, n, d] (the feature map already applied) and
  // v [B, H, n, dv], any strides, one floating dtype; out [B, H, n, dv] and den [B, H, n] (contiguous,
  // float32, float64 for float64 inputs) are overwritten with
  //   den_i = eps + sum_{j <= i} fq_i . fk_j,    out_i = sum_{j <= i} (fq_i . fk_j) v_j / den_i,
  // computed in chunks of `chunk` positions (the bits depend on chunk, never on the thread count).
  // nullptr where a backend has none (ops/ then runs the chunked composite).
  void (*causal_linear_attention_forward)(const View& fq, const View& fk, const View& v, double eps,
                                          int64_t chunk, const View& out, const View& den);
  // Its backward from the forward's out and den: grad_fq, grad_fk, grad_v (contiguous, the inputs'
  // shapes and dtype) are overwritten.
  void (*causal_linear_attention_backward)(const View& fq, const View& fk, const View& v, const View& out,
                                           const View& den, const View& grad_out, int64_t chunk,
                                           const View& grad_fq, const View& grad_fk, const View& grad_v);
  // The fused selective scan: out [batch, D, L]; last_state [batch, D, N] = x after the last step;
  // checkpoints [batch, D, ceil(L / chunk), N] = the state before each chunk's first step, which is
  // all backward needs to recompute the rest. out, last_state and checkpoints share the inputs' dtype.
  void (*selective_scan_forward)(const SelectiveScanTensors& in, const SelectiveScanSpec& spec,
                                 const View& out, const View& last_state, const View& checkpoints);
  // Its backward: recomputes each chunk's states from its checkpoint and runs the adjoint scan in
  // reverse. grad_last_state may be absent (no gradient reached the last state). Every gradient
  // present in grads (contiguous, shaped like its input) is overwritten.
  void (*selective_scan_backward)(const SelectiveScanTensors& in, const SelectiveScanSpec& spec,
                                  const View& checkpoints, const View& grad_out,
                                  const View& grad_last_state, const SelectiveScanTensors& grads);
  // The discrete Fourier transform along the last dim but one of complex data stored as [..., n, 2]
  // (real, imaginary), contiguous, float32 or float64: out[..., k, :] = sum_j in[..., j, :]
  // e^(-+2 pi i j k / n), the minus sign forward, plus for inverse, no scaling; any n >= 1.
  void (*fft)(const View& in, const View& out, bool inverse);
  // Adam's update of one parameter in one pass: param, grad, exp_avg, exp_avg_sq (and max_exp_avg_sq
  // when spec.amsgrad; otherwise its data is nullptr) contiguous, same numel, one dtype, float32 or
  // float64. Each element goes through exactly the operations of the op-by-op update, rounded to the
  // dtype after each one and with every scalar rounded to the dtype first, so the fused step gives
  // the composite's bits (the CPU kernels build without FMA contraction):
  //   g = grad (+ param * weight_decay, L2)      param = param * decay_factor (decoupled)
  //   m = m * beta1 + g * (1 - beta1)             v = v * beta2 + g * g * (1 - beta2)
  //   vmax = maximum(vmax, v) (amsgrad; NaN wins)  s = vmax or v
  //   param = param + m / (sqrt(s) / bias2_sqrt + eps) * step_size
  // nullptr where a backend has none (optim/ then runs the op-by-op update).
  void (*adam_step)(const View& param, const View& grad, const View& exp_avg, const View& exp_avg_sq,
                    const View& max_exp_avg_sq, const AdamSpec& spec);
  // Softmax along the last dim of contiguous rows, of the input times spec.scale and restricted to the
  // keys spec's bounds allow (row r is query i = r mod n_q of an [.., n_q, n_k] input; others give 0):
  //   out = e^(s - m) / sum e^(s - m) over the allowed s = scale in, m their maximum (NaN if one is),
  // taken as 0 where it is infinite. So a row of -inf, or with no allowed key, gives 0 / 0 = NaN, as
  // the composite and PyTorch do, unless spec.empty_rows_zero (attention), which gives zeros.
  // in: float32, float64, bfloat16 or float16; out: in's shape, its dtype or float32 (for a 16-bit in:
  // autocast's float32 softmax without a cast). Computed in float32 (float64 for float64). nullptr
  // where a backend has none (ops/ then runs the composite).
  void (*softmax_forward)(const View& in, const View& out, const SoftmaxSpec& spec);
  // Its backward: grad_in = scale y (grad_out - sum(grad_out y)) per row; y and grad_out contiguous,
  // one dtype; grad_in contiguous in the forward input's dtype.
  void (*softmax_backward)(const View& y, const View& grad_out, const View& grad_in, double scale);
  // Layer normalisation over the last dim of contiguous rows x [rows, n], float32 or float64; weight
  // and bias [n] in x's dtype, or data == nullptr for none. Writes mean and rstd [rows] (x's dtype) and
  //   y = (x - mean) * rstd * weight + bias,   rstd = 1 / sqrt(mean((x - mean)^2) + eps).
  // nullptr where a backend has none (ops/ then runs the composite).
  void (*layer_norm_forward)(const View& x, const View& weight, const View& bias, double eps, const View& y,
                             const View& mean, const View& rstd);
  // Its backward from grad_y [rows, n] and the forward's mean and rstd: grad_x [rows, n] =
  // rstd (gw - mean(gw) - xhat mean(gw xhat)), gw = grad_y weight, xhat = (x - mean) rstd; and where
  // their data is set, grad_weight = sum over rows of grad_y xhat, grad_bias = sum of grad_y, [n]
  // each (summed over fixed blocks of rows, so the thread count never changes the bits).
  void (*layer_norm_backward)(const View& grad_y, const View& x, const View& weight, const View& mean,
                              const View& rstd, const View& grad_x, const View& grad_weight, const View& grad_bias);
  // Batch normalisation in training mode over contiguous x [N, C, ...] (float32 or float64), per
  // channel over its N x (spatial) values: writes mean and the biased var [C] (x's dtype) and
  //   y = (x - mean) rstd weight + bias,   rstd = 1 / sqrt(var + eps);
  // weight and bias [C] in x's dtype, or data == nullptr for none. nullptr where a backend has none
  // (ops/ then computes the same with broadcast ops).
  void (*batch_norm_forward)(const View& x, const View& weight, const View& bias, double eps, const View& y,
                             const View& mean, const View& var);
  // Its backward from contiguous grad_y and the forward's mean and rstd [C]: grad_x = rstd weight
  // (grad_y - mean(grad_y) - xhat mean(grad_y xhat)) with the means per channel; and where their data
  // is set, grad_weight = sum of grad_y xhat and grad_bias = sum of grad_y, [C] each. A channel is
  // summed by one thread, so the thread count never changes the bits.
  void (*batch_norm_backward)(const View& grad_y, const View& x, const View& weight, const View& mean,
                              const View& rstd, const View& grad_x, const View& grad_weight, const View& grad_bias);
  // Rotary position embedding: x [..., n, d] (any strides, one floating dtype, d even), cos and sin
  // [n, d / 2] (contiguous, x's dtype), out contiguous like x. With x1, x2 the halves of the last dim,
  //   out1 = x1 cos - x2 sin,   out2 = x2 cos + x1 sin,
  // each product and each sum rounded to the dtype, as separate kernels would round them. nullptr
  // where a backend has none (ops/ then runs the six binary kernels).
  void (*rotary)(const View& x, const View& cos, const View& sin, const View& out);
};

const Backend& backend(Device device);
const Backend& cpu_backend();
const Backend& cuda_backend();

namespace detail {
// While one lives, backend(cpu) on the thread that made it returns `table` instead of the CPU's own.
// For tests: a copy of cpu_backend() with optional kernels set to nullptr runs, on the CPU, the
// fallbacks that ops/ takes for a backend without them (the CUDA table leaves several nullptr), so
// those paths are checked against the CPU's kernels on a machine with no GPU. Guards nest.
class CpuBackendOverride {
 public:
  explicit CpuBackendOverride(const Backend& table);
  ~CpuBackendOverride();
  CpuBackendOverride(const CpuBackendOverride&) = delete;
  CpuBackendOverride& operator=(const CpuBackendOverride&) = delete;

 private:
  const Backend* previous_;
};
}  // namespace detail

}  // namespace ember
