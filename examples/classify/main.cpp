// Trains a small ConvNet on Fashion-MNIST (the W3 network of docs/benchmarks.md) and evaluates it on the
// test set after every epoch. Writes metrics.csv, checkpoint.safetensors (every epoch) and a grid of
// test images with their predictions into --out.
//   classify --epochs 5 --out out/classify
//   classify --resume out/classify/checkpoint.safetensors --epochs 6
#include <ember/ember.h>

#include <chrono>
#include <cmath>
#include <numeric>

#include <ember/data/fashion_mnist.h>
#include "examples/classify/network.h"
#include "examples/common/amp.h"
#include "examples/common/checkpoint.h"
#include "examples/common/cli.h"
#include "examples/common/progress.h"
#include <ember/io/checkpoint.h>
#include <ember/io/image.h>
#include <ember/nn/nn.h>
#include <ember/optim/optim.h>

using namespace ember;

namespace {

struct Evaluation {
  double loss, accuracy;
};

Evaluation evaluate(nn::SequentialImpl& model, data::DataLoader& loader, Device device) {
  NoGradGuard no_grad;
  model.eval();
  double loss_sum = 0;
  int64_t correct = 0, count = 0;
  for (const data::Batch& b : loader) {
    const Tensor images = b.data.to(device), labels = b.target.to(device);
    Tensor logits = model(images);
    loss_sum += cross_entropy(logits, labels, std::nullopt, -100, "sum").item<double>();
    correct += sum(eq(argmax(logits, 1), labels)).item<int64_t>();
    count += images.size(0);
  }
  model.train();
  return {loss_sum / static_cast<double>(count), static_cast<double>(correct) / static_cast<double>(count)};
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"Train a ConvNet classifier on Fashion-MNIST"};
  examples::CommonOptions opt;
  opt.epochs = 5;
  add_common_options(app, opt);
  return examples::run_trainer(app, argc, argv, [&] {
    const Device device = examples::select_device(opt.device, "classify");
    examples::create_output_folder(opt.out);
    manual_seed(opt.seed);
    const std::string data_dir = examples::dataset_dir(opt.data_dir);
    auto train_set = data::fashion_mnist(true, data_dir);
    auto test_set = data::fashion_mnist(false, data_dir);
    EMBER_CHECK(test_set->size() > 0, "classify", "the test set in {} is empty", data_dir);
    data::DataLoader train_loader(train_set, {.batch_size = opt.batch_size, .shuffle = true, .drop_last = true, .seed = opt.seed});
    data::DataLoader test_loader(test_set, {.batch_size = 1000});

    auto model = examples::make_classifier();
    model->to(device);  // before the optimizer, whose state follows the parameters' device
    optim::Adam optimizer(model->parameters(), {.lr = opt.lr});
    examples::MixedPrecision amp(opt.amp);
    amp.scaler().add_parameter_names(*model);
    // --amp fp16: the scale per step, overflows named
    amp.log_scale_to(opt.out + "/loss_scale.csv", !opt.resume.empty());
    if (!opt.quiet) fmt::print("{}{}", info(), model->str());

    const std::string checkpoint_path = opt.out + "/checkpoint.safetensors";
    int64_t step = 0;
    if (!opt.resume.empty()) {
      io::Checkpoint ck{.model = model.get(), .optimizer = &optimizer};
      step = examples::load_checkpoint("classify", "--resume", opt.resume, ck);
      amp.load_state(ck.extra);
      fmt::print("resumed from {} at step {}\n", opt.resume, step);
    }
    const int64_t steps_per_epoch = train_loader.num_batches();
    EMBER_CHECK(steps_per_epoch > 0, "classify", "--batch-size {} is larger than the {} training images", opt.batch_size,
                train_set->size());
    int64_t epoch = step / steps_per_epoch;
    train_loader.set_position(epoch, step % steps_per_epoch);
    examples::CsvLog log(opt.out + "/metrics.csv",
                         {"epoch", "step", "train_loss", "train_accuracy", "test_loss", "test_accuracy", "images_per_s", "seconds"}, !opt.resume.empty());
    const auto start = std::chrono::steady_clock::now();
    bool stop = false;
    bool saved_checkpoint = false;
    // --steps, when given, decides the length alone, as in every trainer (it was capped by --epochs).
    const auto more_epochs = [&] { return opt.steps > 0 ? step < opt.steps : epoch < opt.epochs; };
    for (; more_epochs() && !stop; ++epoch) {
      examples::ProgressBar bar(opt.steps > 0 ? fmt::format("epoch {}", epoch + 1)
                                              : fmt::format("epoch {}/{}", epoch + 1, opt.epochs),
                                train_loader.num_batches());
      double loss_sum = 0;
      int64_t correct = 0, seen = 0, batches = 0;
      const auto epoch_start = std::chrono::steady_clock::now();
      const std::string diverged_hint = fmt::format("try a smaller --lr than {}", opt.lr);
      for (const data::Batch& b : train_loader) {
        // On a GPU the copies are queued on the device's stream behind the previous step's work.
        const Tensor images = b.data.to(device), labels = b.target.to(device);
        Tensor logits, loss;
        {
          auto scope = amp.autocast();
          logits = (*model)(images);
          loss = cross_entropy(logits, labels);
        }
        optimizer.zero_grad();
        amp.backward(loss);
        amp.step(optimizer);
        amp.update();
        ++step;
        ++batches;
        const double loss_value = loss.item<double>();
        // A diverged run (too large an --lr) would go on printing nan and saving NaN weights.
        if (!amp.scaler().is_enabled())
          examples::check_finite_loss("classify", "training loss", loss_value, step, diverged_hint);
        loss_sum += loss_value;
        {
          NoGradGuard no_grad;
          correct += sum(eq(argmax(logits, 1), labels)).item<int64_t>();
        }
        seen += images.size(0);
        const double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - epoch_start).count();
        if (!opt.quiet)
          bar.update(batches, fmt::format("loss {:.4f} acc {:.3f} {:.0f} img/s", loss_sum / batches,
                                          double(correct) / double(seen), double(seen) / secs));
        if (opt.steps > 0 && step >= opt.steps) {
          stop = true;
          break;
        }
      }
      const double epoch_secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - epoch_start).count();
      Evaluation test = evaluate(*model, test_loader, device);
      const double total_secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
      fmt::print("epoch {} step {}: train loss {:.4f} acc {:.4f} | test loss {:.4f} acc {:.4f} | {:.0f} img/s, {:.1f} s\n",
                 epoch + 1, step, loss_sum / std::max<int64_t>(batches, 1), double(correct) / double(std::max<int64_t>(seen, 1)),
                 test.loss, test.accuracy, double(seen) / epoch_secs, total_secs);
      log.row(epoch + 1, step, loss_sum / std::max<int64_t>(batches, 1), double(correct) / double(std::max<int64_t>(seen, 1)),
              test.loss, test.accuracy, double(seen) / epoch_secs, total_secs);
      io::Checkpoint ck{.model = model.get(), .optimizer = &optimizer, .step = step};
      amp.save_state(ck.extra);
      io::save_checkpoint(checkpoint_path, ck);
      saved_checkpoint = true;
    }
    {  // up to 64 test images; the ones the model gets wrong are shown inverted
      NoGradGuard no_grad;
      model->eval();
      const int64_t shown = std::min<int64_t>(64, test_set->size());
      std::vector<int64_t> first(static_cast<size_t>(shown));
      std::iota(first.begin(), first.end(), 0);
      data::Batch b = test_set->get_batch(first);
      Tensor right = eq(argmax((*model)(b.data.to(device)), 1).to(Device::cpu()), b.target).reshape({shown, 1, 1, 1});
      io::save_image_grid(where(right, b.data, 1 - b.data), opt.out + "/predictions.png", 8);
    }
    if (saved_checkpoint) {
      fmt::print("wrote {}/metrics.csv, {}, {}/predictions.png\n", opt.out, checkpoint_path, opt.out);
    } else {  // e.g. --epochs 0, or a --resume already past --epochs
      fmt::print("wrote {}/metrics.csv, {}/predictions.png; no checkpoint: no epoch was trained (--epochs {}, step {})\n",
                 opt.out, opt.out, opt.epochs, step);
    }
  });
}
