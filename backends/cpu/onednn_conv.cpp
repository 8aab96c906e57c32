// oneDNN's direct convolution for conv2d's forward pass and its input gradient (see onednn.h).
//
// A plan per problem (dtype, shapes, window, bias, direction) holds the primitive oneDNN chose for
// blocked layouts and the reorders between those and ember's NCHW/OIHW tensors; creating it (picking
// and JIT-compiling kernels) costs milliseconds, a training loop asks for the same few problems every
// step. The blocked copies live in ember's caching allocator, which hands the same blocks back every
// step instead of fresh pages to fault in.
#include <ember/backends/cpu/onednn.h>

#include <algorithm>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <unordered_map>
#include <vector>

#include <ember/core/error.h>
#include <ember/core/shape.h>
#include <ember/core/storage.h>

namespace ember::cpu::onednn {

#if defined(EMBER_WITH_ONEDNN)

namespace {

using dt = dnnl::memory::data_type;
using tag = dnnl::memory::format_tag;

enum class Direction { Forward, BackwardData };

struct Plan {
  std::shared_ptr<dnnl::primitive> conv;
  // What the primitive reads and writes (blocked), and the reorders from and to ember's layouts; a
  // null reorder where the primitive takes the plain layout as it is.
  dnnl::memory::desc in_desc, weights_desc, out_desc;
  dnnl::memory::desc in_plain, weights_plain, out_plain, bias_plain;
  std::shared_ptr<dnnl::reorder> in_reorder, weights_reorder, out_reorder;
  // The scratch memory each primitive needs, supplied per call: a primitive's own scratchpad would
  // be shared by every thread that runs it (oneDNN's OpenMP build), and a plan is shared.
  dnnl::memory::desc conv_scratch, in_scratch, weights_scratch, out_scratch;
  std::string impl;  // oneDNN's name for the kernel, for ember::info()
};

dnnl::primitive_attr user_scratchpad() {
  dnnl::primitive_attr attr;
  attr.set_scratchpad_mode(dnnl::scratchpad_mode::user);
  return attr;
}

struct PlanKey {
  std::vector<int64_t> fields;
  bool operator<(const PlanKey& other) const { return fields < other.fields; }
};

std::mutex g_plans_mutex;
std::map<PlanKey, std::shared_ptr<const Plan>> g_plans;  // null: declined
constexpr size_t kPlanCapacity = 256;

// A kernel worth using: oneDNN's direct JIT or brgemm convolutions, not its GEMM-based one (what
// ember's im2col + GEMM already is) or its reference loops.
bool fast_kernel(const std::string& impl) { return impl.rfind("jit", 0) == 0 || impl.rfind("brg", 0) == 0; }

std::shared_ptr<dnnl::reorder> reorder_between(const dnnl::memory::desc& from, const dnnl::memory::desc& to,
                                               dnnl::memory::desc* scratch) {
  if (from == to) return nullptr;
  const dnnl::engine& e = detail::engine();
  const dnnl::reorder::primitive_desc pd(e, from, e, to, user_scratchpad());
  *scratch = pd.scratchpad_desc();
  return std::make_shared<dnnl::reorder>(pd);
}

// x [N, C, H, W], weight [O, C, kh, kw], out [N, O, Ho, Wo]: the descriptors of the convolution.
struct Problem {
  dt type;
  dnnl::memory::dims x, weight, out, bias, strides, dilation, padding_l, padding_r;
  bool has_bias;
};

std::shared_ptr<const Plan> create(const Problem& p, Direction direction) {
  try {
    const dnnl::engine& e = detail::engine();
    const dnnl::memory::desc x_any(p.x, p.type, tag::any), w_any(p.weight, p.type, tag::any),
        out_any(p.out, p.type, tag::any), bias_md(p.bias, p.type, tag::x);
    const dnnl::memory::desc x_plain(p.x, p.type, tag::nchw), w_plain(p.weight, p.type, tag::oihw),
        out_plain(p.out, p.type, tag::nchw);
    const dnnl::convolution_forward::desc fd =
        p.has_bias ? dnnl::convolution_forward::desc(dnnl::prop_kind::forward_training,
                                                     dnnl::algorithm::convolution_direct, x_any, w_any, bias_md,
                                                     out_any, p.strides, p.dilation, p.padding_l, p.padding_r)
                   : dnnl::convolution_forward::desc(dnnl::prop_kind::forward_training,
                                                     dnnl::algorithm::convolution_direct, x_any, w_any, out_any,
                                                     p.strides, p.dilation, p.padding_l, p.padding_r);
    const dnnl::convolution_forward::primitive_desc fpd(fd, user_scratchpad(), e);
    auto plan = std::make_shared<Plan>();
    if (direction == Direction::Forward) {
      if (!fast_kernel(fpd.impl_info_str())) return nullptr;
      plan->impl = fpd.impl_info_str();
      plan->conv_scratch = fpd.scratchpad_desc();
      plan->conv = std::make_shared<dnnl::convolution_forward>(fpd);
      plan->in_desc = fpd.src_desc(), plan->weights_desc = fpd.weights_desc(), plan->out_desc = fpd.dst_desc();
      plan->in_plain = x_plain, plan->out_plain = out_plain;
    } else {
      const dnnl::convolution_backward_data::desc bd(dnnl::algorithm::convolution_direct, x_any, w_any, out_any,
                                                     p.strides, p.dilation, p.padding_l, p.padding_r);
      const dnnl::convolution_backward_data::primitive_desc bpd(bd, user_scratchpad(), e, fpd);
      if (!fast_kernel(bpd.impl_info_str())) return nullptr;
      plan->impl = bpd.impl_info_str();
      plan->conv_scratch = bpd.scratchpad_desc();
      plan->conv = std::make_shared<dnnl::convolution_backward_data>(bpd);
      // "in" is the gradient of the output, "out" the gradient of x
      plan->in_desc = bpd.diff_dst_desc(), plan->weights_desc = bpd.weights_desc(), plan->out_desc = bpd.diff_src_desc();
      plan->in_plain = out_plain, plan->out_plain = x_plain;
    }
    plan->weights_plain = w_plain, plan->bias_plain = bias_md;
    plan->in_reorder = reorder_between(plan->in_plain, plan->in_desc, &plan->in_scratch);
    plan->weights_reorder = reorder_between(plan->weights_plain, plan->weights_desc, &plan->weights_scratch);
    plan->out_reorder = reorder_between(plan->out_desc, plan->out_plain, &plan->out_scratch);
    return plan;
  } catch (const dnnl::error&) {
    return nullptr;  // no kernel for this problem: ember's own path runs it
  }
}

std::shared_ptr<const Plan> lookup(const Problem& p, Direction direction) {
  PlanKey key;
  key.fields = {static_cast<int64_t>(direction), static_cast<int64_t>(p.type), p.has_bias ? 1 : 0};
  for (const dnnl::memory::dims* d : {&p.x, &p.weight, &p.strides, &p.dilation, &p.padding_l, &p.padding_r})
    key.fields.insert(key.fields.end(), d->begin(), d->end());
  std::lock_guard<std::mutex> lock(g_plans_mutex);
  auto it = g_plans.find(key);
  if (it != g_plans.end()) return it->second;
  if (g_plans.size() >= kPlanCapacity) g_plans.clear();
  auto plan = create(p, direction);
  g_plans.emplace(std::move(key), plan);
  return plan;
}

// A blocked operand: the caller's own memory when no reorder is needed, else a block from ember's
// caching allocator, handed back when this goes out of scope.
class Staged {
 public:
  Staged(const dnnl::memory::desc& desc, void* plain, bool needs_copy) {
    if (needs_copy) {
      bytes_ = std::max<size_t>(desc.get_size(), 1);
      block_ = CpuAllocator::allocate(bytes_);
    }
    try {
      memory_ = dnnl::memory(desc, detail::engine(), needs_copy ? block_ : plain);
    } catch (...) {
      if (block_) CpuAllocator::deallocate(block_, bytes_);
      throw;
    }
  }
  ~Staged() {
    if (block_) CpuAllocator::deallocate(block_, bytes_);
  }
  Staged(const Staged&) = delete;
  Staged& operator=(const Staged&) = delete;
  dnnl::memory& memory() { return memory_; }

