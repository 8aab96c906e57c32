// W6 of docs/benchmarks.md: one training step of the byte-level transformer LM (vocab 256, d_model 256,
// 4 heads, 4 layers, pre-LayerNorm, GELU MLP x4, seq 256, batch 16, cross-entropy on every position,
// AdamW(3e-4, wd 0.1)), the model of examples/lm, with each token mixer:
//   W6/softmax (math path), W6/flash, W6/linear, W6/local, W6/gau, W6/flash-gau,
// and W6/softmax_bf16, W6/flash_bf16: the forward pass under bfloat16 autocast (parameters, gradients
// and AdamW float32), with vs_f32, their time over the same mixer's float32 step in this run.
//   bench_w6_lm [MIXER...]     (default: all; "softmax_bf16" and the like name one bf16 case)
#include <ember/ember.h>
#include <omp.h>

#include <map>
#include <string>
#include <vector>

#include "bench/bench_util.h"
#include "examples/lm/model.h"
#include <ember/optim/optim.h>

int main(int argc, char** argv) {
  using namespace ember;
  omp_set_num_threads(2);
  std::vector<std::string> mixers{"softmax", "flash", "linear", "local", "gau", "flash-gau", "softmax_bf16", "flash_bf16"};
  if (argc > 1) mixers.assign(argv + 1, argv + argc);
  std::printf("# cpu: %s threads: 2\n", bench::cpu_model().c_str());
  std::map<std::string, double> float32_ms;
  for (const std::string& name : mixers) {
    const bool bf16 = name.size() > 5 && name.substr(name.size() - 5) == "_bf16";
    const std::string mixer = bf16 ? name.substr(0, name.size() - 5) : name;
    manual_seed(0);
    auto model = std::make_shared<examples::lm::LanguageModelImpl>(
        examples::lm::ModelOptions{.mixer = mixer, .d_model = 256, .heads = 4, .layers = 4, .max_len = 256});
    optim::AdamW optimizer(model->parameters(), {.lr = 3e-4, .weight_decay = 0.1});
    Generator gen(1);
    const Tensor tokens = randint(0, 256, std::vector<int64_t>{16, 257}, {.dtype = DType::Int64}, &gen);
    const Tensor inputs = narrow(tokens, 1, 0, 256), targets = narrow(tokens, 1, 1, 256).reshape({-1});
    const auto timing = bench::time_steps([&] {
      Tensor loss;
      {
        ember::autocast scope(DType::BFloat16, bf16);
        loss = cross_entropy(model->forward(inputs).reshape({-1, 256}), targets);
      }
      optimizer.zero_grad();
      loss.backward();
      optimizer.step();
    });
    std::vector<bench::Extra> figures{{"tokens_per_s", 16 * 256 / (timing.median_ms / 1000)}};
    if (!bf16) float32_ms[mixer] = timing.median_ms;
    if (bf16 && float32_ms.count(mixer)) figures.push_back({"vs_f32", timing.median_ms / float32_ms[mixer]});
    bench::print_case("W6/" + name, timing, figures);
  }
}
