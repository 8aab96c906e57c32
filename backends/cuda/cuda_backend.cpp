// The CUDA kernel table (backends/backend.h). Each entry finds the device, checks what the kernels
// cannot (dtype/op combinations the CPU backend also refuses, operands that are not on the device),
// and calls a launcher from kernels_*.cu on the device's stream. Work is asynchronous except where a
// result reaches the host: device-to-host copies, index_range and has_nonfinite synchronise.
#include <cstring>
#include <vector>

#include <ember/backends/cpu/cpu_backend.h>
#include <ember/backends/cuda/cuda.h>
#include <ember/backends/cuda/kernels.h>
#include <ember/backends/cuda/runtime.h>
#include <ember/core/error.h>
#include <ember/core/shape.h>

namespace ember {
namespace cuda {
namespace {

static_assert(static_cast<int>(UnaryOp::GeluDerivative) == static_cast<int>(KUnary::GeluDerivative));
static_assert(static_cast<int>(BinaryOp::GeluBackward) == static_cast<int>(KBinary::GeluBackward));
static_assert(static_cast<int>(BinaryOp::LogicalXor) == static_cast<int>(KBinary::LogicalXor));
static_assert(static_cast<int>(ReduceOp::ArgMin) == static_cast<int>(KReduce::ArgMin));
static_assert(static_cast<int>(RandomKind::Bits) == static_cast<int>(KRandom::Bits));

KView kv(const View& v) {
  EMBER_CHECK(v.ndim() <= kMaxDims, "cuda", "tensors of more than {} dims are not supported (got {})", kMaxDims, v.ndim());
  return KView{v.data, v.dtype, static_cast<int>(v.ndim()), v.shape.data(), v.strides.data()};
}

std::string describe(const View& v) {
  return fmt::format("{} {} at {}", shape_str(v.shape), v.dtype, device_of(v.data) < 0 ? "cpu" : "cuda");
}

// Every operand of a kernel must be device memory of `device`: a host pointer would fault inside the
// kernel and poison the CUDA context for the rest of the process. Empty operands are never read.
void check_operands(const char* op, int device, std::initializer_list<const View*> views) {
  if (device_count() == 1) {
    for (const View* v : views)
      if (v->numel() > 0 && device_of(v->data) != 0)
        EMBER_FAIL(op, "expected CUDA tensors on cuda:0, got {}", describe(*v));
    return;
  }
  for (const View* v : views)
    if (v->numel() > 0 && device_of(v->data) != device)
      EMBER_FAIL(op, "expected tensors on cuda:{}, got {}", device, describe(*v));
}

// The device the kernel runs on (that of the first non-empty operand), after checking all operands.
int prepare(const char* op, std::initializer_list<const View*> views) {
  const void* p = nullptr;
  for (const View* v : views)
    if (v->numel() > 0) {
      p = v->data;
      break;
    }
  const int device = device_for(p);
  check_operands(op, device, views);
  return device;
}

bool is_contiguous(const View& v) {
  int64_t expected = 1;
  for (int64_t d = v.ndim() - 1; d >= 0; --d) {
    if (v.shape[d] == 1) continue;
    if (v.strides[d] != expected) return false;
    expected *= v.shape[d];
  }
  return true;
}

Strides contiguous_strides(std::span<const int64_t> shape) {
  Strides s(shape.size());
  int64_t acc = 1;
  for (size_t d = shape.size(); d-- > 0;) {
    s[d] = acc;
    acc *= shape[d];
  }
  return s;
}

// ---------------------------------------------------------------- copy across devices
// H2D: the host side is made one contiguous run in the source dtype (the CPU copy kernel handles strides and
// broadcasting), sent through pinned staging, and converted/scattered on the device if needed.
void copy_to_device(const View& in, const View& out, int dev) {
  const int64_t n = out.numel();
  const size_t bytes = static_cast<size_t>(n) * dtype_size(in.dtype);
  const bool direct = is_contiguous(out) && out.dtype == in.dtype;
  DeviceBuffer temp(direct ? 0 : bytes, dev);
  void* dst = direct ? out.data : temp.get();
  const Strides dense = contiguous_strides(out.shape);
  {
    PinnedStaging staging = pinned_staging(bytes);
    std::vector<char> pageable;
    void* host = staging.ptr;
    if (!host) {
      pageable.resize(bytes);
      host = pageable.data();
    }
    if (is_contiguous(in) && in.numel() == n && shape_numel(in.shape) == n && staging.ptr == nullptr) {
      host = in.data;  // already one run: send it as it is
    } else {
      cpu_backend().copy(in, View{host, in.dtype, out.shape, dense});
    }
    check(cudaMemcpyAsync(dst, host, bytes, cudaMemcpyHostToDevice, stream(dev)), "to_device", "cudaMemcpyAsync", dev);
    // The staging buffer is reused by the next transfer, and a pageable source may be freed as soon
    // as we return: wait for the transfer.
    check(cudaStreamSynchronize(stream(dev)), "to_device", "cudaStreamSynchronize", dev);
  }
  if (!direct) {
    launch_copy(KView{dst, in.dtype, static_cast<int>(out.ndim()), out.shape.data(), dense.data()}, kv(out), stream(dev));
    check_launch("to_device", dev);
  }
}

// D2H: converted/gathered into one contiguous run on the device if needed, copied to pinned staging,
// synchronised (the result reaches the host), then scattered into out by the CPU copy kernel.
void copy_to_host(const View& in, const View& out, int dev) {
  const int64_t n = out.numel();
  const size_t bytes = static_cast<size_t>(n) * dtype_size(out.dtype);
  const Strides dense = contiguous_strides(out.shape);
  const bool direct = is_contiguous(in) && in.dtype == out.dtype;
  DeviceBuffer temp(direct ? 0 : bytes, dev);
  const void* src = in.data;
  if (!direct) {
    launch_copy(kv(in), KView{temp.get(), out.dtype, static_cast<int>(out.ndim()), out.shape.data(), dense.data()},
                stream(dev));
    check_launch("to_device", dev);
    src = temp.get();
  }
  PinnedStaging staging = pinned_staging(bytes);
  const bool into_out = is_contiguous(out) && staging.ptr == nullptr;
  std::vector<char> pageable;
  void* host = into_out ? out.data : staging.ptr;
  if (!host) {
    pageable.resize(bytes);
    host = pageable.data();
  }
  check(cudaMemcpyAsync(host, src, bytes, cudaMemcpyDeviceToHost, stream(dev)), "to_device", "cudaMemcpyAsync", dev);
  check(cudaStreamSynchronize(stream(dev)), "to_device", "cudaStreamSynchronize", dev);
  if (host != out.data) cpu_backend().copy(View{host, out.dtype, out.shape, dense}, out);
}

void copy(const View& in, const View& out) {
  if (out.numel() == 0) return;
  const int din = device_of(in.data), dout = device_of(out.data);
  if (din < 0 && dout < 0) return cpu_backend().copy(in, out);
  if (din == dout) {
    set_device(dout);
    launch_copy(kv(in), kv(out), stream(dout));
    return check_launch("copy", dout);
  }
  if (din < 0) return set_device(dout), copy_to_device(in, out, dout);
  if (dout < 0) return set_device(din), copy_to_host(in, out, din);
  // Between two GPUs: a contiguous copy on the source, a peer copy, conversion on the destination.
  const Strides dense = contiguous_strides(out.shape);
  const size_t bytes = static_cast<size_t>(out.numel()) * dtype_size(in.dtype);
  set_device(din);
  DeviceBuffer a(bytes, din);
  launch_copy(kv(in), KView{a.get(), in.dtype, static_cast<int>(out.ndim()), out.shape.data(), dense.data()}, stream(din));
  check_launch("to_device", din);
  check(cudaStreamSynchronize(stream(din)), "to_device", "cudaStreamSynchronize", din);
  set_device(dout);
  DeviceBuffer b(bytes, dout);
  check(cudaMemcpyPeerAsync(b.get(), dout, a.get(), din, bytes, stream(dout)), "to_device", "cudaMemcpyPeerAsync", dout);
  launch_copy(KView{b.get(), in.dtype, static_cast<int>(out.ndim()), out.shape.data(), dense.data()}, kv(out), stream(dout));
  check_launch("to_device", dout);
  check(cudaStreamSynchronize(stream(dout)), "to_device", "cudaStreamSynchronize", dout);  // before `a` is reused on din
}

// ---------------------------------------------------------------- elementwise
void fill(const View& out, FillValue value) {
  if (out.numel() == 0) return;
  const int dev = prepare("fill", {&out});
  launch_fill(kv(out), value.real, value.integer, stream(dev));
  check_launch("fill", dev);
}

bool float_only(UnaryOp op) {
  switch (op) {
    case UnaryOp::Neg: case UnaryOp::Abs: case UnaryOp::Sign: case UnaryOp::Relu: case UnaryOp::Floor:
    case UnaryOp::Ceil: case UnaryOp::Round: case UnaryOp::LogicalNot: case UnaryOp::IsNan: case UnaryOp::IsInf:
      return false;
    default:
      return true;
  }
}

void unary(UnaryOp op, const View& in, const View& out) {
  const bool predicate = op == UnaryOp::IsNan || op == UnaryOp::IsInf || op == UnaryOp::LogicalNot;
  EMBER_CHECK(predicate || in.dtype != DType::Bool, "unary", "op {} is not defined for bool tensors", static_cast<int>(op));
  EMBER_CHECK(predicate || !float_only(op) || is_floating(in.dtype), "unary", "op {} is not defined for {} tensors",
              static_cast<int>(op), in.dtype);
  if (out.numel() == 0) return;
  const int dev = prepare("unary", {&in, &out});
  launch_unary(static_cast<KUnary>(op), kv(in), kv(out), stream(dev));
  check_launch("unary", dev);
}

void binary(BinaryOp op, const View& a, const View& b, const View& out) {
  EMBER_CHECK(is_floating(a.dtype) || (op != BinaryOp::ReluBackward && op != BinaryOp::GeluBackward), "binary",
              "op {} is not defined for {} tensors", static_cast<int>(op), a.dtype);
  if (out.numel() == 0) return;
  const int dev = prepare("binary", {&a, &b, &out});
  launch_binary(static_cast<KBinary>(op), kv(a), kv(b), kv(out), stream(dev));
  check_launch("binary", dev);
}

void where(const View& cond, const View& a, const View& b, const View& out) {
  if (out.numel() == 0) return;
  const int dev = prepare("where", {&cond, &a, &b, &out});
  launch_where(kv(cond), kv(a), kv(b), kv(out), stream(dev));
  check_launch("where", dev);
}

bool has_nonfinite(const View& in) {
  if (in.numel() == 0 || !is_floating(in.dtype)) return false;
  const int dev = prepare("has_nonfinite", {&in});
  DeviceBuffer flag(sizeof(int), dev);
  check(cudaMemsetAsync(flag.get(), 0, sizeof(int), stream(dev)), "has_nonfinite", "cudaMemsetAsync", dev);
  launch_has_nonfinite(kv(in), static_cast<int*>(flag.get()), stream(dev));
  check_launch("has_nonfinite", dev);
  int result = 0;
  check(cudaMemcpyAsync(&result, flag.get(), sizeof(int), cudaMemcpyDeviceToHost, stream(dev)), "has_nonfinite",
        "cudaMemcpyAsync", dev);
  check(cudaStreamSynchronize(stream(dev)), "has_nonfinite", "cudaStreamSynchronize", dev);
  return result != 0;
}

// ---------------------------------------------------------------- reductions and scans
void reduce(ReduceOp op, const View& in, const View& out, std::span<const int64_t> dims) {
  if (out.numel() == 0) return;
  const int dev = prepare("reduce", {&in, &out});
  const KView kin = kv(in);
  const size_t scratch_bytes = reduce_scratch_bytes(static_cast<KReduce>(op), kin, dims.data(), static_cast<int>(dims.size()));
  DeviceBuffer scratch(scratch_bytes, dev);
  launch_reduce(static_cast<KReduce>(op), kin, kv(out), dims.data(), static_cast<int>(dims.size()), scratch.get(),
                stream(dev));
  check_launch("reduce", dev);
}

void cumulative(CumulativeOp op, const View& in, const View& out, int64_t dim) {
  if (out.numel() == 0) return;
  const int dev = prepare("cumulative", {&in, &out});
  launch_cumulative(op, kv(in), kv(out), static_cast<int>(dim), stream(dev));
  check_launch("cumulative", dev);
}

std::pair<int64_t, int64_t> index_range(const View& index) {
  if (index.numel() == 0) return {0, -1};
  const int dev = prepare("index_range", {&index});
  DeviceBuffer minmax(2 * sizeof(int64_t), dev);
  if (!launch_index_range(kv(index), static_cast<int64_t*>(minmax.get()), stream(dev))) return {0, -1};
  check_launch("index_range", dev);
  int64_t host[2];
  check(cudaMemcpyAsync(host, minmax.get(), sizeof host, cudaMemcpyDeviceToHost, stream(dev)), "index_range",
        "cudaMemcpyAsync", dev);
  check(cudaStreamSynchronize(stream(dev)), "index_range", "cudaStreamSynchronize", dev);
  return {host[0], host[1]};
}

// ---------------------------------------------------------------- indexing
void gather(const View& in, int64_t dim, const View& index, const View& out) {
  if (out.numel() == 0) return;
  const int dev = prepare("gather", {&in, &index, &out});
  launch_gather(kv(in), static_cast<int>(dim), kv(index), kv(out), stream(dev));
  check_launch("gather", dev);
}

void scatter_add(const View& out, int64_t dim, const View& index, const View& src) {
  if (index.numel() == 0) return;
  const int dev = prepare("scatter_add", {&out, &index, &src});
  launch_scatter_add(kv(out), static_cast<int>(dim), kv(index), kv(src), stream(dev));
  check_launch("scatter_add", dev);
}

void index_select(const View& in, int64_t dim, const View& index, const View& out) {
  if (out.numel() == 0) return;
  const int dev = prepare("index_select", {&in, &index, &out});
  launch_index_select(kv(in), static_cast<int>(dim), kv(index), kv(out), stream(dev));
  check_launch("index_select", dev);
}

void index_add(const View& out, int64_t dim, const View& index, const View& src) {
  if (src.numel() == 0) return;
  const int dev = prepare("index_add", {&out, &index, &src});
  launch_index_add(kv(out), static_cast<int>(dim), kv(index), kv(src), stream(dev));
  check_launch("index_add", dev);
}

void random(RandomKind kind, const View& out, uint64_t seed, uint64_t offset, double a, double b) {
  if (out.numel() == 0) return;
  const int dev = prepare("random", {&out});
  launch_random(static_cast<KRandom>(kind), kv(out), seed, offset, a, b, stream(dev));
  check_launch("random", dev);
}

// ---------------------------------------------------------------- sliding windows
KWindow kwin(const Window2d& w) {
  return KWindow{{w.kernel[0], w.kernel[1]}, {w.dilation[0], w.dilation[1]}, {w.padding[0], w.padding[1]},
                 {w.stride[0], w.stride[1]}, {w.blocks[0], w.blocks[1]}};
}

void im2col(const View& in, const View& out, const Window2d& w) {
  if (out.numel() == 0) return;
  const int dev = prepare("im2col", {&in, &out});
  launch_im2col(kv(in), kv(out), kwin(w), stream(dev));
  check_launch("im2col", dev);
}

void col2im(const View& cols, const View& out, const Window2d& w) {
  if (out.numel() == 0) return;
  const int dev = prepare("col2im", {&cols, &out});
  launch_col2im(kv(cols), kv(out), kwin(w), stream(dev));
  check_launch("col2im", dev);
}

KView kv_optional(const View& v) { return v.data ? kv(v) : KView{}; }

KScan kscan(const SelectiveScanTensors& t, const SelectiveScanSpec& spec) {
  return {kv(t.u), kv(t.delta), kv(t.A), kv(t.B), kv(t.C), kv_optional(t.D), kv_optional(t.z), kv_optional(t.delta_bias),
          spec.delta_softplus, spec.chunk};
}

// An absent operand (data == nullptr) as an empty one, which prepare() skips.
const View* present(const View& v) {
  static const int64_t zero[1] = {0};
  static const View none{nullptr, DType::Float32, std::span<const int64_t>(zero, 1), std::span<const int64_t>(zero, 1)};
  return v.data ? &v : &none;
}

void selective_scan_forward(const SelectiveScanTensors& in, const SelectiveScanSpec& spec, const View& out,
                            const View& last_state, const View& checkpoints) {
  const char* op = "selective_scan";
  EMBER_CHECK(in.A.shape[1] <= kScanMaxState, op, "the CUDA kernel holds at most {} state numbers per channel; got N = {}",
              kScanMaxState, in.A.shape[1]);
  if (out.numel() == 0 && last_state.numel() == 0) return;
  const int dev = prepare(op, {&in.u, &in.delta, &in.A, &in.B, &in.C, present(in.D), present(in.z),
                               present(in.delta_bias), &out, &last_state, &checkpoints});
  launch_selective_scan_forward(kscan(in, spec), kv(out), kv(last_state), kv(checkpoints), stream(dev));
  check_launch(op, dev);
}

void selective_scan_backward(const SelectiveScanTensors& in, const SelectiveScanSpec& spec, const View& checkpoints,
                             const View& grad_out, const View& grad_last_state, const SelectiveScanTensors& grads) {
  const char* op = "selective_scan_backward";
  EMBER_CHECK(in.A.shape[1] <= kScanMaxState, op, "the CUDA kernel holds at most {} state numbers per channel; got N = {}",
              kScanMaxState, in.A.shape[1]);
  const int dev = prepare(op, {&in.u, &in.delta, &in.A, &in.B, &in.C, present(in.D), present(in.z),
                               present(in.delta_bias), &checkpoints, &grad_out, present(grad_last_state), &grads.u,
                               &grads.delta, &grads.A, &grads.B, &grads.C, present(grads.D), present(grads.z),
                               present(grads.delta_bias)});
  const KScan s = kscan(in, spec);
  DeviceBuffer scratch(selective_scan_scratch_bytes(s), dev);
  launch_selective_scan_backward(s, kv(checkpoints), kv(grad_out), kv_optional(grad_last_state), kscan(grads, spec),
                                 scratch.get(), stream(dev));
  check_launch(op, dev);
}

KAttention kattention(const View& q, const View& k, const View& v, const AttentionSpec& spec) {
  return {kv(q), kv(k), kv(v), spec.scale, spec.window_left, spec.window_right, kv_optional(spec.mask),
          kv_optional(spec.layout), spec.block, spec.dropout, spec.dropout_seed, spec.dropout_offset};
}

void attention_forward(const View& q, const View& k, const View& v, const AttentionSpec& spec, const View& out,
                       const View& lse) {
  const char* op = "flash_attention";
  EMBER_CHECK(is_floating(q.dtype), op, "expected floating-point q, k, v, got {}", q.dtype);
  const int dev = prepare(op, {&q, &k, &v, present(spec.mask), present(spec.layout), &out, &lse});
  const KAttention a = kattention(q, k, v, spec);
  DeviceBuffer scratch(attention_forward_scratch_bytes(a), dev);
  launch_attention_forward(a, kv(out), kv(lse), scratch.get(), stream(dev));
  check_launch(op, dev);
}

void attention_backward(const View& q, const View& k, const View& v, const View& out, const View& lse,
                        const View& grad_out, const AttentionSpec& spec, const View& grad_q, const View& grad_k,
                        const View& grad_v) {
  const char* op = "flash_attention_backward";
  EMBER_CHECK(is_floating(q.dtype), op, "expected floating-point q, k, v, got {}", q.dtype);
  const int dev = prepare(op, {&q, &k, &v, &out, &lse, &grad_out, present(spec.mask), present(spec.layout), &grad_q,
                               &grad_k, &grad_v});
  const KAttention a = kattention(q, k, v, spec);
  DeviceBuffer scratch(attention_backward_scratch_bytes(a), dev);
  launch_attention_backward(a, kv(out), kv(lse), kv(grad_out), kv(grad_q), kv(grad_k), kv(grad_v), scratch.get(),
                            stream(dev));
  check_launch(op, dev);
}

// The chunk size is the CPU kernel's blocking; the CUDA kernel runs the recurrence position by
// position, so it has no use for it.
void causal_linear_attention_forward(const View& fq, const View& fk, const View& v, double eps, int64_t /*chunk*/,
                                     const View& out, const View& den) {
  const char* op = "causal_linear_attention";
  EMBER_CHECK(is_floating(fq.dtype), op, "expected floating-point inputs, got {}", fq.dtype);
  const int dev = prepare(op, {&fq, &fk, &v, &out, &den});
  DeviceBuffer scratch(causal_linear_attention_scratch_bytes(kv(fq), kv(v)), dev);
  launch_causal_linear_attention_forward(kv(fq), kv(fk), kv(v), eps, kv(out), kv(den), scratch.get(), stream(dev));
  check_launch(op, dev);
}

void causal_linear_attention_backward(const View& fq, const View& fk, const View& v, const View& out,
                                      const View& den, const View& grad_out, int64_t /*chunk*/, const View& grad_fq,
                                      const View& grad_fk, const View& grad_v) {
  const char* op = "causal_linear_attention_backward";
  EMBER_CHECK(is_floating(fq.dtype), op, "expected floating-point inputs, got {}", fq.dtype);
  const int dev = prepare(op, {&fq, &fk, &v, &out, &den, &grad_out, &grad_fq, &grad_fk, &grad_v});
  DeviceBuffer scratch(causal_linear_attention_scratch_bytes(kv(fq), kv(v)), dev);
  launch_causal_linear_attention_backward(kv(fq), kv(fk), kv(v), kv(out), kv(den), kv(grad_out), kv(grad_fq),
                                          kv(grad_fk), kv(grad_v), scratch.get(), stream(dev));
  check_launch(op, dev);
}

void max_pool2d(const View& in, const View& out, const View& indices, const Window2d& w) {
  EMBER_CHECK(is_floating(in.dtype), "max_pool2d", "expected a floating-point tensor, got {}", in.dtype);
  if (out.numel() == 0) return;
  const int dev = prepare("max_pool2d", {&in, &out, &indices});
  launch_max_pool2d(kv(in), kv(out), kv(indices), kwin(w), stream(dev));
  check_launch("max_pool2d", dev);
}

void adam_step(const View& param, const View& grad, const View& exp_avg, const View& exp_avg_sq,
               const View& max_exp_avg_sq, const AdamSpec& spec) {
  const char* op = "adam_step";
  EMBER_CHECK(param.dtype == DType::Float32 || param.dtype == DType::Float64, op,
              "expected float32 or float64 tensors, got {}", param.dtype);
  const int dev = spec.amsgrad ? prepare(op, {&param, &grad, &exp_avg, &exp_avg_sq, &max_exp_avg_sq})
                               : prepare(op, {&param, &grad, &exp_avg, &exp_avg_sq});
  const KAdam k{.beta1 = spec.beta1, .beta2 = spec.beta2, .eps = spec.eps, .weight_decay = spec.weight_decay,
                .decay_factor = spec.decay_factor, .decoupled = spec.decoupled, .amsgrad = spec.amsgrad,
                .step_size = spec.step_size, .bias2_sqrt = spec.bias2_sqrt};
  launch_adam_step(kv(param), kv(grad), kv(exp_avg), kv(exp_avg_sq), spec.amsgrad ? kv(max_exp_avg_sq) : KView{}, k,
                   stream(dev));
  check_launch(op, dev);
}

void check_rows(const char* op, DType dtype) {
  EMBER_CHECK(dtype == DType::Float32 || dtype == DType::Float64, op, "expected float32 or float64 rows, got {}", dtype);
}
// An optional operand (weight, bias, a gradient not wanted): absent when its data is null.
KView optional_kv(const View& v) { return v.data ? kv(v) : KView{}; }

void softmax_forward(const View& in, const View& out, const SoftmaxSpec& spec) {
  const bool widens = out.dtype == DType::Float32 && is_16bit_float(in.dtype);
  EMBER_CHECK(is_floating(in.dtype) && (out.dtype == in.dtype || widens), "softmax",
              "writes floating-point rows in their dtype (or float32 for 16-bit rows), got {} to {}", in.dtype, out.dtype);
  if (in.numel() == 0) return;
  const int dev = prepare("softmax", {&in, &out});
  launch_softmax(kv(in), kv(out), KSoftmax{spec.scale, spec.left, spec.right, spec.empty_rows_zero}, stream(dev));
  check_launch("softmax", dev);
}

void softmax_backward(const View& y, const View& grad_out, const View& grad_in, double scale) {
  const bool narrows = y.dtype == DType::Float32 && is_16bit_float(grad_in.dtype);
  EMBER_CHECK(is_floating(y.dtype) && grad_out.dtype == y.dtype && (grad_in.dtype == y.dtype || narrows),
              "softmax_backward", "expected y and grad_out of one floating dtype and grad_in in it (or 16-bit for "
              "float32 y), got {}, {}, {}", y.dtype, grad_out.dtype, grad_in.dtype);
  if (y.numel() == 0) return;
  const int dev = prepare("softmax_backward", {&y, &grad_out, &grad_in});
  launch_softmax_backward(kv(y), kv(grad_out), kv(grad_in), scale, stream(dev));
  check_launch("softmax_backward", dev);
}

void layer_norm_forward(const View& x, const View& weight, const View& bias, double eps, const View& y,
                        const View& mean, const View& rstd) {
  check_rows("layer_norm", x.dtype);
  if (x.numel() == 0) return;
  const int dev = prepare("layer_norm", {&x, &y, &mean, &rstd});
  launch_layer_norm(kv(x), optional_kv(weight), optional_kv(bias), eps, kv(y), kv(mean), kv(rstd), stream(dev));
  check_launch("layer_norm", dev);
}

void layer_norm_backward(const View& grad_y, const View& x, const View& weight, const View& mean, const View& rstd,
                         const View& grad_x, const View& grad_weight, const View& grad_bias) {
  check_rows("layer_norm_backward", x.dtype);
  if (x.numel() == 0) return;
  const int dev = prepare("layer_norm_backward", {&grad_y, &x, &mean, &rstd, &grad_x});
  launch_layer_norm_backward(kv(grad_y), kv(x), optional_kv(weight), kv(mean), kv(rstd), kv(grad_x),
                             optional_kv(grad_weight), optional_kv(grad_bias), stream(dev));
  check_launch("layer_norm_backward", dev);
}

}  // namespace

// In cuda_matmul.cpp.
void matmul(const View& a, const View& b, const View& out, double alpha, double beta);
// In cuda_fft.cpp (cuFFT).
void fft(const View& in, const View& out, bool inverse);

const Backend& backend_table() {
  static const Backend table{
      .name = [] {
        if (!cuda::is_available()) return std::string("cuda (built; no device found)");
        return fmt::format("cuda ({} device(s): {})", cuda::device_count(), cuda::device_name(0));
      },
      .allocate = [](size_t nbytes, Device device) { return cuda::device_allocate(nbytes, device.index); },
      .deallocate = [](void* p, size_t nbytes, Device device) { cuda::device_deallocate(p, nbytes, device.index); },
      .fill = cuda::fill,
      .copy = cuda::copy,
      .unary = cuda::unary,
      .binary = cuda::binary,
      .where = cuda::where,
      .reduce = cuda::reduce,
      .matmul = cuda::matmul,
      .cumulative = cuda::cumulative,
      .gather = cuda::gather,
      .scatter_add = cuda::scatter_add,
      .index_select = cuda::index_select,
      .index_add = cuda::index_add,
      .random = cuda::random,
      .index_range = cuda::index_range,
      .has_nonfinite = cuda::has_nonfinite,
      .im2col = cuda::im2col,
      .col2im = cuda::col2im,
      .max_pool2d = cuda::max_pool2d,
      // Not on CUDA yet: the pool backward runs scatter_add, conv2d im2col + GEMM.
      .max_pool2d_backward = nullptr,
      .conv2d_forward = nullptr,
      .conv2d_backward_data = nullptr,
      .conv2d_backward_weights = nullptr,
      .attention_forward = cuda::attention_forward,
      .attention_backward = cuda::attention_backward,
      .causal_linear_attention_forward = cuda::causal_linear_attention_forward,
      .causal_linear_attention_backward = cuda::causal_linear_attention_backward,
      .selective_scan_forward = cuda::selective_scan_forward,
      .selective_scan_backward = cuda::selective_scan_backward,
      .fft = cuda::fft,
      .adam_step = cuda::adam_step,
      .softmax_forward = cuda::softmax_forward,
      .softmax_backward = cuda::softmax_backward,
      .layer_norm_forward = cuda::layer_norm_forward,
      .layer_norm_backward = cuda::layer_norm_backward,
      .batch_norm_forward = nullptr,  // ops/ runs batch norm as broadcast ops on the device
      .batch_norm_backward = nullptr,
      .rotary = nullptr,
  };
  return table;
}

}  // namespace cuda
}  // namespace ember
