#pragma once
// 16-bit GEMM through oneDNN (Debian's libdnnl, the library libtorch itself uses for this): on a CPU
// with AMX-BF16 or AVX-512-BF16, oneDNN's JIT kernels multiply bfloat16 matrices with float32
// accumulation at about twice float32 GEMM's speed (docs/mixed-precision.md has the figures). The
// CPU matmul kernel (backends/cpu/matmul.cpp) asks here first for 16-bit dtypes and widens to float32
// for OpenBLAS when this declines: ember built without oneDNN, EMBER_ONEDNN=off in the environment,
// set_enabled(false), a dtype or shape oneDNN has no fast kernel for on this CPU (float16 without
// AVX-512-FP16, for one), or an empty product.
//
// Determinism: left to itself oneDNN's matmul splits the k sum among threads for some shapes (A
// stored transposed with a long k and a narrow C), so ember plans every kernel for one thread and
// shares out fixed blocks of C itself (gemm_blocking.h); results do not depend on the thread count
// (tests/backends/test_onednn.cpp checks 1, 2, 3, 6 and 7 threads on every run).
#include <string>

#include <ember/backends/backend.h>

#if defined(EMBER_WITH_ONEDNN)
#include <dnnl.hpp>
#endif

namespace ember::cpu::onednn {

// True when ember was built with oneDNN (EMBER_ONEDNN) and the library could make an engine.
bool built();
// built(), not switched off by EMBER_ONEDNN=off or set_enabled(false).
bool enabled();
// Tests and benchmarks compare the oneDNN path with the float32 one in the same process.
void set_enabled(bool on);
// "oneDNN 2.6.3 (bfloat16 GEMM: brg:avx512_core_bf16; float16 GEMM: not on this CPU)" or why not.
std::string description();

// out = alpha * a @ b + beta * out over the batch dims, for Float16/BFloat16 views of one dtype,
// accumulated in float32 and rounded once. Returns false, having written nothing, where oneDNN
// declines (see above); the caller then computes the product itself.
bool matmul(const View& a, const View& b, const View& out, double alpha, double beta);

// Convolution (backends/cpu/onednn_conv.cpp): Backend::conv2d_forward and its two adjoints for
// float32 and bfloat16, one group, contiguous NCHW views. oneDNN's direct JIT kernels work in blocked
// layouts (channels in blocks of 16), so the operands are reordered in and the result out; that
// still beats ember's im2col + GEMM about threefold on a small ConvNet's layers. On a CPU without
// AMX, bfloat16 operands are widened to float32 by those reorders and the float32 kernel runs:
// oneDNN's other bfloat16 kernels measured slower than its float32 ones. Declined (false) where
// oneDNN would use its GEMM-based or reference kernel, and for the input gradient of a layer with
// fewer than 16 input channels, where the JIT kernel measured slower than im2col's GEMM. The forward
// pass and the input gradient split their outputs among threads and never a sum, so the results
// do not depend on the thread count (tested). The weight gradient (Backend::conv2d_backward_weights) would split its N * H * W sum
// among threads, so it runs the batch in slices set by its size alone, one thread each, and adds the
// slices' float32 sums in order: its bits too are the same on any thread count.
bool conv2d_forward(const View& x, const View& weight, const View* bias, const View& out, const Window2d& w);
bool conv2d_backward_data(const View& grad_out, const View& weight, const View& grad_x, const Window2d& w);
bool conv2d_backward_weights(const View& x, const View& grad_out, const View& grad_weight, const Window2d& w);
// The kernel oneDNN runs a 3x3 float32 or bfloat16 layer with ("jit:avx512_core"; bfloat16 on a CPU
// without AMX: "jit:avx512_core in float32 (no AMX)", see compute_type in onednn_conv.cpp), or why none.
std::string convolution_kernel(DType dtype);

#if defined(EMBER_WITH_ONEDNN)
namespace detail {
// The CPU engine every primitive runs on (valid when built()).
const dnnl::engine& engine();
}  // namespace detail
#endif

}  // namespace ember::cpu::onednn
