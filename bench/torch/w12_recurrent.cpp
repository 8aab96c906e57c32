// W12 for libtorch 1.13: torch::nn::LSTM and torch::nn::GRU with the options of ember's
// bench/w12_recurrent.cpp (input 64, hidden 128, sequence length 64, batch 32, batch_first=false,
// float32), the same steps (forward, loss = mean of the output, zero_grad, backward, SGD(0.01) step;
// the inference case is the forward under NoGradGuard), the same case names and output format.
// libtorch 1.13's CPU LSTM and GRU are composites of ATen ops too (the input projection of all steps
// as one GEMM, then per step a GEMM and the cell's pointwise ops; no fused cell kernel on the CPU).
//   torch_w12_recurrent          every case
//   torch_w12_recurrent CASE     one case: lstm, lstm_2layer_bidir, gru or lstm_inference
#include <torch/torch.h>

#include <string>

#include "bench/bench_util.h"

namespace {

constexpr int64_t kInput = 64, kHidden = 128, kSeq = 64, kBatch = 32;

template <class Model>
ember::bench::Timing time_case(Model& model, const torch::Tensor& x, bool inference) {
  namespace bench = ember::bench;
  torch::optim::SGD optimizer(model->parameters(), torch::optim::SGDOptions(0.01));
  if (inference) {
    return bench::time_steps([&] {
      torch::NoGradGuard no_grad;
      bench::do_not_optimize(std::get<0>(model->forward(x)));
    });
  }
  return bench::time_steps([&] {
    torch::Tensor loss = std::get<0>(model->forward(x)).mean();
    optimizer.zero_grad();
    loss.backward();
    optimizer.step();
  });
}

void run_case(const std::string& name) {
  namespace bench = ember::bench;
  torch::manual_seed(12);
  const bool bidir = name == "lstm_2layer_bidir", inference = name == "lstm_inference";
  const int64_t layers = bidir ? 2 : 1;
  bench::Timing timing;
  if (name == "gru") {
    torch::nn::GRU model(torch::nn::GRUOptions(kInput, kHidden).num_layers(layers).bidirectional(bidir));
    const torch::Tensor x = torch::randn({kSeq, kBatch, kInput});
    timing = time_case(model, x, inference);
  } else {
    torch::nn::LSTM model(torch::nn::LSTMOptions(kInput, kHidden).num_layers(layers).bidirectional(bidir));
    const torch::Tensor x = torch::randn({kSeq, kBatch, kInput});
    timing = time_case(model, x, inference);
  }
  bench::print_case("W12/" + name, timing, {{"tokens_per_s", kSeq * kBatch / (timing.median_ms / 1000)}});
}

}  // namespace

int main(int argc, char** argv) {
  torch::set_num_threads(2);
  if (argc == 2) {
    run_case(argv[1]);
    return 0;
  }
  std::printf("# cpu: %s threads: 2 (libtorch)\n", ember::bench::cpu_model().c_str());
  std::fflush(stdout);
  for (const char* name : {"lstm", "lstm_2layer_bidir", "gru", "lstm_inference"}) run_case(name);
  return 0;
}
