// Sequential Fashion-MNIST: each 28x28 image is read as a sequence of L = 784 pixels, one scalar per
// step, and classified by a stack of S4D layers (nn/ssm/s4d.h), the S4 repository's example model:
// a linear encoder 1 -> d_model, pre-norm residual blocks x + dropout(S4D(LayerNorm(x))), the mean
// over the sequence and a linear head. AdamW with a cosine schedule; the S4D layers' SSM parameters
// (log dt, A) in their own group with lr min(1e-3, --lr) and no weight decay. Prints the training
// loss and accuracy and the test accuracy after every epoch, and writes them to --out/metrics.csv.
//   smnist --init lin --disc zoh --epochs 1 --train-limit 4000
#include <ember/ember.h>
#include <omp.h>

#include <chrono>

#include <ember/data/fashion_mnist.h>
#include "examples/common/cli.h"
#include "examples/common/progress.h"
#include <ember/nn/nn.h>
#include <ember/optim/optim.h>

using namespace ember;

namespace {

struct ModelOptions {
  int64_t d_model = 64, d_state = 64, layers = 4;
  double dropout = 0.1;
  nn::S4DInit init = nn::S4DInit::Lin;
  nn::Discretization disc = nn::Discretization::ZOH;
};

class SequenceClassifierImpl : public nn::Module {
 public:
  explicit SequenceClassifierImpl(const ModelOptions& o) : dropout_(o.dropout) {
    encoder = register_module("encoder", nn::Linear(1, o.d_model));
    for (int64_t i = 0; i < o.layers; ++i) {
      norms.push_back(register_module(fmt::format("norm{}", i), nn::LayerNorm(o.d_model)));
      layers.push_back(register_module(
          fmt::format("s4d{}", i),
          nn::S4D({.d_model = o.d_model, .d_state = o.d_state, .init = o.init, .discretization = o.disc})));
    }
    decoder = register_module("decoder", nn::Linear(o.d_model, 10));
  }
  std::string type_name() const override { return "SequenceClassifier"; }

  // x [batch, L, 1] -> logits [batch, 10]
  Tensor forward(const Tensor& x) {
    Tensor h = transpose((*encoder)(x), 1, 2);  // [batch, H, L]
    for (size_t i = 0; i < layers.size(); ++i) {
      Tensor z = transpose((*norms[i])(transpose(h, 1, 2)), 1, 2);
      z = dropout((*layers[i])(z), dropout_, is_training());
      h = h + z;
    }
    return (*decoder)(mean(h, {2}));
  }

  std::shared_ptr<nn::LinearImpl> encoder, decoder;
  std::vector<std::shared_ptr<nn::LayerNormImpl>> norms;
  std::vector<std::shared_ptr<nn::S4DImpl>> layers;

