// W6 of docs/benchmarks.md: one training step of the byte-level transformer LM (vocab 256, d_model 256,
// 4 heads, 4 layers, pre-LayerNorm, GELU MLP x4, seq 256, batch 16, cross-entropy on every position,
// AdamW(3e-4, wd 0.1)), the model of examples/lm, with each token mixer:
//   W6/softmax (math path), W6/flash, W6/linear, W6/local, W6/gau, W6/flash-gau
//   bench_w6_lm [MIXER...]     (default: all)
#include <ember/ember.h>
#include <omp.h>

#include <string>
#include <vector>

#include "bench/bench_util.h"
#include "examples/lm/model.h"
#include <ember/optim/optim.h>

int main(int argc, char** argv) {
  using namespace ember;
  omp_set_num_threads(2);
  std::vector<std::string> mixers{"softmax", "flash", "linear", "local", "gau", "flash-gau"};
  if (argc > 1) mixers.assign(argv + 1, argv + argc);
  std::printf("# cpu: %s threads: 2\n", bench::cpu_model().c_str());
  for (const std::string& mixer : mixers) {
    manual_seed(0);
    auto model = std::make_shared<examples::lm::LanguageModelImpl>(
        examples::lm::ModelOptions{.mixer = mixer, .d_model = 256, .heads = 4, .layers = 4, .max_len = 256});
    optim::AdamW optimizer(model->parameters(), {.lr = 3e-4, .weight_decay = 0.1});
    Generator gen(1);
    const Tensor tokens = randint(0, 256, std::vector<int64_t>{16, 257}, {.dtype = DType::Int64}, &gen);
    const Tensor inputs = narrow(tokens, 1, 0, 256), targets = narrow(tokens, 1, 1, 256).reshape({-1});
    const auto timing = bench::time_steps([&] {
      Tensor loss = cross_entropy(model->forward(inputs).reshape({-1, 256}), targets);
      optimizer.zero_grad();
      loss.backward();
      optimizer.step();
    });
    bench::print_case("W6/" + mixer, timing, {{"tokens_per_s", 16 * 256 / (timing.median_ms / 1000)}});
  }
}
