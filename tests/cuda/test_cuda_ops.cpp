// Every op of the op table (tests/ops/op_table.h), run on the CPU and on CUDA with the same inputs,
// forward and backward, in float64 and float32. The CPU backend is the reference: float32 results
// must agree within 1e-5 (relative to the result's scale) for elementwise ops, whose arithmetic is
// the same on both, and within 1e-3 for everything that reduces (sums, GEMM, softmax, norms, conv,
// and the gradients of broadcast operands, which sum); float64 within 1e-9; integer and bool results
// exactly.
#include <catch2/catch.hpp>

#include <sstream>

#include "tests/cuda/helpers.h"
#include "tests/ops/op_table.h"

using namespace ember;
using namespace ember::testing;

namespace {

Tensor cast_input(const Tensor& t, DType dtype) {
  if (!t.is_floating_point() || t.dtype() == dtype) return t.detach();
  // Keep the layout: cast the strided leaf's whole region, then view it the same way.
  if (t.is_contiguous() || t.numel() == 0) return t.detach().to(dtype);
  int64_t span = 1;
  for (int64_t d = 0; d < t.dim(); ++d) span += (t.size(d) - 1) * t.stride(d);
  const std::vector<int64_t> flat_shape{span}, flat_stride{1};
  Tensor region = t.detach().as_strided(flat_shape, flat_stride, t.offset()).to(dtype);
  return region.as_strided(t.shape(), t.strides(), 0);
}

// Fixed weights for the backward pass: loss = sum(out * w), so every output element gets its own
// gradient (a plain sum would give every element the same one).
Tensor weights_like(const Tensor& out) {
  std::vector<double> w(static_cast<size_t>(out.numel()));
  for (size_t i = 0; i < w.size(); ++i) w[i] = std::sin(0.7 * static_cast<double>(i) + 0.3);
  return from_vector(w, out.shape(), {.dtype = out.dtype()});
}

struct Outcome {
  std::vector<std::string> failures;
  int compared = 0;
};

void run_sample(const OpEntry& entry, const OpSample& sample, DType dtype, Outcome& outcome) {
  std::vector<Tensor> cpu_in, cuda_in, cpu_leaves, cuda_leaves;
  for (const Tensor& x : sample.inputs) {
    Tensor c = cast_input(x, dtype);
    Tensor g = to_cuda_like(c);
    if (x.requires_grad() && c.is_floating_point()) {
      c.requires_grad_();
      g.requires_grad_();
      cpu_leaves.push_back(c);
      cuda_leaves.push_back(g);
    }
    cpu_in.push_back(c);
    cuda_in.push_back(g);
  }
  const std::string where = entry.name + " [" + sample.variant + ", " + std::string(dtype_name(dtype)) + "]";
  // Elementwise ops (those with a scalar reference) compute each output element alone, the same way
  // on both backends, broadcast samples included; everything else sums somewhere.
  const bool reduces = !entry.reference;
  const double rtol = dtype == DType::Float64 ? 1e-9 : (reduces ? 1e-3 : 1e-5);
  try {
    Tensor want = entry.fn(cpu_in);
    Tensor got = entry.fn(cuda_in);
    if (!got.device().is_cuda()) {
      outcome.failures.push_back(where + ": output is on " + got.device().str());
      return;
    }
    ++outcome.compared;
    if (std::string msg = compare_tensors(got, want, rtol); !msg.empty()) {
      outcome.failures.push_back(where + " forward: " + msg);
      return;
    }
    if (cpu_leaves.empty() || !want.is_floating_point() || !want.requires_grad() || want.numel() == 0) return;
    const Tensor w = weights_like(want);
    const std::vector<Tensor> gw = grad({sum(want * w)}, cpu_leaves, {}, {.allow_unused = true});
    const std::vector<Tensor> gg = grad({sum(got * w.to(Device::cuda()))}, cuda_leaves, {}, {.allow_unused = true});
    // Gradients sum over whatever the op broadcast or reduced: the reduction tolerance.
    const double grad_rtol = dtype == DType::Float64 ? 1e-9 : 1e-3;
    for (size_t i = 0; i < gw.size(); ++i) {
      if (gw[i].defined() != gg[i].defined()) {
        outcome.failures.push_back(where + " backward: gradient " + std::to_string(i) + " defined on one device only");
        continue;
      }
      if (!gw[i].defined()) continue;
      if (!gg[i].device().is_cuda()) outcome.failures.push_back(where + " backward: gradient on the CPU");
      if (std::string msg = compare_tensors(gg[i], gw[i], grad_rtol); !msg.empty())
        outcome.failures.push_back(where + " backward, input " + std::to_string(i) + ": " + msg);
    }
  } catch (const std::exception& e) {
    outcome.failures.push_back(where + ": threw " + e.what());
  }
}

}  // namespace

TEST_CASE("every op of the op table agrees with the CPU backend, forward and backward", "[cuda][ops]") {
  EMBER_REQUIRE_CUDA();
  Outcome outcome;
  int entries = 0;
  for (const OpEntry& entry : op_table()) {
    ++entries;
    for (const OpSample& sample : entry.samples())
      for (DType dtype : {DType::Float64, DType::Float32}) run_sample(entry, sample, dtype, outcome);
  }
  std::ostringstream report;
  for (const std::string& f : outcome.failures) report << "  " << f << "\n";
  INFO(outcome.failures.size() << " mismatches over " << outcome.compared << " comparisons of " << entries
                               << " ops:\n" << report.str());
  CHECK(outcome.compared > 2 * entries);  // nearly every sample ran (some ops have one sample)
  CHECK(outcome.failures.empty());
}

TEST_CASE("shape cases (empty and 0-dim inputs) give the same shapes on CUDA", "[cuda][ops]") {
  EMBER_REQUIRE_CUDA();
  std::vector<std::string> failures;
  for (const OpEntry& entry : op_table()) {
    if (!entry.shape_cases) continue;
    for (const ShapeCase& c : entry.shape_cases()) {
      std::vector<Tensor> in;
      for (const Tensor& x : c.inputs) in.push_back(to_cuda_like(x.detach()));
      try {
        const Tensor out = entry.fn(in);
        if (out.shape() != c.expected || !out.device().is_cuda())
          failures.push_back(entry.name + " [" + c.variant + "]: " + shape_str(out.shape()) + " on " + out.device().str());
      } catch (const std::exception& e) {
        failures.push_back(entry.name + " [" + c.variant + "]: threw " + e.what());
      }
    }
  }
  std::ostringstream report;
  for (const std::string& f : failures) report << "  " << f << "\n";
  INFO(report.str());
  CHECK(failures.empty());
}