 private:
  void* block_ = nullptr;
  size_t bytes_ = 0;
  dnnl::memory memory_;
};

bool contiguous(const View& v) {
  int64_t expected = 1;
  for (int64_t d = v.ndim(); d-- > 0;) {
    if (v.shape[d] != 1 && v.strides[d] != expected) return false;
    expected *= v.shape[d];
  }
  return true;
}

// The problem, or nullopt where this path declines before asking oneDNN.
std::optional<Problem> describe(const View& x, const View& weight, const View& out, const View* bias,
                                const Window2d& w) {
  if (!enabled()) return std::nullopt;
  if (x.dtype != DType::Float32 && x.dtype != DType::BFloat16) return std::nullopt;
  if (weight.dtype != x.dtype || out.dtype != x.dtype || (bias && bias->dtype != x.dtype)) return std::nullopt;
  if (x.ndim() != 4 || weight.ndim() != 4 || out.ndim() != 4 || x.numel() == 0 || out.numel() == 0) return std::nullopt;
  if (weight.shape[1] != x.shape[1]) return std::nullopt;  // one group only
  for (const View* v : {&x, &weight, &out}) if (!contiguous(*v)) return std::nullopt;
  if (bias && !contiguous(*bias)) return std::nullopt;
  Problem p;
  p.type = x.dtype == DType::Float32 ? dt::f32 : dt::bf16;
  p.x = {x.shape[0], x.shape[1], x.shape[2], x.shape[3]};
  p.weight = {weight.shape[0], weight.shape[1], weight.shape[2], weight.shape[3]};
  p.out = {out.shape[0], out.shape[1], out.shape[2], out.shape[3]};
  p.bias = {weight.shape[0]};
  p.has_bias = bias != nullptr;
  p.strides = {w.stride[0], w.stride[1]};
  p.dilation = {w.dilation[0] - 1, w.dilation[1] - 1};  // oneDNN counts the gaps
  p.padding_l = {w.padding[0], w.padding[1]};
  // The right padding that makes oneDNN's output size ember's: (H + l + r - ext) / s + 1 = Ho.
  for (int d = 0; d < 2; ++d) {
    const int64_t extent = w.dilation[d] * (w.kernel[d] - 1) + 1;
    p.padding_r.push_back((out.shape[2 + d] - 1) * w.stride[d] + extent - x.shape[2 + d] - w.padding[d]);
  }
  return p;
}

// Runs plan's convolution: `in` (x forward, grad_out backward) and `weight` reordered into the
// primitive's layouts, the result reordered into `out`.
void execute_plan(const Plan& plan, const View& in, const View& weight, const View* bias, const View& out,
                  Direction direction) {
  const dnnl::engine& e = detail::engine();
  dnnl::stream stream(e);
  Staged in_m(plan.in_desc, in.data, plan.in_reorder != nullptr);
  Staged w_m(plan.weights_desc, weight.data, plan.weights_reorder != nullptr);
  Staged out_m(plan.out_desc, out.data, plan.out_reorder != nullptr);
  auto reorder = [&](const dnnl::reorder& r, const dnnl::memory::desc& scratch_desc, dnnl::memory& from,
                     dnnl::memory& to) {
    Staged scratch(scratch_desc, nullptr, true);
    r.execute(stream, {{DNNL_ARG_FROM, from}, {DNNL_ARG_TO, to}, {DNNL_ARG_SCRATCHPAD, scratch.memory()}});
    stream.wait();  // before the scratch block goes back to the allocator
  };
  if (plan.in_reorder) {
    dnnl::memory plain(plan.in_plain, e, in.data);
    reorder(*plan.in_reorder, plan.in_scratch, plain, in_m.memory());
  }
  if (plan.weights_reorder) {
    dnnl::memory plain(plan.weights_plain, e, weight.data);
    reorder(*plan.weights_reorder, plan.weights_scratch, plain, w_m.memory());
  }
  Staged conv_scratch(plan.conv_scratch, nullptr, true);
  if (direction == Direction::Forward) {
    std::unordered_map<int, dnnl::memory> args{
        {DNNL_ARG_SRC, in_m.memory()},
        {DNNL_ARG_WEIGHTS, w_m.memory()},
        {DNNL_ARG_DST, out_m.memory()},
        {DNNL_ARG_SCRATCHPAD, conv_scratch.memory()}};
    if (bias) args.emplace(DNNL_ARG_BIAS, dnnl::memory(plan.bias_plain, e, bias->data));
    plan.conv->execute(stream, args);
  } else {
    plan.conv->execute(stream, {{DNNL_ARG_DIFF_DST, in_m.memory()},
                                {DNNL_ARG_WEIGHTS, w_m.memory()},
                                {DNNL_ARG_DIFF_SRC, out_m.memory()},
                                {DNNL_ARG_SCRATCHPAD, conv_scratch.memory()}});
  }
  if (plan.out_reorder) {
    dnnl::memory plain(plan.out_plain, e, out.data);
    reorder(*plan.out_reorder, plan.out_scratch, out_m.memory(), plain);
  }
  stream.wait();
}

// execute_plan, with oneDNN's own errors (out of memory, say) turned into an ember::Error.
void run(const Plan& plan, const View& in, const View& weight, const View* bias, const View& out, Direction direction) {
  try {
    execute_plan(plan, in, weight, bias, out, direction);
  } catch (const dnnl::error& err) {
    EMBER_FAIL("conv2d", "oneDNN's convolution ({}) failed on {} {} and weight {}: {}",
               direction == Direction::Forward ? "forward" : "input gradient",
               direction == Direction::Forward ? "input" : "output gradient", shape_str(in.shape),
               shape_str(weight.shape), err.what());
  }
}

}  // namespace

std::string convolution_kernel(DType dtype) {
  // A 3x3 layer of 32 to 32 channels, the common case.
  static constexpr int64_t shape[4] = {8, 32, 14, 14}, strides[4] = {32 * 196, 196, 14, 1};
  static constexpr int64_t w_shape[4] = {32, 32, 3, 3}, w_strides[4] = {288, 9, 3, 1};
  const View x{nullptr, dtype, shape, strides};
  const View w{nullptr, dtype, w_shape, w_strides};
  const Window2d win{{3, 3}, {1, 1}, {1, 1}, {1, 1}, {14, 14}};
  const std::optional<Problem> p = describe(x, w, x, nullptr, win);
  if (!p) return "not used";
  const std::shared_ptr<const Plan> plan = lookup(*p, Direction::Forward);
  return plan ? plan->impl : std::string("im2col + GEMM (no fast oneDNN kernel on this CPU)");
}

bool conv2d_forward(const View& x, const View& weight, const View* bias, const View& out, const Window2d& w) {
  const std::optional<Problem> p = describe(x, weight, out, bias, w);
  if (!p) return false;
  const std::shared_ptr<const Plan> plan = lookup(*p, Direction::Forward);
  if (!plan) return false;
  run(*plan, x, weight, bias, out, Direction::Forward);
  return true;
}

bool conv2d_backward_data(const View& grad_out, const View& weight, const View& grad_x, const Window2d& w) {
  if (grad_x.ndim() != 4 || grad_x.shape[1] < 16) return false;
  const std::optional<Problem> p = describe(grad_x, weight, grad_out, nullptr, w);
  if (!p) return false;
  const std::shared_ptr<const Plan> plan = lookup(*p, Direction::BackwardData);
  if (!plan) return false;
  run(*plan, grad_out, weight, nullptr, grad_x, Direction::BackwardData);
  return true;
}

#endif  // EMBER_WITH_ONEDNN

}  // namespace ember::cpu::onednn
