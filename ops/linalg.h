#pragma once
#include "core/tensor.h"

namespace ember {

// torch.matmul semantics: 1-D operands are vectors, batch dims broadcast.
Tensor matmul(const Tensor& a, const Tensor& b);
Tensor bmm(const Tensor& a, const Tensor& b);  // [B, m, k] @ [B, k, n], no broadcasting
Tensor mm(const Tensor& a, const Tensor& b);   // 2-D only
Tensor outer(const Tensor& a, const Tensor& b);
Tensor dot(const Tensor& a, const Tensor& b);

}  // namespace ember
