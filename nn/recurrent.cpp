#include <ember/nn/recurrent.h>

#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <limits>
#include <utility>
#include <vector>

#include <ember/nn/init.h>
#include <ember/nn/python_repr.h>
#include <ember/ops/ops.h>

namespace ember::nn {
using detail::python_float;
namespace {

const char* kind_name(RecurrentKind kind) {
  switch (kind) {
    case RecurrentKind::RNN: return "RNN";
    case RecurrentKind::LSTM: return "LSTM";
    case RecurrentKind::GRU: return "GRU";
  }
  return "?";
}

// Rows of weight_ih and weight_hh per hidden unit: LSTM's input, forget, cell and output gates,
// GRU's reset, update and new gates, or the one of a plain RNN.
int64_t gate_count(RecurrentKind kind) {
  return kind == RecurrentKind::LSTM ? 4 : kind == RecurrentKind::GRU ? 3 : 1;
}

// The constructor checks common to the layers and the cells (PyTorch's rules for the nonlinearity).
void check_sizes(const std::string& module, RecurrentKind kind, int64_t input_size, int64_t hidden_size,
                 const std::string& nonlinearity) {
  EMBER_CHECK(input_size > 0, module, "input_size must be positive, got {}", input_size);
  EMBER_CHECK(hidden_size > 0, module, "hidden_size must be positive, got {}", hidden_size);
  // (Far beyond any memory, and it keeps the sums and products of sizes below from overflowing.)
  constexpr int64_t kLargest = int64_t{1} << 48;
  EMBER_CHECK(input_size < kLargest && hidden_size < kLargest, module,
              "input_size {} and hidden_size {} must be below 2^48", input_size, hidden_size);
  if (kind == RecurrentKind::RNN)
    EMBER_CHECK(nonlinearity == "tanh" || nonlinearity == "relu", module,
                "nonlinearity must be \"tanh\" or \"relu\", got \"{}\"", nonlinearity);
  else
    EMBER_CHECK(nonlinearity == "tanh", module, "takes no nonlinearity (only RNN does), got \"{}\"", nonlinearity);
}

std::string shape_or_undefined(const Tensor& t) { return t.defined() ? shape_str(t.shape()) : "undefined"; }

// A tensor the module computes with must have its parameters' dtype and device (no implicit casts,
// as PyTorch's matrix products).
void check_like_parameters(const std::string& module, const char* what, const Tensor& t, const Tensor& parameter) {
  EMBER_CHECK(t.dtype() == parameter.dtype(), module, "{} is {} but the parameters are {}", what, t.dtype(),
              parameter.dtype());
  EMBER_CHECK(t.device() == parameter.device(), module, "{} is on {} but the parameters are on {}", what, t.device(),
              parameter.device());
}

// An initial state: undefined (zeros), or of the expected shape, dtype and device.
void check_state(const std::string& module, const char* what, const Tensor& t, const Shape& expected,
                 const Tensor& parameter) {
  if (!t.defined()) return;
  EMBER_CHECK(t.shape() == expected, module, "expected {} of shape {}, got {}", what, shape_str(expected),
              shape_str(t.shape()));
  check_like_parameters(module, what, t, parameter);
}

// One step of the recurrence, shared by the layers and the cells. gi = W_ih x + b_ih is the input's
// part of every gate ([N, gates * hidden], for the layers computed for all steps at once); s holds h
// [N, H_out] and, for LSTM, c [N, hidden]. The equations are PyTorch's (torch.nn's documentation),
// computed in the order of its CPU kernels.
RecurrentState step(RecurrentKind kind, bool relu, const Tensor& gi, const RecurrentState& s, const Tensor& w_hh,
                    const Tensor& b_hh, const Tensor& w_hr) {
  const Tensor gh = linear(s.h, w_hh, b_hh);  // h's part of every gate (an undefined bias adds nothing)
  switch (kind) {
    case RecurrentKind::RNN: {
      const Tensor pre = gi + gh;
      return {relu ? ember::relu(pre) : tanh(pre), {}};
    }
    case RecurrentKind::LSTM: {
      const std::vector<Tensor> g = chunk(gi + gh, 4, -1);  // input, forget, cell, output
      const Tensor c = sigmoid(g[1]) * s.c + sigmoid(g[0]) * tanh(g[2]);
      const Tensor h = sigmoid(g[3]) * tanh(c);
      return {w_hr.defined() ? linear(h, w_hr) : h, c};  // with proj_size, h is projected by weight_hr
    }
    case RecurrentKind::GRU: {
      const std::vector<Tensor> x_part = chunk(gi, 3, -1), h_part = chunk(gh, 3, -1);  // reset, update, new
      const Tensor r = sigmoid(x_part[0] + h_part[0]);
      const Tensor z = sigmoid(x_part[1] + h_part[1]);
      const Tensor n = tanh(x_part[2] + r * h_part[2]);
      return {n + z * (s.h - n), {}};  // (1 - z) n + z h, as PyTorch computes it
    }
  }
  return {};
}

}  // namespace

// ---------------------------------------------------------------- RNN, LSTM, GRU

RecurrentImpl::RecurrentImpl(RecurrentKind kind_, int64_t input_size_, int64_t hidden_size_, RecurrentOptions o)
    : kind(kind_), input_size(input_size_), hidden_size(hidden_size_), options(std::move(o)) {
  const std::string module = type_name();
  check_sizes(module, kind, input_size, hidden_size, options.nonlinearity);
  EMBER_CHECK(options.num_layers > 0, module, "num_layers must be positive, got {}", options.num_layers);
  EMBER_CHECK(options.dropout >= 0 && options.dropout <= 1, module,  // (NaN fails too)
              "dropout should be a probability in [0, 1] (of zeroing an element), got {}", options.dropout);
  EMBER_CHECK(options.proj_size == 0 || kind == RecurrentKind::LSTM, module,
              "proj_size is only supported for LSTM, not RNN or GRU (got proj_size={})", options.proj_size);
  EMBER_CHECK(options.proj_size >= 0, module, "proj_size must be positive, or zero for no projection, got {}",
              options.proj_size);
  EMBER_CHECK(options.proj_size < hidden_size, module, "proj_size ({}) must be smaller than hidden_size ({})",
              options.proj_size, hidden_size);

  const int64_t gates = gate_count(kind) * hidden_size;
  const int64_t h_out = options.proj_size > 0 ? options.proj_size : hidden_size;
  const int64_t directions = options.bidirectional ? 2 : 1;
  // An absurd size (num_layers = 2^31) is refused before a thousand million tensors are made one by
  // one: the parameters' total, bounded above, must count in int64 and be allocatable at once (the
  // reservation is released right away; it touches no page).
  const int64_t widest_input = std::max(input_size, directions * h_out);
  const int64_t weights = checked_numel(module.c_str(), "the parameters", {gates, widest_input + h_out + 2});
  const int64_t projection = checked_numel(module.c_str(), "the parameters", {h_out, hidden_size});
  EMBER_CHECK(weights <= std::numeric_limits<int64_t>::max() - projection, module,
              "input_size {} and hidden_size {} give more parameters than an int64 can count", input_size,
              hidden_size);
  const int64_t per_direction = weights + projection;
  Tensor::empty({checked_numel(module.c_str(), "the parameters", {options.num_layers, directions, per_direction})});
  const double bound = 1 / std::sqrt(static_cast<double>(hidden_size));
  for (int64_t layer = 0; layer < options.num_layers; ++layer) {
    for (int64_t direction = 0; direction < directions; ++direction) {
      Direction& d = directions_.emplace_back();
      const std::string suffix = fmt::format("_l{}{}", layer, direction == 1 ? "_reverse" : "");
      const int64_t layer_input = layer == 0 ? input_size : directions * h_out;
      register_parameter("weight_ih" + suffix, &d.weight_ih, empty({gates, layer_input}));
      register_parameter("weight_hh" + suffix, &d.weight_hh, empty({gates, h_out}));
      if (options.bias) {
        register_parameter("bias_ih" + suffix, &d.bias_ih, empty({gates}));
        register_parameter("bias_hh" + suffix, &d.bias_hh, empty({gates}));
      }
      if (options.proj_size > 0) register_parameter("weight_hr" + suffix, &d.weight_hr, empty({h_out, hidden_size}));
      // PyTorch's reset_parameters: every parameter U(-1/sqrt(hidden), 1/sqrt(hidden)).
      for (Tensor* t : {&d.weight_ih, &d.weight_hh, &d.bias_ih, &d.bias_hh, &d.weight_hr})
        if (t->defined()) init::uniform_(*t, -bound, bound);
    }
  }
}

RecurrentOutput RecurrentImpl::forward(const Tensor& x, const Tensor& h0, const Tensor& c0) {
  const std::string module = type_name();
  const bool lstm = kind == RecurrentKind::LSTM;
  const int64_t directions = options.bidirectional ? 2 : 1, layers = options.num_layers;
  const int64_t states = directions * layers, h_out = options.proj_size > 0 ? options.proj_size : hidden_size;
  EMBER_CHECK(static_cast<int64_t>(directions_.size()) == states, module,
              "num_layers and bidirectional cannot change after construction");
  const Tensor& like = directions_.front().weight_ih;

  EMBER_CHECK(x.defined() && (x.dim() == 3 || x.dim() == 2) && x.size(-1) == input_size, module,
              "expected input [{}, {}] or unbatched [L, {}], got {}", options.batch_first ? "N, L" : "L, N", input_size,
              input_size, shape_or_undefined(x));
  check_like_parameters(module, "the input", x, like);
  const bool batched = x.dim() == 3;
  // An unbatched input [L, H_in] runs as a batch of one, whatever batch_first says (as PyTorch's).
  Tensor seq = batched ? (options.batch_first ? transpose(x, 0, 1) : x) : unsqueeze(x, 1);  // [L, N, H_in]
  const int64_t L = seq.size(0), N = seq.size(1);
  EMBER_CHECK(L > 0, module, "expected a sequence length larger than 0 (as PyTorch), got input {}",
              shape_str(x.shape()));
  const Shape h_shape = batched ? Shape{states, N, h_out} : Shape{states, h_out};
  const Shape c_shape = batched ? Shape{states, N, hidden_size} : Shape{states, hidden_size};
  check_state(module, "h0", h0, h_shape, like);
  EMBER_CHECK(lstm || !c0.defined(), module, "takes no cell state c0 (only LSTM does), got c0 {}",
              shape_str(c0.shape()));
  check_state(module, "c0", c0, c_shape, like);

  // Initial state i (layer-major, forward direction first), [N, ...]: h0's and c0's, or zeros.
  const auto initial = [&](const Tensor& given, int64_t i, int64_t size) {
    if (!given.defined()) return zeros({N, size}, {.dtype = x.dtype(), .device = x.device()});
    return batched ? select(given, 0, i) : unsqueeze(select(given, 0, i), 0);
  };
  const bool relu = options.nonlinearity == "relu";
  std::vector<Tensor> h_n, c_n;
  for (int64_t layer = 0; layer < layers; ++layer) {
    std::vector<Tensor> outputs;  // each direction's h at every step, [L, N, H_out]
    for (int64_t direction = 0; direction < directions; ++direction) {
      const int64_t i = layer * directions + direction;
      const Direction& w = directions_[static_cast<size_t>(i)];
      RecurrentState s{initial(h0, i, h_out), lstm ? initial(c0, i, hidden_size) : Tensor()};
      // The input's part of the gates at every step, one GEMM, then split into steps by unbind: one
      // node whose backward stacks the L step gradients once. (A select per step costs a zeroed
      // [L, N, gates] gradient per step, and their sum: over half of a training step.)
      const std::vector<Tensor> gi = unbind(linear(seq, w.weight_ih, w.bias_ih), 0);
      std::vector<Tensor> hs(static_cast<size_t>(L));
      for (int64_t k = 0; k < L; ++k) {
        const int64_t t = direction == 0 ? k : L - 1 - k;  // the reverse direction runs from the end
        s = step(kind, relu, gi[static_cast<size_t>(t)], s, w.weight_hh, w.bias_hh, w.weight_hr);
        hs[static_cast<size_t>(t)] = s.h;
      }
      outputs.push_back(stack(hs, 0));
      h_n.push_back(s.h);
      if (lstm) c_n.push_back(s.c);
    }
    seq = directions == 1 ? outputs[0] : cat(outputs, 2);
    if (layer + 1 < layers) seq = dropout(seq, options.dropout, training_);  // between layers, training only
  }

  RecurrentOutput out{seq, stack(h_n, 0), lstm ? stack(c_n, 0) : Tensor()};
  if (!batched) {
    out.output = squeeze(out.output, 1);
    out.h_n = squeeze(out.h_n, 1);
    if (lstm) out.c_n = squeeze(out.c_n, 1);
  } else if (options.batch_first) {
    out.output = transpose(out.output, 0, 1);
  }
  return out;
}

std::string RecurrentImpl::type_name() const { return kind_name(kind); }

// PyTorch's: each option only when it differs from its default, in this order (the nonlinearity
// is not shown).
std::string RecurrentImpl::extra_repr() const {
  std::string s = fmt::format("{}, {}", input_size, hidden_size);
  if (options.proj_size != 0) s += fmt::format(", proj_size={}", options.proj_size);
  if (options.num_layers != 1) s += fmt::format(", num_layers={}", options.num_layers);
  if (!options.bias) s += ", bias=False";
  if (options.batch_first) s += ", batch_first=True";
  if (options.dropout != 0) s += ", dropout=" + python_float(options.dropout);
  if (options.bidirectional) s += ", bidirectional=True";
  return s;
}

// ---------------------------------------------------------------- RNNCell, LSTMCell, GRUCell

RecurrentCellImpl::RecurrentCellImpl(RecurrentKind kind_, int64_t input_size_, int64_t hidden_size_, bool bias_,
                                     std::string nonlinearity_)
    : kind(kind_), input_size(input_size_), hidden_size(hidden_size_), bias(bias_),
      nonlinearity(std::move(nonlinearity_)) {
  check_sizes(type_name(), kind, input_size, hidden_size, nonlinearity);
  const int64_t gates = gate_count(kind) * hidden_size;
  register_parameter("weight_ih", &weight_ih, empty({gates, input_size}));
  register_parameter("weight_hh", &weight_hh, empty({gates, hidden_size}));
  if (bias) {
    register_parameter("bias_ih", &bias_ih, empty({gates}));
    register_parameter("bias_hh", &bias_hh, empty({gates}));
  }
  const double bound = 1 / std::sqrt(static_cast<double>(hidden_size));
  for (Tensor* t : {&weight_ih, &weight_hh, &bias_ih, &bias_hh})
    if (t->defined()) init::uniform_(*t, -bound, bound);
}

RecurrentState RecurrentCellImpl::forward(const Tensor& x, const Tensor& h, const Tensor& c) {
  const std::string module = type_name();
  const bool lstm = kind == RecurrentKind::LSTM;
  EMBER_CHECK(x.defined() && (x.dim() == 2 || x.dim() == 1) && x.size(-1) == input_size, module,
              "expected input [N, {}] or unbatched [{}], got {}", input_size, input_size, shape_or_undefined(x));
  check_like_parameters(module, "the input", x, weight_ih);
  const bool batched = x.dim() == 2;
  const Shape state_shape = batched ? Shape{x.size(0), hidden_size} : Shape{hidden_size};
  check_state(module, "h", h, state_shape, weight_ih);
  EMBER_CHECK(lstm || !c.defined(), module, "takes no cell state c (only LSTMCell does), got c {}",
              shape_str(c.shape()));
  check_state(module, "c", c, state_shape, weight_ih);

  // Zeros for a state not given; an unbatched step runs as a batch of one.
  const auto state = [&](const Tensor& t) {
    const Tensor given = t.defined() ? t : zeros(state_shape, {.dtype = x.dtype(), .device = x.device()});
    return batched ? given : unsqueeze(given, 0);
  };
  const RecurrentState s{state(h), lstm ? state(c) : Tensor()};
  const Tensor gi = linear(batched ? x : unsqueeze(x, 0), weight_ih, bias_ih);
  RecurrentState next = step(kind, nonlinearity == "relu", gi, s, weight_hh, bias_hh, Tensor());
  if (!batched) {
    next.h = squeeze(next.h, 0);
    if (lstm) next.c = squeeze(next.c, 0);
  }
  return next;
}

std::string RecurrentCellImpl::type_name() const { return std::string(kind_name(kind)) + "Cell"; }

// PyTorch's: bias and (RNNCell's) nonlinearity only when not the default, the name unquoted.
std::string RecurrentCellImpl::extra_repr() const {
  std::string s = fmt::format("{}, {}", input_size, hidden_size);
  if (!bias) s += ", bias=False";
  if (kind == RecurrentKind::RNN && nonlinearity != "tanh") s += ", nonlinearity=" + nonlinearity;
  return s;
}

}  // namespace ember::nn
