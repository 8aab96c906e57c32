#include <ember/ops/write_through_view.h>

#include <ember/core/error.h>
#include <ember/ops/op.h>
#include <ember/ops/ops.h>

namespace ember {
namespace {

// The node a base gets when a view of it is written in place. Its inputs are the base's old value
// and the written value; its output is the base's new value. The values are already in memory when
// it is recorded, so forward only hands back an alias of the base; backward splits the gradient:
// the view's region goes to the written value, the rest to the old base. Both are written with
// differentiable ops, so double backward goes through it.
struct WriteThroughView {
  static constexpr const char* name = "write_through_view";
  Shape base_shape;
  Shape view_shape;
  Strides view_strides;
  int64_t view_offset = 0;  // from the base's first element; the base is contiguous

  Tensor forward(Ctx&, const Tensor& base, const Tensor&) {
    return make_tensor(base.storage(), base.shape(), base.strides(), base.offset(), base.dtype());
  }
  Grads backward(Ctx& ctx, const Tensor& g) {
    const Tensor gc = contiguous(g);
    const Tensor region = as_strided(gc, view_shape, view_strides, gc.offset() + view_offset);
    Tensor old_base_grad;
    if (ctx.needs_input_grad(0)) {
      // A mask rather than g minus the scattered region: inf - inf would put NaN where 0 belongs.
      const Tensor inside = as_strided_scatter(ones(view_shape, {.dtype = g.dtype(), .device = g.device()}),
                                               base_shape, view_shape, view_strides, view_offset);
      old_base_grad = where(ne(inside, 0), 0, gc);
    }
    return {old_base_grad, ctx.needs_input_grad(1) ? region : Tensor()};
  }
};

}  // namespace

namespace detail {

std::shared_ptr<TensorImpl> live_view_base(const Tensor& view) {
  const TensorImpl& impl = *view.impl();
  if (!impl.tracks_view_history) return nullptr;
  std::shared_ptr<TensorImpl> base = impl.view_base.lock();
  return base.get() == &impl ? nullptr : base;
}

void check_write_through_view(const char* op, const Tensor& view, const Tensor& base) {
  check_view_history(op, base);
  // A view taken before the base's last history change (a slice of a buffer filled slice by slice)
  // is brought up to date first: it may have been taken while the base needed no gradient.
  check_view_history(op, view);
  EMBER_CHECK(!(base.is_leaf() && base.requires_grad()), op,
              "a view (shape {}) of a leaf tensor that requires grad (shape {}) is written in place; wrap the write "
              "in NoGradGuard or work on a clone",
              shape_str(view.shape()), shape_str(base.shape()));
  EMBER_CHECK(!view.impl()->view_made_without_grad && (!base.requires_grad() || view.requires_grad()), op,
              "a view (shape {}) taken under NoGradGuard of a tensor that requires grad (shape {}) is written in place "
              "while recording gradients: the write cannot be recorded; take the view with gradients on",
              shape_str(view.shape()), shape_str(base.shape()));
  EMBER_CHECK(base.is_contiguous(), op,
              "a view (shape {}) of a non-contiguous tensor (shape {}, strides {}) is written in place while recording "
              "gradients, which ember supports for contiguous bases only; make the base contiguous first",
              shape_str(view.shape()), shape_str(base.shape()), shape_str(base.strides()));
  EMBER_CHECK(!overlaps(view.shape(), view.strides()), op,
              "the target (shape {}, strides {}) may reach some elements twice: its write cannot be recorded; clone it "
              "first",
              shape_str(view.shape()), shape_str(view.strides()));
}

Tensor history_after_write(const Tensor& base, const Tensor& view, const Tensor& value) {
  const Tensor written = value.defined() ? value : view.detach();
  return apply(WriteThroughView{base.shape(), view.shape(), view.strides(), view.offset() - base.offset()}, base,
               written);
}

void refresh_view(const Tensor& view, const Tensor& base) {
  EnableGradGuard recording;  // (a flag read under NoGradGuard refreshes too: the history must be whole)
  const Tensor fresh = as_strided(base, view.shape(), view.strides(), view.offset());
  TensorImpl& impl = *view.impl();
  if (fresh.grad_fn()) {
    autograd::set_history(view, fresh.grad_fn(), fresh.impl()->output_nr);
  } else {
    impl.grad_fn.reset();
    impl.output_nr = 0;
  }
  impl.view_history = impl.storage->history_version();
}

bool try_refresh_stale_view(const Tensor& view) {
  const std::shared_ptr<TensorImpl> base_impl = live_view_base(view);
  if (!base_impl) return false;
  const TensorImpl& impl = *view.impl();
  // (the view's own flags, read without refreshing it: this is the refresh)
  if (!impl.grad_fn && impl.requires_grad) return false;  // a leaf that requires grad keeps its own role
  const Tensor base(base_impl);
  if (base_impl->is_stale_view() || !base.is_contiguous() || overlaps(view.shape(), view.strides())) return false;
  if (impl.view_made_without_grad && base.requires_grad()) return false;
  refresh_view(view, base);
  return true;
}

// The slow path of check_view_history: a view older than its storage's last history change is
// brought up to date from its base, or refused.
void refresh_stale_view(const char* op, const Tensor& view) {
  if (try_refresh_stale_view(view)) return;
  const std::shared_ptr<TensorImpl> base = live_view_base(view);
  const bool made_without_grad = base && view.impl()->view_made_without_grad;
  EMBER_CHECK(!(made_without_grad && !base->is_stale_view() && Tensor(base).requires_grad()), op,
              "an input (a view of shape {}) was taken under NoGradGuard and its base (shape {}) has since been "
              "changed in place while recording gradients: it can no longer be used with gradients; take it again, or "
              "detach() it",
              shape_str(view.shape()), shape_str(base->shape));
  fail_stale_view(op, view);
}

}  // namespace detail
}  // namespace ember
