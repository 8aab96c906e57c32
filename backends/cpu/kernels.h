#pragma once
// The CPU kernels, declared for the instruction set this translation unit is compiled for. Each
// kernel file is compiled once per CpuIsa (backends/cpu/cpu_isa.h) with EMBER_CPU_ISA naming its
// namespace (baseline, avx2, avx512) and the matching -march; only cpu_backend.cpp chooses between
// the three tables. Each kernel is described where it is declared in backends/backend.h.
#include <ember/backends/backend.h>
#include <ember/backends/cpu/host_kernels.h>

#if !defined(EMBER_CPU_ISA)
#error "backends/cpu/kernels.h is for the per-instruction-set kernel files (EMBER_CPU_ISA unset)"
#endif

namespace ember::cpu::EMBER_CPU_ISA {

void fill(const View& out, FillValue value);
void copy(const View& in, const View& out);
void unary(UnaryOp op, const View& in, const View& out);
void binary(BinaryOp op, const View& a, const View& b, const View& out);
void where(const View& cond, const View& a, const View& b, const View& out);
void reduce(ReduceOp op, const View& in, const View& out, std::span<const int64_t> dims);
void matmul(const View& a, const View& b, const View& out, double alpha, double beta);
void cumulative(CumulativeOp op, const View& in, const View& out, int64_t dim);
void gather(const View& in, int64_t dim, const View& index, const View& out);
void scatter_add(const View& out, int64_t dim, const View& index, const View& src);
void index_select(const View& in, int64_t dim, const View& index, const View& out);
void index_add(const View& out, int64_t dim, const View& index, const View& src);
void random(RandomKind kind, const View& out, uint64_t seed, uint64_t offset, double a, double b);
std::pair<int64_t, int64_t> index_range(const View& index);
bool has_nonfinite(const View& in);
void im2col(const View& in, const View& out, const Window2d& w);
void col2im(const View& cols, const View& out, const Window2d& w);
void max_pool2d(const View& in, const View& out, const View& indices, const Window2d& w);
void max_pool2d_backward(const View& grad_out, const View& indices, const View& grad_in);
void adam_step(const View& param, const View& grad, const View& exp_avg, const View& exp_avg_sq,
               const View& max_exp_avg_sq, const AdamSpec& spec);
void attention_forward(const View& q, const View& k, const View& v, const AttentionSpec& spec,
                       const View& out, const View& lse);
void attention_backward(const View& q, const View& k, const View& v, const View& out, const View& lse,
                        const View& grad_out, const AttentionSpec& spec, const View& grad_q,
                        const View& grad_k, const View& grad_v);
void causal_linear_attention_forward(const View& q, const View& k, const View& v, double eps, int64_t chunk,
                                     const View& out, const View& den);
void causal_linear_attention_backward(const View& q, const View& k, const View& v, const View& out, const View& den,
                                      const View& grad_out, int64_t chunk, const View& grad_q, const View& grad_k,
                                      const View& grad_v);
void selective_scan_forward(const SelectiveScanTensors& in, const SelectiveScanSpec& spec, const View& out,
                            const View& last_state, const View& checkpoints);
void selective_scan_backward(const SelectiveScanTensors& in, const SelectiveScanSpec& spec,
                             const View& checkpoints, const View& grad_out, const View& grad_last_state,
                             const SelectiveScanTensors& grads);
void fft(const View& in, const View& out, bool inverse);
void softmax_forward(const View& in, const View& out, const SoftmaxSpec& spec);
void softmax_backward(const View& y, const View& grad_out, const View& grad_in, double scale);
void layer_norm_forward(const View& x, const View& weight, const View& bias, double eps, const View& y,
                        const View& mean, const View& rstd);
void layer_norm_backward(const View& grad_y, const View& x, const View& weight, const View& mean, const View& rstd,
                         const View& grad_x, const View& grad_weight, const View& grad_bias);
void batch_norm_forward(const View& x, const View& weight, const View& bias, double eps, const View& y,
                        const View& mean, const View& var);
void batch_norm_backward(const View& grad_y, const View& x, const View& weight, const View& mean, const View& rstd,
                         const View& grad_x, const View& grad_weight, const View& grad_bias);
void rotary(const View& x, const View& cos, const View& sin, const View& out);

// The Backend of these kernels (kernel_table.cpp).
const Backend& kernel_table();
// The host kernels (backends/cpu/host_kernels.h) and their table (kernel_table.cpp).
void rotate_rows(double* w, int64_t n, int64_t first, int64_t last, const double* c, const double* s, int64_t k0,
                 int64_t k1);
void reduce_to_tridiagonal(double* v, int64_t n, double* d, double* e);
void reduce_to_tridiagonal_reference(double* v, int64_t n, double* d, double* e);
void reflect_columns(double* c, int64_t ldc, int64_t rows, int64_t cols, const double* __restrict v, double tau,
                     double* __restrict scratch);
void reflect_rows(double* c, int64_t ldc, int64_t rows, int64_t width, const double* v, double tau);
void reflect_rows_reference(double* c, int64_t ldc, int64_t rows, int64_t width, const double* v, double tau);
void column_dots(const double* a, int64_t lda, int64_t rows, int64_t cols, const double* __restrict u,
                 double* __restrict y);
void row_dots(const double* a, int64_t lda, int64_t rows, int64_t cols, const double* v, double* x);
const HostKernels& host_kernel_table();

}  // namespace ember::cpu::EMBER_CPU_ISA