 private:
  double dropout_;
};

// Images [N, 1, 28, 28] in [0, 1] -> sequences [N, 784, 1], standardised with Fashion-MNIST's
// training mean and standard deviation.
Tensor as_sequences(const Tensor& images) { return (images.reshape({images.size(0), 784, 1}) - 0.2860) / 0.3530; }

std::shared_ptr<data::TensorDataset> first(const std::shared_ptr<data::TensorDataset>& set, int64_t limit) {
  const int64_t n = limit > 0 ? std::min(limit, set->size()) : set->size();
  return std::make_shared<data::TensorDataset>(narrow(set->data(), 0, 0, n), narrow(set->targets(), 0, 0, n));
}

struct Evaluation {
  double loss, accuracy;
};

Evaluation evaluate(SequenceClassifierImpl& model, data::DataLoader& loader, Device device) {
  NoGradGuard no_grad;
  model.eval();
  double loss_sum = 0;
  int64_t correct = 0, count = 0;
  for (const data::Batch& b : loader) {
    const Tensor x = as_sequences(b.data).to(device), labels = b.target.to(device);
    const Tensor logits = model.forward(x);
    loss_sum += cross_entropy(logits, labels, std::nullopt, -100, "sum").item<double>();
    correct += sum(eq(argmax(logits, 1), labels)).item<int64_t>();
    count += x.size(0);
  }
  model.train();
  return {loss_sum / static_cast<double>(std::max<int64_t>(count, 1)),
          static_cast<double>(correct) / static_cast<double>(std::max<int64_t>(count, 1))};
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"Classify Fashion-MNIST images read pixel by pixel (L = 784) with S4D layers"};
  examples::show_defaults_in_help(app);
  ModelOptions mo;
  int64_t epochs = 1, batch_size = 32, train_limit = 0, test_limit = 0, threads = 0;
  double lr = 1e-2, weight_decay = 0.01;
  uint64_t seed = 0;
  std::string init = "lin", disc = "zoh", device_name = "cpu", out = "out/smnist", data_dir;
  bool quiet = false;
  app.add_option("--init", init, "initialisation of A: lin (S4D-Lin), inv (S4D-Inv), real (S4D-Real)")
      ->check(CLI::IsMember({"lin", "inv", "real"}));
  app.add_option("--disc", disc, "discretisation: zoh or bilinear")->check(CLI::IsMember({"zoh", "bilinear"}));
  app.add_option("--epochs", epochs, "passes over the training images")->check(examples::integer_at_least(0));
  app.add_option("--train-limit", train_limit, "train on the first N training images (0: all 60000)")
      ->check(examples::integer_at_least(0));
  app.add_option("--test-limit", test_limit, "evaluate on the first N test images (0: all 10000)")
      ->check(examples::integer_at_least(0));
  app.add_option("--batch-size", batch_size, "sequences per step")
      ->check(examples::integer_between(1, examples::kMaxBatchSize));
  app.add_option("--lr", lr, "AdamW learning rate (the SSM parameters take min(1e-3, lr))")->check(examples::number_above(0));
  app.add_option("--weight-decay", weight_decay, "AdamW weight decay (none on the SSM parameters)")
      ->check(examples::number_at_least(0));
  app.add_option("--d-model", mo.d_model, "channels H")
      ->check(examples::integer_between(1, examples::kMaxWidth));
  app.add_option("--d-state", mo.d_state, "state size N (N/2 complex modes), even")
      ->check(examples::integer_between(2, examples::kMaxWidth));
  app.add_option("--layers", mo.layers, "S4D blocks")->check(examples::integer_between(0, 1024));
  app.add_option("--dropout", mo.dropout, "dropout after each S4D block")->check(examples::number_between(0.0, 0.99));
  app.add_option("--seed", seed, "random seed (initialisation, shuffling, dropout)")->check(examples::unsigned_integer());
  // Bounded: libgomp crashes on a request for 100000 threads instead of refusing it.
  app.add_option("--threads", threads, "OpenMP threads, at most 1024 (0: OMP_NUM_THREADS or every core)")
      ->check(CLI::Range(int64_t{0}, int64_t{1024}));
  app.add_option("--device", device_name, "cpu, cuda or cuda:N");
  app.add_option("--data-dir", data_dir, "the Fashion-MNIST files (default: $EMBER_DATA, else the Debian package's folder)");
  app.add_option("--out", out, "folder for metrics.csv");
  app.add_flag("--quiet", quiet, "no progress bar");
  return examples::run_trainer(app, argc, argv, [&] {
    EMBER_CHECK(mo.d_state % 2 == 0, "smnist", "--d-state must be even (N/2 complex modes), got {}", mo.d_state);
    if (threads > 0) omp_set_num_threads(static_cast<int>(threads));
    mo.init = init == "lin" ? nn::S4DInit::Lin : init == "inv" ? nn::S4DInit::Inv : nn::S4DInit::Real;
    mo.disc = disc == "zoh" ? nn::Discretization::ZOH : nn::Discretization::Bilinear;
    const Device device = examples::select_device(device_name, "smnist");
    examples::create_output_folder(out);
    manual_seed(seed);
    const std::string dir = examples::dataset_dir(data_dir);
    auto train_set = first(data::fashion_mnist(true, dir), train_limit);
    auto test_set = first(data::fashion_mnist(false, dir), test_limit);
    data::DataLoader train_loader(train_set, {.batch_size = batch_size, .shuffle = true, .drop_last = true, .seed = seed});
    data::DataLoader test_loader(test_set, {.batch_size = 250});
    const int64_t steps_per_epoch = train_loader.num_batches();
    EMBER_CHECK(steps_per_epoch > 0, "smnist", "--batch-size {} is larger than the {} training images", batch_size,
                train_set->size());

    auto model = std::make_shared<SequenceClassifierImpl>(mo);
    model->to(device);
    const nn::SSMParameterSplit split = nn::split_ssm_parameters(*model);
    optim::AdamW optimizer(split.rest, {.lr = lr, .weight_decay = weight_decay});
    if (!split.ssm.empty()) optimizer.add_param_group(split.ssm, {{"lr", std::min(1e-3, lr)}, {"weight_decay", 0.0}});
    int64_t total_steps = 0;
    EMBER_CHECK(!__builtin_mul_overflow(epochs, steps_per_epoch, &total_steps), "smnist",
                "--epochs {} of {} steps each is more steps than an int64 can count", epochs, steps_per_epoch);
    optim::CosineAnnealingLR schedule(optimizer, std::max<int64_t>(total_steps, 1));
    fmt::print("smnist: init {}, discretisation {}, {} layers, d_model {}, N {}, {} parameters; {} training and {} test "
               "images, batch {}, {} thread(s)\n",
               init, disc, mo.layers, mo.d_model, mo.d_state, model->num_parameters(), train_set->size(), test_set->size(),
               batch_size, omp_get_max_threads());

    examples::CsvLog log(out + "/metrics.csv",
                         {"epoch", "step", "train_loss", "train_accuracy", "test_loss", "test_accuracy", "seconds"}, /*resumed=*/false);
    const auto start = std::chrono::steady_clock::now();
    int64_t step = 0;
    const std::string diverged_hint = fmt::format("--lr {}, --weight-decay {}", lr, weight_decay);
    for (int64_t epoch = 0; epoch < epochs; ++epoch) {
      examples::ProgressBar bar(fmt::format("epoch {}/{}", epoch + 1, epochs), steps_per_epoch);
      double loss_sum = 0;
      int64_t correct = 0, seen = 0, batches = 0;
      for (const data::Batch& b : train_loader) {
        const Tensor x = as_sequences(b.data).to(device), labels = b.target.to(device);
        const Tensor logits = model->forward(x);
        const Tensor loss = cross_entropy(logits, labels);
        optimizer.zero_grad();
        loss.backward();
        optimizer.step();
        schedule.step();
        ++step;
        ++batches;
        const double loss_value = loss.item<double>();
        // A diverged run (too large an --lr or --weight-decay) went on printing nan.
        examples::check_finite_loss("smnist", "training loss", loss_value, step, diverged_hint);
        loss_sum += loss_value;
        {
          NoGradGuard no_grad;
          correct += sum(eq(argmax(logits, 1), labels)).item<int64_t>();
        }
        seen += x.size(0);
        if (!quiet)
          bar.update(batches, fmt::format("loss {:.4f} acc {:.3f}", loss_sum / static_cast<double>(batches),
                                          static_cast<double>(correct) / static_cast<double>(seen)));
      }
      const Evaluation test = evaluate(*model, test_loader, device);
      const double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
      const double train_loss = loss_sum / static_cast<double>(std::max<int64_t>(batches, 1));
      const double train_acc = static_cast<double>(correct) / static_cast<double>(std::max<int64_t>(seen, 1));
      fmt::print("epoch {} step {}: train loss {:.4f} acc {:.4f} | test loss {:.4f} acc {:.4f} | {:.1f} s\n", epoch + 1,
                 step, train_loss, train_acc, test.loss, test.accuracy, secs);
      log.row(epoch + 1, step, train_loss, train_acc, test.loss, test.accuracy, secs);
    }
  });
}
