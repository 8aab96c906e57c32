// oneDNN's direct convolution for conv2d's forward pass and its input and weight gradients (see
// onednn.h).
//
// A plan per problem (dtype, shapes, window, bias, direction, thread count) holds the primitive oneDNN chose for
// blocked layouts and the reorders between those and ember's NCHW/OIHW tensors; creating it (picking
// and JIT-compiling kernels) costs milliseconds, a training loop asks for the same few problems every
// step. The blocked copies live in ember's caching allocator, which hands the same blocks back every
// step instead of fresh pages to fault in.
#include <ember/backends/cpu/onednn.h>

#include <omp.h>

#include <algorithm>
#include <exception>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <unordered_map>
#include <vector>

#include <ember/core/error.h>
#include <ember/core/shape.h>
#include <ember/core/storage.h>
#include <ember/backends/cpu/loops.h>
#include <ember/backends/cpu/one_thread.h>

namespace ember::cpu::onednn {

#if defined(EMBER_WITH_ONEDNN)

namespace {

using dt = dnnl::memory::data_type;
using tag = dnnl::memory::format_tag;

enum class Direction { Forward, BackwardData, BackwardWeights };

// The operands a plan's primitive reads and writes, in ember's order for each direction:
//   forward          a = x,        b = weight,   result = out          (+ bias, read)
//   input gradient   a = grad_out, b = weight,   result = grad_x
//   weight gradient  a = x,        b = grad_out, result = grad_weight
// a and b are reordered from ember's plain layouts into the primitive's, the result back out.
struct Plan {
  std::shared_ptr<dnnl::primitive> conv;
  // What the primitive reads and writes (blocked), and the reorders from and to ember's layouts; a
  // null reorder where the primitive takes the plain layout as it is.
  dnnl::memory::desc a_desc, b_desc, result_desc, bias_desc;
  dnnl::memory::desc a_plain, b_plain, result_plain, bias_plain;
  std::shared_ptr<dnnl::reorder> a_reorder, b_reorder, result_reorder, bias_reorder;
  // The scratch memory each primitive needs, supplied per call: a primitive's own scratchpad would
  // be shared by every thread that runs it (oneDNN's OpenMP build), and a plan is shared.
  dnnl::memory::desc conv_scratch, a_scratch, b_scratch, result_scratch, bias_scratch;
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

// The type a convolution on `type` operands computes in. bfloat16 runs oneDNN's bfloat16 kernels
// where they beat its float32 ones: with AMX, and on AMD's AVX-512-BF16 (W3's second layer on a
// Zen 5: forward 1.04 against 2.07 ms, input gradient 0.99 against 2.00, weight gradient 0.35
// against 0.57 per slice). On an Intel CPU with AVX-512-BF16 and no AMX they measured slower
// than the float32 kernels (forward 2.5 against 1.5 ms, weight gradient 5.8 against 3.0 ms), so
// there a bfloat16 convolution computes in float32. That costs no extra pass: the reorders into the
// blocked layouts widen the operands on the way in, and the result is rounded to bfloat16 once, on
// the way out (more accurate than the bfloat16 kernel, never less). The choice depends on the CPU
// alone, never on a timing, so a machine's results are the same from run to run.
bool native_bf16_faster() {
  const auto has = [](dnnl::cpu_isa wanted) {
    const auto isa = static_cast<unsigned>(dnnl::get_effective_cpu_isa());
    return (isa & static_cast<unsigned>(wanted)) == static_cast<unsigned>(wanted);
  };
  return has(dnnl::cpu_isa::avx512_core_amx) || (has(dnnl::cpu_isa::avx512_core_bf16) && __builtin_cpu_is("amd"));
}

dt compute_type(dt type) {
  if (type != dt::bf16) return type;
  static const bool native = native_bf16_faster();
  return native ? dt::bf16 : dt::f32;
}

std::shared_ptr<const Plan> create(const Problem& p, Direction direction) {
  // The weight gradient runs one slice of the batch per thread (see conv2d_backward_weights), so its
  // kernel is planned for one thread: oneDNN sizes its work split when the primitive is created.
  std::optional<OneOpenMpThread> one_thread;
  if (direction == Direction::BackwardWeights) one_thread.emplace();
  try {
    const dnnl::engine& e = detail::engine();
    const dt type = compute_type(p.type);
    const dnnl::memory::desc x_any(p.x, type, tag::any), w_any(p.weight, type, tag::any),
        out_any(p.out, type, tag::any), bias_md(p.bias, type, tag::x);
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
      plan->a_desc = fpd.src_desc(), plan->b_desc = fpd.weights_desc(), plan->result_desc = fpd.dst_desc();
      plan->a_plain = x_plain, plan->b_plain = w_plain, plan->result_plain = out_plain;
      plan->bias_desc = bias_md, plan->bias_plain = dnnl::memory::desc(p.bias, p.type, tag::x);
    } else if (direction == Direction::BackwardData) {
      const dnnl::convolution_backward_data::desc bd(dnnl::algorithm::convolution_direct, x_any, w_any, out_any,
                                                     p.strides, p.dilation, p.padding_l, p.padding_r);
      const dnnl::convolution_backward_data::primitive_desc bpd(bd, user_scratchpad(), e, fpd);
      if (!fast_kernel(bpd.impl_info_str())) return nullptr;
      plan->impl = bpd.impl_info_str();
      plan->conv_scratch = bpd.scratchpad_desc();
      plan->conv = std::make_shared<dnnl::convolution_backward_data>(bpd);
      plan->a_desc = bpd.diff_dst_desc(), plan->b_desc = bpd.weights_desc(), plan->result_desc = bpd.diff_src_desc();
      plan->a_plain = out_plain, plan->b_plain = w_plain, plan->result_plain = x_plain;
    } else {
      // Each slice's weight gradient is a float32 partial sum, whatever the inputs' dtype: the slices
      // are added in float32 and rounded once.
      const dnnl::memory::desc dw_any(p.weight, dt::f32, tag::any);
      const dnnl::convolution_backward_weights::desc wd(dnnl::algorithm::convolution_direct, x_any, dw_any, out_any,
                                                        p.strides, p.dilation, p.padding_l, p.padding_r);
      const dnnl::convolution_backward_weights::primitive_desc wpd(wd, user_scratchpad(), e, fpd);
      if (!fast_kernel(wpd.impl_info_str())) return nullptr;
      plan->impl = wpd.impl_info_str();
      plan->conv_scratch = wpd.scratchpad_desc();
      plan->conv = std::make_shared<dnnl::convolution_backward_weights>(wpd);
      plan->a_desc = wpd.src_desc(), plan->b_desc = wpd.diff_dst_desc(), plan->result_desc = wpd.diff_weights_desc();
      plan->a_plain = x_plain, plan->b_plain = out_plain;
      plan->result_plain = dnnl::memory::desc(p.weight, dt::f32, tag::oihw);
    }
    plan->a_reorder = reorder_between(plan->a_plain, plan->a_desc, &plan->a_scratch);
    plan->b_reorder = reorder_between(plan->b_plain, plan->b_desc, &plan->b_scratch);
    plan->result_reorder = reorder_between(plan->result_desc, plan->result_plain, &plan->result_scratch);
    if (p.has_bias && direction == Direction::Forward)
      plan->bias_reorder = reorder_between(plan->bias_plain, plan->bias_desc, &plan->bias_scratch);
    return plan;
  } catch (const dnnl::error&) {
    return nullptr;  // no kernel for this problem: ember's own path runs it
  }
}

std::shared_ptr<const Plan> lookup(const Problem& p, Direction direction) {
  PlanKey key;
  // oneDNN fixes a kernel's thread count when it creates it: a plan made for 1 thread would run on 1
  // after set_num_threads(16). The weight gradient's plans are always made for one thread.
  const int64_t threads = direction == Direction::BackwardWeights ? 1 : omp_get_max_threads();
  key.fields = {static_cast<int64_t>(direction), static_cast<int64_t>(p.type), p.has_bias ? 1 : 0, threads};
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
  // Declined where a step overflows int64 (sizes a user chose: the composite then reports them).
  for (int d = 0; d < 2; ++d) {
    int64_t extent = 0, reach = 0, right = 0;
    if (__builtin_mul_overflow(w.dilation[d], w.kernel[d] - 1, &extent) ||
        __builtin_mul_overflow(out.shape[2 + d] - 1, w.stride[d], &reach) ||
        __builtin_add_overflow(reach, extent, &right) || __builtin_add_overflow(right, int64_t{1}, &right) ||
        __builtin_sub_overflow(right, x.shape[2 + d], &right) ||
        __builtin_sub_overflow(right, w.padding[d], &right))
      return std::nullopt;
    p.padding_r.push_back(right);
  }
  return p;
}

// Runs plan's convolution on the operands a and b (see Plan), reordered into the primitive's
// layouts, and reorders its result into `result`. `bias`: the forward's bias, or null.
void execute_plan(const Plan& plan, Direction direction, void* a, void* b, void* bias, void* result) {
  const dnnl::engine& e = detail::engine();
  dnnl::stream stream(e);
  Staged a_m(plan.a_desc, a, plan.a_reorder != nullptr);
  Staged b_m(plan.b_desc, b, plan.b_reorder != nullptr);
  Staged result_m(plan.result_desc, result, plan.result_reorder != nullptr);
  auto reorder = [&](const dnnl::reorder& r, const dnnl::memory::desc& scratch_desc, dnnl::memory& from,
                     dnnl::memory& to) {
    Staged scratch(scratch_desc, nullptr, true);
    r.execute(stream, {{DNNL_ARG_FROM, from}, {DNNL_ARG_TO, to}, {DNNL_ARG_SCRATCHPAD, scratch.memory()}});
    stream.wait();  // before the scratch block goes back to the allocator
  };
  if (plan.a_reorder) {
    dnnl::memory plain(plan.a_plain, e, a);
    reorder(*plan.a_reorder, plan.a_scratch, plain, a_m.memory());
  }
  if (plan.b_reorder) {
    dnnl::memory plain(plan.b_plain, e, b);
    reorder(*plan.b_reorder, plan.b_scratch, plain, b_m.memory());
  }
  std::optional<Staged> bias_m;  // the forward's bias, in the type the primitive computes in
  if (bias) {
    bias_m.emplace(plan.bias_desc, bias, plan.bias_reorder != nullptr);
    if (plan.bias_reorder) {
      dnnl::memory plain(plan.bias_plain, e, bias);
      reorder(*plan.bias_reorder, plan.bias_scratch, plain, bias_m->memory());
    }
  }
  Staged conv_scratch(plan.conv_scratch, nullptr, true);
  std::unordered_map<int, dnnl::memory> args{{DNNL_ARG_SCRATCHPAD, conv_scratch.memory()}};
  switch (direction) {
    case Direction::Forward:
      args.insert({{DNNL_ARG_SRC, a_m.memory()}, {DNNL_ARG_WEIGHTS, b_m.memory()}, {DNNL_ARG_DST, result_m.memory()}});
      if (bias_m) args.emplace(DNNL_ARG_BIAS, bias_m->memory());
      break;
    case Direction::BackwardData:
      args.insert({{DNNL_ARG_DIFF_DST, a_m.memory()},
                   {DNNL_ARG_WEIGHTS, b_m.memory()},
                   {DNNL_ARG_DIFF_SRC, result_m.memory()}});
      break;
    case Direction::BackwardWeights:
      args.insert({{DNNL_ARG_SRC, a_m.memory()},
                   {DNNL_ARG_DIFF_DST, b_m.memory()},
                   {DNNL_ARG_DIFF_WEIGHTS, result_m.memory()}});
      break;
  }
  plan.conv->execute(stream, args);
  if (plan.result_reorder) {
    dnnl::memory plain(plan.result_plain, e, result);
    reorder(*plan.result_reorder, plan.result_scratch, result_m.memory(), plain);
  }
  stream.wait();
}

const char* direction_name(Direction direction) {
  switch (direction) {
    case Direction::Forward: return "forward";
    case Direction::BackwardData: return "input gradient";
    case Direction::BackwardWeights: return "weight gradient";
  }
  return "?";
}

// execute_plan, with oneDNN's own errors (out of memory, say) turned into an ember::Error naming the
// problem: x [N, C, H, W] and weight [O, C, kh, kw].
void run(const Plan& plan, Direction direction, const Problem& p, void* a, void* b, void* bias, void* result) {
  try {
    execute_plan(plan, direction, a, b, bias, result);
  } catch (const dnnl::error& err) {
    EMBER_FAIL("conv2d", "oneDNN's convolution ({}) failed on input {} and weight {}: {}", direction_name(direction),
               shape_str(p.x), shape_str(p.weight), err.what());
  }
}

// The weight gradient cuts the batch into slices of ceil(N / kWeightGradientSlices) images (so at
// most this many): a split set by the batch size alone, so that the float32 sum over slices (and so
// every bit of the result) is the same on any number of threads.
// Each slice is one thread's work; more slices than threads cost little (measured: a 64-image batch
// in 1, 2, 4 or 8 slices on 2 threads took within 10% of each other).
constexpr int64_t kWeightGradientSlices = 8;

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
  if (!plan) return "im2col + GEMM (no fast oneDNN kernel on this CPU)";
  return compute_type(p->type) == p->type ? plan->impl : plan->impl + " in float32 (faster than bf16 without AMX)";
}

bool conv2d_forward(const View& x, const View& weight, const View* bias, const View& out, const Window2d& w) {
  const std::optional<Problem> p = describe(x, weight, out, bias, w);
  if (!p) return false;
  const std::shared_ptr<const Plan> plan = lookup(*p, Direction::Forward);
  if (!plan) return false;
  run(*plan, Direction::Forward, *p, x.data, weight.data, bias ? bias->data : nullptr, out.data);
  return true;
}

bool conv2d_backward_data(const View& grad_out, const View& weight, const View& grad_x, const Window2d& w) {
  if (grad_x.ndim() != 4 || grad_x.shape[1] < 16) return false;
  const std::optional<Problem> p = describe(grad_x, weight, grad_out, nullptr, w);
  if (!p) return false;
  const std::shared_ptr<const Plan> plan = lookup(*p, Direction::BackwardData);
  if (!plan) return false;
  run(*plan, Direction::BackwardData, *p, grad_out.data, weight.data, nullptr, grad_x.data);
  return true;
}

bool conv2d_backward_weights(const View& x, const View& grad_out, const View& grad_weight, const Window2d& w) {
  const std::optional<Problem> whole = describe(x, grad_weight, grad_out, nullptr, w);
  if (!whole) return false;
  // The batch in `slices` slices of `per_slice` images (the last one shorter where N is not a
  // multiple), each run by oneDNN on one thread into its own float32 partial sum.
  const int64_t N = x.shape[0];
  const int64_t per_slice = (N + kWeightGradientSlices - 1) / kWeightGradientSlices;
  const int64_t slices = (N + per_slice - 1) / per_slice;
  auto slice_problem = [&](int64_t images) {
    Problem p = *whole;
    p.x[0] = p.out[0] = images;
    return p;
  };
  const Problem full_slice = slice_problem(per_slice), last_slice = slice_problem(N - (slices - 1) * per_slice);
  const std::shared_ptr<const Plan> full_plan = lookup(full_slice, Direction::BackwardWeights);
  const std::shared_ptr<const Plan> last_plan =
      last_slice.x[0] == per_slice ? full_plan : lookup(last_slice, Direction::BackwardWeights);
  if (!full_plan || !last_plan) return false;

  const int64_t numel = grad_weight.numel();
  const size_t partial_bytes = static_cast<size_t>(slices * numel) * sizeof(float);
  float* partials = static_cast<float*>(CpuAllocator::allocate(partial_bytes));
  const int64_t element = static_cast<int64_t>(dtype_size(x.dtype));
  const int64_t x_slice_bytes = per_slice * (x.numel() / N) * element;
  const int64_t g_slice_bytes = per_slice * (grad_out.numel() / N) * element;
  std::exception_ptr failure;
#pragma omp parallel for schedule(static) num_threads(static_cast<int>(std::min<int64_t>(slices, omp_get_max_threads())))
  for (int64_t s = 0; s < slices; ++s) {
    try {
      const bool last = s == slices - 1;
      run(last ? *last_plan : *full_plan, Direction::BackwardWeights, last ? last_slice : full_slice,
          static_cast<char*>(x.data) + s * x_slice_bytes, static_cast<char*>(grad_out.data) + s * g_slice_bytes,
          nullptr, partials + s * numel);
    } catch (...) {
#pragma omp critical(ember_onednn_weight_gradient)
      if (!failure) failure = std::current_exception();
    }
  }
  if (!failure) {
    // The slices' sums added in slice order, rounded once to the gradient's dtype: each entry by one
    // thread, so the order is the same on any number of them.
#pragma omp parallel for schedule(static) if (numel * slices >= parallel_grain())
    for (int64_t i = 0; i < numel; ++i) {
      float total = partials[i];
      for (int64_t s = 1; s < slices; ++s) total += partials[s * numel + i];
      if (x.dtype == DType::Float32) static_cast<float*>(grad_weight.data)[i] = total;
      else static_cast<BFloat16*>(grad_weight.data)[i] = BFloat16(total);
    }
  }
  CpuAllocator::deallocate(partials, partial_bytes);
  if (failure) std::rethrow_exception(failure);
  return true;
}

#endif  // EMBER_WITH_ONEDNN

}  // namespace ember::cpu::onednn
