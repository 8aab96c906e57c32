#pragma once
// The interface between the CUDA backend's C++ side (cuda_backend.cpp, compiled by the host compiler,
// which owns validation, error messages, the allocator and cuBLAS) and its kernels (kernels_*.cu,
// compiled by nvcc). nvcc compiles the .cu files as C++17 and never sees fmt or backend.h (fmt 9 does
// not build under nvcc in C++20 mode), so everything here is plain C++17: a KView is a View with
// raw shape/stride pointers, and launchers only enqueue work on the given stream. They do not check
// their inputs; the caller has (see cuda_backend.cpp), and checks cudaGetLastError after each launch.
#if defined(EMBER_CUDA_EMULATION)
#include <ember/backends/cuda/emulation.h>  // cudaStream_t, dim3 and the device built-ins, on the host
#else
#include <cuda_runtime_api.h>
#endif

#include <cstdint>

#include <ember/backends/common/cumulative_op.h>
#include <ember/core/dtype.h>

namespace ember::cuda {

inline constexpr int kMaxDims = 16;

// Strided memory: data points at element [0, ..., 0]; shape and strides (in elements) are borrowed.
struct KView {
  void* data = nullptr;
  DType dtype = DType::Float32;
  int ndim = 0;
  const int64_t* shape = nullptr;
  const int64_t* strides = nullptr;
  int64_t numel() const {
    int64_t n = 1;
    for (int d = 0; d < ndim; ++d) n *= shape[d];
    return n;
  }
};

// Same order as ember::UnaryOp / BinaryOp / ReduceOp / RandomKind (backends/backend.h); the casts
// between them are checked with static_asserts in cuda_backend.cpp.
enum class KUnary : uint8_t {
  Neg, Abs, Sign, Exp, Log, Log1p, Expm1, Sqrt, Rsqrt, Sin, Cos, Tanh, Sigmoid, Relu, Erf,
  Reciprocal, Floor, Ceil, Round, LogicalNot, IsNan, IsInf, Gelu, GeluDerivative
};
enum class KBinary : uint8_t {
  Add, Sub, Mul, Div, Pow, Maximum, Minimum, Atan2, Remainder, ReluBackward, GeluBackward,
  Eq, Ne, Lt, Le, Gt, Ge, LogicalAnd, LogicalOr, LogicalXor
};
enum class KReduce : uint8_t { Sum, Prod, Max, Min, ArgMax, ArgMin };
enum class KRandom : uint8_t { Uniform, Normal, Bits };

struct KWindow {
  int64_t kernel[2], dilation[2], padding[2], stride[2], blocks[2];
};

// ---- kernels_elementwise.cu
// Integer dtypes take `integer` (exact past 2^53), the others `real` (backend.h's FillValue).
void launch_fill(const KView& out, double real, int64_t integer, cudaStream_t s);
// Same-device strided copy with dtype conversion (in may be broadcast with stride 0).
void launch_copy(const KView& in, const KView& out, cudaStream_t s);
void launch_unary(KUnary op, const KView& in, const KView& out, cudaStream_t s);
void launch_binary(KBinary op, const KView& a, const KView& b, const KView& out, cudaStream_t s);
void launch_where(const KView& cond, const KView& a, const KView& b, const KView& out, cudaStream_t s);
// Sets *flag (device int) to 1 when any element is NaN or infinite.
void launch_has_nonfinite(const KView& in, int* flag, cudaStream_t s);

// ---- kernels_reduce.cu
// `scratch` is device memory of reduce_scratch_bytes(...) bytes for the two-pass path.
size_t reduce_scratch_bytes(KReduce op, const KView& in, const int64_t* dims, int ndims);
void launch_reduce(KReduce op, const KView& in, const KView& out, const int64_t* dims, int ndims,
                   void* scratch, cudaStream_t s);
void launch_cumulative(CumulativeOp op, const KView& in, const KView& out, int dim, cudaStream_t s);
// minmax: device int64[2], written {min, max}; returns false for non-integer dtypes (no launch).
bool launch_index_range(const KView& index, int64_t* minmax, cudaStream_t s);
// Batched matmul as a plain loop (int64 accumulation for integers, double for floats): the
// integer and bool dtypes cuBLAS does not do, and k == 0 (out = beta * out) for every dtype.
void launch_matmul_int(const KView& a, const KView& b, const KView& out, double alpha, double beta,
                       cudaStream_t s);

// ---- kernels_index.cu
void launch_gather(const KView& in, int dim, const KView& index, const KView& out, cudaStream_t s);
void launch_scatter_add(const KView& out, int dim, const KView& index, const KView& src, cudaStream_t s);
void launch_index_select(const KView& in, int dim, const KView& index, const KView& out, cudaStream_t s);
void launch_index_add(const KView& out, int dim, const KView& index, const KView& src, cudaStream_t s);
void launch_random(KRandom kind, const KView& out, uint64_t seed, uint64_t offset, double a, double b,
                   cudaStream_t s);
void launch_im2col(const KView& in, const KView& out, const KWindow& w, cudaStream_t s);
void launch_col2im(const KView& cols, const KView& out, const KWindow& w, cudaStream_t s);
void launch_max_pool2d(const KView& in, const KView& out, const KView& indices, const KWindow& w,
                       cudaStream_t s);

// ---- kernels_scan.cu
// The selective scan's operands (backends/backend.h: SelectiveScanTensors), contiguous, float32 or
// float64; absent ones have data == nullptr. The state size N is at most kScanMaxState.
inline constexpr int kScanMaxState = 256;
struct KScan {
  KView u, delta, A, B, C, D, z, delta_bias;
  bool delta_softplus = false;
  int64_t chunk = 64;
};
void launch_selective_scan_forward(const KScan& s, const KView& out, const KView& last_state, const KView& checkpoints,
                                   cudaStream_t stream);
// Device scratch the backward needs (recomputed states and the partial sums).
size_t selective_scan_scratch_bytes(const KScan& s);
// grads: u, delta, A, B, C always; D, z, delta_bias where the input has them.
void launch_selective_scan_backward(const KScan& s, const KView& checkpoints, const KView& grad_out,
                                    const KView& grad_last_state, const KScan& grads, void* scratch,
                                    cudaStream_t stream);

// ---- kernels_attention.cu
// Fused attention's operands (backends/backend.h: attention_forward and AttentionSpec): q, k, v
// [B, H, n, d] of one floating dtype, any strides; mask (bool [B, H, n_q, n_k], broadcast strides)
// and layout (bool [n_q / block, n_k / block] rounded up) absent when data == nullptr.
struct KAttention {
  KView q, k, v;
  double scale = 1.0;
  int64_t window_left = -1, window_right = -1;
  KView mask, layout;
  int64_t block = 0;
  double dropout = 0.0;
  uint64_t dropout_seed = 0, dropout_offset = 0;
};
// Device scratch each pass needs (per-thread rows of the operands and accumulators; D in backward).
size_t attention_forward_scratch_bytes(const KAttention& a);
size_t attention_backward_scratch_bytes(const KAttention& a);
// out [B, H, n_q, dv] (any strides, q's dtype); lse [B, H, n_q] contiguous, float32 (float64 for
// float64 inputs).
void launch_attention_forward(const KAttention& a, const KView& out, const KView& lse, void* scratch,
                              cudaStream_t stream);
// grad_q, grad_k, grad_v: the inputs' shapes and dtype, any strides; overwritten.
void launch_attention_backward(const KAttention& a, const KView& out, const KView& lse, const KView& grad_out,
                               const KView& grad_q, const KView& grad_k, const KView& grad_v, void* scratch,
                               cudaStream_t stream);

// ---- kernels_linear_attention.cu
// Causal linear attention (backends/backend.h: causal_linear_attention_forward): fq, fk [B, H, n, d],
// v [B, H, n, dv], one floating dtype, any strides; out (q's dtype, any strides) and den [B, H, n]
// (contiguous, float32; float64 for float64 inputs). The backward's gradients: the inputs' shapes and
// dtype, any strides, overwritten.
size_t causal_linear_attention_scratch_bytes(const KView& fq, const KView& v);
void launch_causal_linear_attention_forward(const KView& fq, const KView& fk, const KView& v, double eps,
                                            const KView& out, const KView& den, void* scratch, cudaStream_t stream);
void launch_causal_linear_attention_backward(const KView& fq, const KView& fk, const KView& v, const KView& out,
                                             const KView& den, const KView& grad_out, const KView& grad_fq,
                                             const KView& grad_fk, const KView& grad_v, void* scratch,
                                             cudaStream_t stream);

// ---- kernels_adam.cu
// One fused Adam update (backends/backend.h: adam_step and AdamSpec): every view contiguous, same
// numel, float32 or float64; max_exp_avg_sq read and written only when amsgrad.
struct KAdam {
  double beta1, beta2, eps, weight_decay, decay_factor;
  bool decoupled, amsgrad;
  double step_size, bias2_sqrt;
};
void launch_adam_step(const KView& param, const KView& grad, const KView& exp_avg, const KView& exp_avg_sq,
                      const KView& max_exp_avg_sq, const KAdam& spec, cudaStream_t stream);

// ---- kernels_rows.cu
// Softmax and layer normalisation over the last dim of contiguous rows (backends/backend.h:
// softmax_forward/backward with SoftmaxSpec, layer_norm_forward/backward). Softmax takes any floating
// dtype in and writes its dtype or float32; layer_norm float32 or float64. Absent weight, bias,
// grad_weight or grad_bias have data == nullptr.
struct KSoftmax {
  double scale;
  int64_t left, right;
  bool empty_rows_zero;
};
void launch_softmax(const KView& in, const KView& out, const KSoftmax& spec, cudaStream_t stream);
void launch_softmax_backward(const KView& y, const KView& grad_out, const KView& grad_in, double scale,
                             cudaStream_t stream);
void launch_layer_norm(const KView& x, const KView& weight, const KView& bias, double eps, const KView& y,
                       const KView& mean, const KView& rstd, cudaStream_t stream);
void launch_layer_norm_backward(const KView& grad_y, const KView& x, const KView& weight, const KView& mean,
                                const KView& rstd, const KView& grad_x, const KView& grad_weight,
                                const KView& grad_bias, cudaStream_t stream);

}  // namespace ember::cuda
