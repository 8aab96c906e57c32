#pragma once
// einsum, as torch.einsum: "ij,jk->ik", implicit output ("ij,jk" sums the indices that appear
// more than once and keeps the rest in alphabetical order, after the ellipsis dims), "..." for
// broadcast batch dims (summed when an explicit output has no "..."), repeated indices within one
// operand (the diagonal, "ii->i"), sums of indices absent from the output. Letters a-z and A-Z (the
// implicit output's order is ASCII's, as PyTorch's: "A"-"Z" before "a"-"z"); spaces are ignored. A
// size-1 dim broadcasts against a larger one of the same letter in another operand, and the
// ellipsis dims broadcast right-aligned. Operands are contracted pairwise, left to right, each
// contraction one batched matrix product, so it has gradients of any order through matmul.
// Operands share a dtype (none is promoted) and a device. Integer operands give a result of their
// own dtype (PyTorch 1.13 gives int64 where its path is a sum, "ij->i" on int32); bool is refused.
#include <initializer_list>
#include <span>
#include <string_view>

#include <ember/core/tensor.h>

namespace ember {

Tensor einsum(std::string_view equation, std::span<const Tensor> operands);
inline Tensor einsum(std::string_view equation, std::initializer_list<Tensor> operands) {
  return einsum(equation, std::span<const Tensor>(operands.begin(), operands.size()));
}

}  // namespace ember
