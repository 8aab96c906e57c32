// Every entry of the op table, tried as a careless user would: an undefined input, a 0-element input,
// and a saved input edited in place between forward and backward. Each must give a clear ember::Error
// or the right result, never a crash or a silently wrong gradient.
#include <catch2/catch.hpp>

#include <optional>
#include <string>

#include "tests/ops/op_table.h"

using namespace ember;
using namespace ember::testing;

namespace {

// A fresh leaf with t's values (so one case's in-place edit does not leak into the next).
Tensor fresh(const Tensor& t) {
  if (!t.defined()) return t;
  Tensor c = t.detach().clone();
  if (t.requires_grad()) c.requires_grad_();
  return c;
}

Inputs fresh(const Inputs& in) {
  Inputs out;
  for (const Tensor& t : in) out.push_back(fresh(t));
  return out;
}

std::vector<Tensor> differentiable(const Inputs& in) {
  std::vector<Tensor> out;
  for (const Tensor& t : in)
    if (t.defined() && t.requires_grad()) out.push_back(t);
  return out;
}

// Gradients of sum(out * weights) with a fixed, non-uniform weighting (so that a permuted gradient
// shows), or an empty list when out does not require grad.
std::vector<Tensor> gradients(const Tensor& out, const Inputs& in) {
  std::vector<Tensor> leaves = differentiable(in);
  if (leaves.empty() || !out.requires_grad()) return {};
  Tensor w = arange(0, static_cast<double>(out.numel()), 1, {.dtype = out.dtype()}).reshape(out.shape()) * 0.37 + 1;
  return grad({out}, leaves, {w}, {.allow_unused = true});
}

// The base name of a table entry: "gather(dim=1)" -> "gather".
std::string base_name(const std::string& entry) { return entry.substr(0, entry.find_first_of("( ")); }

// Edits t in place so that its values change: floats shift, integers jump far out of range, bools
// flip.
void edit_in_place(Tensor& t) {
  NoGradGuard no_grad;
  if (t.is_floating_point()) {
    t.add_(Scalar(0.5));
  } else if (t.dtype() == DType::Bool) {
    t.copy_(logical_not(t));
  } else {
    t.fill_(int64_t{1} << 30);
  }
}

// Inputs an op documents as optional, where an undefined tensor means "none" (PyTorch's None),
// with the value that "none" stands for: 0 for a bias, 1 for a weight.
std::optional<double> neutral_value(const std::string& entry, size_t input) {
  auto starts = [&](const char* prefix) { return entry.rfind(prefix, 0) == 0; };
  if (entry == "linear" && input == 2) return 0.0;
  if ((starts("conv2d(stride 2, padding 1, bias)") || starts("conv_transpose2d(")) && input == 2) return 0.0;
  if (starts("batch_norm(training") || starts("layer_norm") || starts("group_norm") || starts("instance_norm")) {
    if (input == 1) return 1.0;
    if (input == 2) return 0.0;
  }
  if (starts("batch_norm(eval")) {
    if (input == 3) return 1.0;
    if (input == 4) return 0.0;
  }
  if (starts("rms_norm") && input == 1) return 1.0;
  return std::nullopt;
}

}  // namespace

TEST_CASE("every op in the table refuses an undefined input with an ember::Error", "[ops][robustness]") {
  for (const OpEntry& entry : op_table()) {
    const OpSample s = entry.samples().front();
    for (size_t i = 0; i < s.inputs.size(); ++i) {
      INFO(entry.name << ": input " << i << " undefined");
      Inputs in = fresh(s.inputs);
      in[i] = Tensor();
      try {
        Tensor out = entry.fn(in);
        if (std::optional<double> neutral = neutral_value(entry.name, i)) {
          // undefined means absent: the same as a bias of zeros or a weight of ones
          Inputs with_neutral = fresh(s.inputs);
          with_neutral[i] = full(s.inputs[i].shape(), *neutral, {.dtype = s.inputs[i].dtype()});
          CHECK(allclose(out, entry.fn(with_neutral), 1e-12, 1e-12));
          continue;
        }
        FAIL_CHECK("accepted an undefined input");
      } catch (const Error& e) {
        const std::string what = e.what();
        CHECK(what.find("undefined") != std::string::npos);
        CHECK(what.rfind("[", 0) == 0);
      } catch (const std::exception& e) {
        FAIL_CHECK(std::string("threw something other than ember::Error: ") + e.what());
      }
    }
  }
}

TEST_CASE("every op in the table handles a 0-element input: an error or a consistent result",
          "[ops][robustness]") {
  for (const OpEntry& entry : op_table()) {
    const OpSample s = entry.samples().front();
    if (s.inputs.empty() || !s.inputs[0].defined() || s.inputs[0].dim() == 0) continue;
    const Shape first = s.inputs[0].shape();
    for (size_t d = 0; d < first.size(); ++d) {
      INFO(entry.name << ": dim " << d << " of the inputs set to 0");
      // Zero the same (right-aligned) dim in every input that has it with the same size.
      Inputs in;
      for (const Tensor& t : s.inputs) {
        Shape shape = t.shape();
        const int64_t k = static_cast<int64_t>(d) - static_cast<int64_t>(first.size()) + t.dim();
        if (k >= 0 && shape[k] == first[d]) shape[k] = 0;
        Tensor e = zeros(shape, {.dtype = t.dtype()});
        if (t.requires_grad()) e.requires_grad_();
        in.push_back(e);
      }
      try {
        Tensor out = entry.fn(in);
        REQUIRE(out.defined());
        std::vector<Tensor> leaves = differentiable(in);
        std::vector<Tensor> grads = gradients(out, in);
        for (size_t j = 0; j < grads.size(); ++j) {
          if (!grads[j].defined()) continue;
          CHECK(grads[j].shape() == leaves[j].shape());
          if (grads[j].numel() > 0) CHECK(all(isfinite(grads[j])));
        }
      } catch (const Error& e) {
        CHECK(std::string(e.what()).rfind("[", 0) == 0);
      } catch (const std::exception& e) {
        FAIL_CHECK(std::string("threw something other than ember::Error: ") + e.what());
      }
    }
  }
}

