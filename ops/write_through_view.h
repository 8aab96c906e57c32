#pragma once
// An in-place write through a view of a tensor autograd tracks, recorded as PyTorch records it
// (CopySlices): the base gets a new history in which the view's region is the written value and the
// rest is its old self, and the view becomes a fresh view of that base. Views of the same base taken
// earlier are brought up to date the same way the next time a recorded op uses them.
//
//   w = leaf; a = w * 1; a.narrow(0, 0, 1).mul_(3); a.sum().backward()   ->  w.grad = [3, 1]
//   out = zeros({4}); out.narrow(0, 1, 2).copy_(w * 3)                    ->  out's graph reaches w
#include <memory>

#include <ember/core/tensor.h>

namespace ember::detail {

// The live tensor that `view` was taken from (the first of a chain of views), or null when there is
// none to keep consistent: not a view autograd tracks, or its base is gone.
std::shared_ptr<TensorImpl> live_view_base(const Tensor& view);

// Errors for a write through `view` into `base` that cannot be recorded (a base that is a leaf
// requiring grad, a view taken under NoGradGuard of a base that requires grad, a base that is not
// contiguous, a view whose elements overlap, a stale base).
void check_write_through_view(const char* op, const Tensor& view, const Tensor& base);

// The new history of `base` after `value` was written into `view`'s memory: an alias of base whose
// grad_fn is the write's node. `value` undefined means a constant (fill_, uniform_, copy_ from a
// tensor without gradient).
Tensor history_after_write(const Tensor& base, const Tensor& view, const Tensor& value);

// Gives `view` the history of a fresh view of `base` and marks it current (its storage's
// history_version).
void refresh_view(const Tensor& view, const Tensor& base);

// Refreshes a stale view from its base where that is sound (the base alive and current, the view not
// taken under NoGradGuard of a base that requires grad); false, and the view unchanged, otherwise.
bool try_refresh_stale_view(const Tensor& view);

}  // namespace ember::detail
