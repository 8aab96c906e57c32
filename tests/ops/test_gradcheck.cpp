// Every entry of the op table, every sample: gradients against central finite differences
// (gradcheck), and gradients of gradients (gradgradcheck), in float64 with the default tolerances.
#include <catch2/catch.hpp>

#include "tests/ops/op_table.h"
#include <ember/testing/gradcheck.h>

using namespace ember;
using namespace ember::testing;

namespace {

std::string shapes_of(const Inputs& in) {
  std::string s;
  for (const Tensor& t : in) s += (s.empty() ? "" : ", ") + shape_str(t.shape());
  return s;
}

// Runs check, turning an exception into a failure message (so one op's error does not hide others).
template <class Check>
std::string run_check(Check&& check) {
  try {
    return check();
  } catch (const std::exception& e) {
    return std::string("threw: ") + e.what();
  }
}

}  // namespace

TEST_CASE("every op in the table passes gradcheck and gradgradcheck", "[ops][gradcheck]") {
  for (const OpEntry& entry : op_table()) {
    DYNAMIC_SECTION(entry.name) {
      std::vector<OpSample> samples = entry.samples();
      REQUIRE(!samples.empty());
      for (const OpSample& s : samples) {
        INFO(entry.name << " / " << s.variant << " (inputs " << shapes_of(s.inputs) << ")");
        CHECK(run_check([&] { return gradcheck(entry.fn, s.inputs); }) == "");
        CHECK(run_check([&] { return gradgradcheck(entry.fn, s.inputs); }) == "");
      }
    }
  }
}

TEST_CASE("the op table covers the ops it promises", "[ops][table]") {
  // A guard against entries silently disappearing from the table.
  std::vector<std::string> names;
  for (const OpEntry& e : op_table()) names.push_back(e.name);
  auto has_prefix = [&](const std::string& p) {
    for (const std::string& n : names)
      if (n.rfind(p, 0) == 0) return true;
    return false;
  };
  for (const char* op : {"add",
                         "sub",
                         "mul",
                         "div",
                         "pow(tensor, tensor)",
                         "pow(tensor, 3)",
                         "neg",
                         "abs",
                         "exp",
                         "log",
                         "log1p",
                         "expm1",
                         "sqrt",
                         "rsqrt",
                         "sin",
                         "cos",
                         "tanh",
                         "sigmoid",
                         "relu",
                         "leaky_relu",
                         "gelu",
                         "gelu(tanh)",
                         "silu",
                         "softplus",
                         "elu",
                         "clamp",
                         "minimum",
                         "maximum",
                         "atan2",
                         "where",
                         "sum",
                         "mean",
                         "var",
                         "std",
                         "amax",
                         "amin",
                         "max(dim",
                         "min(dim",
                         "logsumexp",
                         "norm(p=1",
                         "norm(p=2",
                         "norm(p=3",
                         "norm(p=inf",
                         "prod",
                         "cumsum",
                         "matmul",
                         "bmm",
                         "outer",
                         "dot",
                         "linear",
                         "linear(no bias)",
                         "reshape",
                         "permute",
                         "transpose",
                         "expand",
                         "squeeze",
                         "unsqueeze",
                         "slice",
                         "narrow",
                         "select",
                         "flatten",
                         "unflatten",
                         "as_strided",
                         "diagonal",
                         "cat",
                         "stack",
                         "split",
                         "chunk",
                         "repeat",
                         "flip",
                         "tril",
                         "triu",
                         "pad([1",
                         "pad([-1",
                         "index_select",
                         "gather",
                         "scatter_add",
                         "index_add",
                         "masked_fill",
                         "embedding",
                         "softmax",
                         "log_softmax",
                         "mse_loss",
                         "l1_loss",
                         "cross_entropy",
                         "cross_entropy(ignore_index",
                         "cross_entropy(label_smoothing",
                         "cross_entropy(weight",
                         "cross_entropy(probabilities",
                         "nll_loss",
                         "binary_cross_entropy",
                         "binary_cross_entropy_with_logits",
                         "binary_cross_entropy_with_logits(pos_weight",
                         "conv2d",
                         "conv_transpose2d",
                         "max_pool2d",
                         "avg_pool2d",
                         "adaptive_avg_pool2d",
                         "interpolate(nearest",
                         "interpolate(bilinear",
                         "batch_norm(training",
                         "batch_norm(eval",
                         "layer_norm",
                         "group_norm",
                         "rms_norm",
                         "linalg.cholesky",
                         "linalg.solve_triangular",
                         "linalg.solve",
                         "linalg.inv",
                         "linalg.det",
                         "linalg.slogdet",
                         "linalg.qr.Q",
                         "linalg.qr.R",
                         "linalg.eigvalsh",
                         "linalg.eigh",
                         "linalg.svdvals",
                         "linalg.svd"}) {
    INFO(op);
    CHECK(has_prefix(op));
  }
}

