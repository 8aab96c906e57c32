// A short training gives the same parameters bit for bit on 1 and 2 threads, and a run resumed
// from a checkpoint with another thread count reproduces the run that was never interrupted.
#include <omp.h>
#include <unistd.h>

#include <catch2/catch.hpp>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <string>
#include <vector>

#include <ember/backends/cpu/blas.h>
#include "tests/backends/thread_count.h"
#include <ember/io/checkpoint.h>
#include <ember/nn/nn.h>
#include <ember/ops/ops.h>
#include <ember/optim/optim.h>

using namespace ember;

namespace {

using test::ThreadCount;

// The bytes of every parameter, in order.
std::vector<unsigned char> parameter_bytes(const nn::Module& model) {
  std::vector<unsigned char> out;
  for (const Tensor& p : model.parameters()) {
    const Tensor c = p.contiguous();
    const auto* data = static_cast<const unsigned char*>(c.data_ptr());
    out.insert(out.end(), data, data + c.numel() * c.element_size());
  }
  return out;
}

// Step `step`'s batch depends on the step alone, so a resumed run sees the same data.
struct Batch {
  Tensor x, y;
};
Batch mlp_batch(int64_t step) {
  Generator gen(1000 + step);
  return {randn({128, 784}, {}, &gen), randint(0, 10, {128}, {.dtype = DType::Int64}, &gen)};
}

struct Mlp {
  std::shared_ptr<nn::SequentialImpl> model;
  optim::AdamW opt;
  explicit Mlp(uint64_t seed) : model(make(seed)), opt(model->parameters(), {.lr = 1e-3, .weight_decay = 1e-2}) {}
  static std::shared_ptr<nn::SequentialImpl> make(uint64_t seed) {
    manual_seed(seed);
    return nn::Sequential({nn::Linear(784, 256), nn::ReLU(), nn::Linear(256, 10)});
  }
  void train(int64_t from, int64_t to) {
    for (int64_t step = from; step < to; ++step) {
      const Batch b = mlp_batch(step);
      const Tensor loss = cross_entropy((*model)(b.x), b.y);
      opt.zero_grad();
      loss.backward();
      opt.step();
    }
  }
};

std::vector<unsigned char> train_mlp(int threads, int64_t steps) {
  ThreadCount count(threads);
  Mlp mlp(3);
  mlp.train(0, steps);
  return parameter_bytes(*mlp.model);
}

std::vector<unsigned char> train_conv_net(int threads, int64_t steps) {
  ThreadCount count(threads);
  manual_seed(4);
  auto model = nn::Sequential({nn::Conv2d(1, 16, 3, {.padding = {1, 1}}), nn::ReLU(), nn::MaxPool2d(2),
                               nn::Conv2d(16, 16, 3, {.padding = {1, 1}}), nn::ReLU(), nn::Flatten(),
                               nn::Linear(16 * 14 * 14, 10)});
  optim::AdamW opt(model->parameters(), {.lr = 1e-3});
  for (int64_t step = 0; step < steps; ++step) {
    Generator gen(2000 + step);
    const Tensor x = randn({32, 1, 28, 28}, {}, &gen);
    const Tensor y = randint(0, 10, {32}, {.dtype = DType::Int64}, &gen);
    const Tensor loss = cross_entropy((*model)(x), y);
    opt.zero_grad();
    loss.backward();
    opt.step();
  }
  return parameter_bytes(*model);
}

std::string temp_file(const std::string& name) {
  return (std::filesystem::temp_directory_path() / ("ember_determinism_" + std::to_string(::getpid()) + "_" + name)).string();
}

}  // namespace

TEST_CASE("an MLP trained with AdamW ends with the same bits on 1 and 2 threads", "[determinism][training]") {
  const std::vector<unsigned char> one = train_mlp(1, 50), two = train_mlp(2, 50);
  REQUIRE(one.size() == (784 * 256 + 256 + 256 * 10 + 10) * sizeof(float));
  CHECK(std::memcmp(one.data(), two.data(), one.size()) == 0);
  // The run did train: 50 steps moved the parameters away from their initial values.
  CHECK(std::memcmp(one.data(), train_mlp(1, 0).data(), one.size()) != 0);
}

TEST_CASE("a small conv net trained with AdamW ends with the same bits on 1 and 2 threads", "[determinism][training]") {
  const std::vector<unsigned char> one = train_conv_net(1, 3), two = train_conv_net(2, 3);
  REQUIRE(one.size() == two.size());
  CHECK(std::memcmp(one.data(), two.data(), one.size()) == 0);
}

TEST_CASE("a run resumed from a checkpoint on another thread count reproduces the uninterrupted run",
          "[determinism][training]") {
  constexpr int64_t kFirst = 20, kMore = 20;
  const std::vector<unsigned char> straight = train_mlp(2, kFirst + kMore);
  const std::string path = temp_file("resume.safetensors");
  {
    ThreadCount count(2);
    Mlp mlp(3);
    mlp.train(0, kFirst);
    io::Checkpoint ck{.model = mlp.model.get(), .optimizer = &mlp.opt, .step = kFirst};
    io::save_checkpoint(path, ck);
  }
  for (int threads : {1, 3}) {
    INFO(threads << " threads after the checkpoint");
    ThreadCount count(threads);
    Mlp mlp(99);  // other initial values, all overwritten by the checkpoint
    io::Checkpoint ck{.model = mlp.model.get(), .optimizer = &mlp.opt};
    const int64_t start = io::load_checkpoint(path, ck);
    REQUIRE(start == kFirst);
    mlp.train(start, kFirst + kMore);
    const std::vector<unsigned char> resumed = parameter_bytes(*mlp.model);
    REQUIRE(resumed.size() == straight.size());
    CHECK(std::memcmp(resumed.data(), straight.data(), straight.size()) == 0);
  }
  std::remove(path.c_str());
}
