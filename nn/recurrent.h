#pragma once
// Recurrent layers as PyTorch's: RNN (tanh or relu), LSTM and GRU, stacked and bidirectional, and
// their one-step cells. Parameter names, shapes, gate order (LSTM: input, forget, cell, output; GRU:
// reset, update, new) and initialisation U(-1/sqrt(hidden), 1/sqrt(hidden)) are torch.nn's, so a
// PyTorch state_dict loads unchanged. Built from ops (each layer's input projection for all steps is
// one matrix product), so they have gradients of any order.
#include <cstdint>
#include <deque>
#include <memory>
#include <string>

#include <ember/nn/module.h>

namespace ember::nn {

enum class RecurrentKind : uint8_t { RNN, LSTM, GRU };

struct RecurrentOptions {
  int64_t num_layers = 1;
  bool bias = true;
  // Input and output [N, L, features] instead of [L, N, features] (the states stay [layers, N, H]).
  bool batch_first = false;
  // Dropout on each layer's output except the last, in training mode.
  double dropout = 0;
  bool bidirectional = false;
  std::string nonlinearity = "tanh";  // RNN only: "tanh" or "relu"
  int64_t proj_size = 0;              // LSTM only: h projected to proj_size by weight_hr (0: none)
};

// output: the last layer's h at every step, [L, N, D * H_out] (D = 2 when bidirectional, H_out =
// proj_size or hidden_size); h_n: every layer's last h, [D * num_layers, N, H_out]; c_n (LSTM only,
// else undefined): every layer's last cell state, [D * num_layers, N, hidden_size]. An unbatched
// input [L, H_in] gives unbatched results (no N dim), as PyTorch's.
struct RecurrentOutput {
  Tensor output, h_n, c_n;
};

class RecurrentImpl : public Module {
 public:
  RecurrentImpl(RecurrentKind kind, int64_t input_size, int64_t hidden_size, RecurrentOptions options = {});
  // h0 [D * num_layers, N, H_out] and c0 (LSTM only) [D * num_layers, N, hidden_size]; zeros when
  // undefined (either may be given without the other). The sequence must not be empty (PyTorch
  // refuses L = 0 too); a batch may be (N = 0). x, h0 and c0 must have the parameters' dtype and device.
  RecurrentOutput forward(const Tensor& x, const Tensor& h0 = {}, const Tensor& c0 = {});
  RecurrentOutput operator()(const Tensor& x, const Tensor& h0 = {}, const Tensor& c0 = {}) {
    return forward(x, h0, c0);
  }
  std::string type_name() const override;  // "RNN", "LSTM" or "GRU"
  // PyTorch's: "LSTM(10, 20, num_layers=2, bidirectional=True)", the options that differ from their
  // defaults (PyTorch's RNN shows no nonlinearity, so neither does this).
  std::string extra_repr() const override;

  RecurrentKind kind;
  int64_t input_size, hidden_size;
  RecurrentOptions options;

 private:
  // The parameters of one layer in one direction: weight_ih [gates * hidden, layer input],
  // weight_hh [gates * hidden, H_out], the biases [gates * hidden] (undefined without bias) and
  // weight_hr [proj_size, hidden] (LSTM with proj_size only, else undefined).
  struct Direction {
    Tensor weight_ih, weight_hh, bias_ih, bias_hh, weight_hr;
  };
  // Layer by layer, the forward direction before the reverse one: PyTorch's order. A deque, so that
  // the members registered as parameters never move.
  std::deque<Direction> directions_;
};
inline std::shared_ptr<RecurrentImpl> RNN(int64_t input_size, int64_t hidden_size, RecurrentOptions o = {}) {
  return std::make_shared<RecurrentImpl>(RecurrentKind::RNN, input_size, hidden_size, o);
}
inline std::shared_ptr<RecurrentImpl> LSTM(int64_t input_size, int64_t hidden_size, RecurrentOptions o = {}) {
  return std::make_shared<RecurrentImpl>(RecurrentKind::LSTM, input_size, hidden_size, o);
}
inline std::shared_ptr<RecurrentImpl> GRU(int64_t input_size, int64_t hidden_size, RecurrentOptions o = {}) {
  return std::make_shared<RecurrentImpl>(RecurrentKind::GRU, input_size, hidden_size, o);
}

// One step: h' (and c' for LSTM). x [N, H_in] or unbatched [H_in]; h, c [N, hidden] or [hidden],
// zeros when undefined; all of the parameters' dtype and device.
struct RecurrentState {
  Tensor h, c;
};

class RecurrentCellImpl : public Module {
 public:
  RecurrentCellImpl(RecurrentKind kind, int64_t input_size, int64_t hidden_size, bool bias = true,
                    std::string nonlinearity = "tanh");
  RecurrentState forward(const Tensor& x, const Tensor& h = {}, const Tensor& c = {});
  RecurrentState operator()(const Tensor& x, const Tensor& h = {}, const Tensor& c = {}) {
    return forward(x, h, c);
  }
  std::string type_name() const override;  // "RNNCell", "LSTMCell" or "GRUCell"
  std::string extra_repr() const override;  // PyTorch's: "RNNCell(10, 20, bias=False, nonlinearity=relu)"

  Tensor weight_ih, weight_hh, bias_ih, bias_hh;  // [gates * hidden, H_in], [gates * hidden, hidden]
  RecurrentKind kind;
  int64_t input_size, hidden_size;
  bool bias;
  std::string nonlinearity;
};
inline std::shared_ptr<RecurrentCellImpl> RNNCell(int64_t input_size, int64_t hidden_size, bool bias = true,
                                                  std::string nonlinearity = "tanh") {
  return std::make_shared<RecurrentCellImpl>(RecurrentKind::RNN, input_size, hidden_size, bias, nonlinearity);
}
inline std::shared_ptr<RecurrentCellImpl> LSTMCell(int64_t input_size, int64_t hidden_size, bool bias = true) {
  return std::make_shared<RecurrentCellImpl>(RecurrentKind::LSTM, input_size, hidden_size, bias);
}
inline std::shared_ptr<RecurrentCellImpl> GRUCell(int64_t input_size, int64_t hidden_size, bool bias = true) {
  return std::make_shared<RecurrentCellImpl>(RecurrentKind::GRU, input_size, hidden_size, bias);
}

}  // namespace ember::nn
