#pragma once
// The CPU kernels. Each is described where it is declared in backends/backend.h.
#include "backends/backend.h"

namespace ember::cpu {

void fill(const View& out, double value);
void copy(const View& in, const View& out);
void unary(UnaryOp op, const View& in, const View& out);
void binary(BinaryOp op, const View& a, const View& b, const View& out);
void where(const View& cond, const View& a, const View& b, const View& out);
void reduce(ReduceOp op, const View& in, const View& out, std::span<const int64_t> dims);
void matmul(const View& a, const View& b, const View& out, double alpha, double beta);
void cumsum(const View& in, const View& out, int64_t dim);
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

}  // namespace ember::cpu
