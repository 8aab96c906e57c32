#pragma once
// What the linalg ops (ops/decompositions.h) share: the checks of a matrix operand, and the move of a
// batch of matrices to the host in float64 and back. The factorisations themselves are plain loops
// over one row-major n x n (or m x n) matrix at a time.
#include <cstdint>
#include <span>
#include <string>
#include <vector>

#include <ember/core/tensor.h>

namespace ember::linalg::detail {

// Defined, float32 or float64 (a 16-bit operand is refused with a pointer to autocast), at least two
// dims, and square when `square`. `what` names the operand in the message ("A", "B").
void check_matrix(const char* op, const char* what, const Tensor& a, bool square);

// The matrices of `a` ([..., rows, cols], any layout and device) on the host as float64, row-major,
// one after another: matrix i starts at i * rows * cols.
std::vector<double> host_matrices(const Tensor& a);

// A tensor of `shape` holding `values` (row-major), converted to `dtype` and moved to `device`.
Tensor from_host(const std::vector<double>& values, std::span<const int64_t> shape, DType dtype,
                 Device device);

// "(batch entry 3) " when `a` is a batch of matrices, nothing for a single matrix (as PyTorch's
// messages): the start of an error about matrix m of a.
std::string batch_entry(const Tensor& a, int64_t m);

// The number of matrices in a [..., rows, cols] shape (the product of the batch dims).
int64_t batch_count(std::span<const int64_t> shape);

}  // namespace ember::linalg::detail
