// W11 of docs/benchmarks.md: one training step of a Mamba language model (nn::MambaLM, the model of
// examples/lm --mixer mamba): vocab 256, d_model 256, 4 layers, d_state 16, expand 2, d_conv 4,
// dt_rank 16, tied head, seq 256, batch 16, cross-entropy on every position, AdamW(3e-4, weight decay
// 0.1, none on A_log, D and the RMSNorm gains).
// The scan runs fused (ScanPath::Auto); the reference loop of ops would take over 20 s a step here
// (W9 compares the two paths on the scan alone).
#include <ember/ember.h>
#include <omp.h>

#include <string>
#include <unordered_set>

#include "bench/bench_util.h"
#include <ember/optim/optim.h>

namespace {

void run_case(const std::string& name) {
  using namespace ember;
  manual_seed(0);
  auto model = nn::MambaLM({.vocab = 256, .d_model = 256, .n_layer = 4, .d_state = 16, .d_conv = 4, .expand = 2});
  const std::vector<Tensor> no_decay = model->no_weight_decay_parameters();
  std::unordered_set<TensorImpl*> skip;
  for (const Tensor& p : no_decay) skip.insert(p.impl());
  std::vector<Tensor> decay;
  for (const Tensor& p : model->parameters())
    if (!skip.count(p.impl())) decay.push_back(p);
  optim::AdamW optimizer(decay, {.lr = 3e-4, .weight_decay = 0.1});
  optimizer.add_param_group(no_decay, {{"weight_decay", 0}});
  Generator gen(1);
  const Tensor tokens = randint(0, 256, std::vector<int64_t>{16, 257}, {.dtype = DType::Int64}, &gen);
  const Tensor inputs = narrow(tokens, 1, 0, 256), targets = narrow(tokens, 1, 1, 256).reshape({-1});
  const auto timing = bench::time_steps([&] {
    Tensor loss = cross_entropy(model->forward(inputs).reshape({-1, 256}), targets);
    optimizer.zero_grad();
    loss.backward();
    optimizer.step();
  });
  bench::print_case(name, timing, {{"tokens_per_s", 16 * 256 / (timing.median_ms / 1000)}});
}

}  // namespace

int main() {
  omp_set_num_threads(2);
  std::printf("# cpu: %s threads: 2\n", ember::bench::cpu_model().c_str());
  run_case("W11/mamba");
}
