// W12 of docs/benchmarks.md: the recurrent layers (nn::LSTM, nn::GRU, composites of ops), input 64,
// hidden 128, sequence length 64, batch 32, batch_first=false ([L, N, features]), float32:
//   W12/lstm                one training step of a 1-layer LSTM: forward, loss = mean of the output,
//                           zero_grad, backward, plain SGD(0.01) step;
//   W12/lstm_2layer_bidir   the same with 2 layers, bidirectional;
//   W12/gru                 the same with a 1-layer GRU;
//   W12/lstm_inference      the 1-layer LSTM's forward alone, under NoGradGuard.
//   bench_w12_recurrent          every case
//   bench_w12_recurrent CASE     one case: lstm, lstm_2layer_bidir, gru or lstm_inference
// Prints W12/CASE with tokens_per_s (L x N positions over the median step).
#include <ember/ember.h>
#include <omp.h>

#include <string>

#include "bench/bench_util.h"

namespace {

using namespace ember;

constexpr int64_t kInput = 64, kHidden = 128, kSeq = 64, kBatch = 32;

void run_case(const std::string& name) {
  manual_seed(12);
  const bool gru = name == "gru", inference = name == "lstm_inference";
  nn::RecurrentOptions options;
  if (name == "lstm_2layer_bidir") {
    options.num_layers = 2;
    options.bidirectional = true;
  }
  auto model = gru ? nn::GRU(kInput, kHidden, options) : nn::LSTM(kInput, kHidden, options);
  optim::SGD optimizer(model->parameters(), {.lr = 0.01});
  const Tensor x = randn({kSeq, kBatch, kInput});
  bench::Timing timing;
  if (inference) {
    timing = bench::time_steps([&] {
      NoGradGuard no_grad;
      bench::do_not_optimize(model->forward(x).output);
    });
  } else {
    timing = bench::time_steps([&] {
      Tensor loss = mean(model->forward(x).output);
      optimizer.zero_grad();
      loss.backward();
      optimizer.step();
    });
  }
  bench::print_case("W12/" + name, timing, {{"tokens_per_s", kSeq * kBatch / (timing.median_ms / 1000)}});
}

}  // namespace

int main(int argc, char** argv) {
  omp_set_num_threads(2);
  if (argc == 2) {
    run_case(argv[1]);
    return 0;
  }
  std::printf("# cpu: %s threads: 2\n", ember::bench::cpu_model().c_str());
  std::fflush(stdout);
  for (const char* name : {"lstm", "lstm_2layer_bidir", "gru", "lstm_inference"}) run_case(name);
  return 0;
}
