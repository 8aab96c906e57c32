#pragma once
#include <optional>

#include <ember/core/tensor.h>

namespace ember {

// torch.matmul semantics: 1-D operands are vectors, batch dims broadcast.
Tensor matmul(const Tensor& a, const Tensor& b);
Tensor bmm(const Tensor& a, const Tensor& b);  // [B, m, k] @ [B, k, n], no broadcasting
Tensor mm(const Tensor& a, const Tensor& b);   // 2-D only
Tensor outer(const Tensor& a, const Tensor& b);
Tensor dot(const Tensor& a, const Tensor& b);
Tensor trace(const Tensor& x);                  // the sum of a 2-D tensor's main diagonal
Tensor kron(const Tensor& a, const Tensor& b);  // the Kronecker product, of any number of dims
// torch.nn.functional.linear: x [..., in], weight [out, in], bias [out] -> [..., out], the rows of
// x times weight^T plus bias. A missing or undefined bias adds nothing.
Tensor linear(const Tensor& x, const Tensor& weight,
              const std::optional<Tensor>& bias = std::nullopt);

}  // namespace ember