TEST_CASE("the sample helpers build the layouts they promise", "[ops][table]") {
  const std::vector<double> v = {0, 1, 2, 3, 4, 5};
  for (Layout layout : {Layout::Transposed, Layout::Strided}) {
    INFO("layout " << int(layout));
    Tensor t = make_tensor_from(v, {2, 3}, layout);
    CHECK_FALSE(t.is_contiguous());
    CHECK(t.is_leaf());
    CHECK(t.requires_grad());
    CHECK(t.shape() == Shape{2, 3});
    CHECK(t.to_vector<double>() == v);
    // gradcheck perturbs such a leaf in place and notices a wrong gradient through it
    CHECK(gradcheck([](const Inputs& in) { return in[0] * in[0].detach(); }, {t}) != "");
    CHECK(gradcheck([](const Inputs& in) { return in[0] * in[0]; }, {t}) == "");
  }
  CHECK(make_tensor_from(v, {2, 3}).is_contiguous());
  CHECK(make_tensor_from({7}, {}, Layout::Strided).item<double>() == 7);
  // most entries carry a non-contiguous sample
  int with_noncontiguous = 0, total = 0;
  for (const OpEntry& e : op_table()) {
    ++total;
    bool found = false;
    for (const OpSample& s : e.samples())
      for (const Tensor& x : s.inputs)
        if (x.requires_grad() && !x.is_contiguous()) found = true;
    with_noncontiguous += found;
  }
  CHECK(with_noncontiguous * 10 >= total * 8);
}

TEST_CASE("no op keeps memory alive through a reference cycle in its graph", "[ops][leak]") {
  // Forward under grad mode, then first and second derivatives with create_graph; once every result
  // is dropped, every buffer allocated on the way must have been freed. A node that saves a tensor
  // whose grad_fn is that node (a cycle) keeps both alive forever, most visibly when backward never
  // reaches the node (the detached max inside softmax).
  for (const OpEntry& entry : op_table()) {
    for (const OpSample& s : entry.samples()) {
      INFO(entry.name << " / " << s.variant);
      const size_t before = CpuAllocator::stats().bytes_in_use;
      try {
        Tensor out = entry.fn(s.inputs);
        std::vector<Tensor> wrt;
        for (const Tensor& x : s.inputs)
          if (x.requires_grad()) wrt.push_back(x);
        std::vector<Tensor> g = grad({sum(out)}, wrt, {}, {.create_graph = true, .allow_unused = true});
        Tensor total = zeros({}, {.dtype = DType::Float64});
        for (const Tensor& gi : g)
          if (gi.defined()) total = total + sum(gi * gi);
        if (total.requires_grad()) grad({total}, wrt, {}, {.allow_unused = true});
        Tensor only_forward = entry.fn(s.inputs);  // a graph backward never walks
      } catch (const std::exception& e) {
        FAIL_CHECK("threw: " << e.what());
      }
      CHECK(CpuAllocator::stats().bytes_in_use == before);
    }
  }
}