TEST_CASE("every op in the table: a saved input edited in place before backward is an error, or unused",
          "[ops][robustness]") {
  for (const OpEntry& entry : op_table()) {
    const OpSample s = entry.samples().front();
    Inputs ref_in = fresh(s.inputs);
    std::vector<Tensor> reference;
    {
      Tensor out = entry.fn(ref_in);
      reference = gradients(out, ref_in);
    }
    if (reference.empty()) continue;
    for (size_t i = 0; i < s.inputs.size(); ++i) {
      if (!s.inputs[i].defined() || s.inputs[i].numel() == 0) continue;
      INFO(entry.name << " / " << s.variant << ": input " << i << " edited after forward");
      Inputs in = fresh(s.inputs);
      Tensor out = entry.fn(in);
      edit_in_place(in[i]);
      try {
        std::vector<Tensor> got = gradients(out, in);
        // Backward accepted the edit, so it must not have read the edited values: same gradients.
        REQUIRE(got.size() == reference.size());
        for (size_t j = 0; j < got.size(); ++j) {
          INFO("gradient " << j);
          REQUIRE(got[j].defined() == reference[j].defined());
          if (got[j].defined()) CHECK(all(eq(got[j], reference[j])));
        }
      } catch (const Error& e) {
        CHECK_THAT(e.what(), Catch::Contains("modified by an in-place operation"));
      }
    }
  }
}

TEST_CASE("tensor methods and ops on an undefined tensor are errors naming them", "[ops][robustness]") {
  Tensor u;
  CHECK_THROWS_WITH(u.dim(), Catch::StartsWith("[dim]") && Catch::Contains("undefined"));
  CHECK_THROWS_WITH(u.shape(), Catch::StartsWith("[shape]"));
  CHECK_THROWS_WITH(u.numel(), Catch::StartsWith("[numel]"));
  CHECK_THROWS_WITH(u.size(0), Catch::StartsWith("[size]"));
  CHECK_THROWS_WITH(u.dtype(), Catch::StartsWith("[dtype]"));
  CHECK_THROWS_WITH(u.device(), Catch::StartsWith("[device]"));
  CHECK_THROWS_WITH(u.requires_grad(), Catch::StartsWith("[requires_grad]"));
  CHECK_THROWS_WITH(u.grad(), Catch::StartsWith("[grad]"));
  CHECK_THROWS_WITH(u.item<float>(), Catch::Contains("undefined"));
  CHECK_THROWS_WITH(u.sum(), Catch::Contains("undefined"));
  CHECK_THROWS_WITH(u.to(DType::Float64), Catch::Contains("undefined"));
  CHECK_THROWS_WITH(u.contiguous(), Catch::Contains("undefined"));
  CHECK_THROWS_WITH(u.backward(), Catch::Contains("undefined"));
  CHECK_THROWS_WITH(add(u, ones({2})), Catch::StartsWith("[add]") && Catch::Contains("undefined"));
  CHECK_THROWS_WITH(add(ones({2}), u), Catch::StartsWith("[add]") && Catch::Contains("undefined"));
  // Found by a red-team review: these named the accessor they reached first ("[shape]", "[dim]").
  CHECK_THROWS_WITH(u.reshape({2}), Catch::StartsWith("[reshape]") && Catch::Contains("undefined"));
  CHECK_THROWS_WITH(transpose(u, 0, 1), Catch::StartsWith("[transpose]") && Catch::Contains("undefined"));
  CHECK_THROWS_WITH(unsqueeze(u, 0), Catch::StartsWith("[unsqueeze]") && Catch::Contains("undefined"));
  CHECK_THROWS_WITH(pad(u, std::vector<int64_t>{1, 1}), Catch::StartsWith("[pad]") && Catch::Contains("undefined"));
  CHECK_THROWS_WITH(relu(u), Catch::StartsWith("[relu]") && Catch::Contains("undefined"));
  CHECK_THROWS_WITH(equal(u, ones({2})), Catch::StartsWith("[equal]") && Catch::Contains("undefined"));
  Tensor target = ones({2});
  CHECK_THROWS_WITH(target.copy_(u), Catch::StartsWith("[copy_]") && Catch::Contains("undefined"));
  CHECK_THROWS_WITH(target.add_(u), Catch::StartsWith("[add_]") && Catch::Contains("undefined"));
  CHECK_THROWS_WITH(target.mul_(u), Catch::StartsWith("[mul_]") && Catch::Contains("undefined"));
  // The case users meet: the norm of a gradient that zero_grad() reset.
  Tensor w = ones({3}).requires_grad_();
  (w * 2).sum().backward();
  w.zero_grad();
  CHECK_THROWS_WITH(norm(w.grad()), Catch::StartsWith("[norm]") && Catch::Contains("undefined"));
  CHECK(u.str() == "Tensor(undefined)");
}
