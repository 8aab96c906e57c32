// Trains a byte-level language model on the fortunes corpus with the token mixer of your choice, and
// samples text from it. Writes metrics.csv, checkpoint.safetensors (at every evaluation) and
// sample.txt into --out.
//   lm --mixer flash --steps 2000 --out out/lm
//   lm --mixer linear --resume out/lm/checkpoint.safetensors --steps 3000
//   lm --mixer mamba --steps 2000 --out out/lm-mamba   (or s4d: the state-space mixers)
//   lm --generate --resume out/lm/checkpoint.safetensors --prompt "The " --tokens 300 --top-p 0.9
#include <ember/ember.h>

#include <chrono>
#include <cmath>
#include <fstream>

#include "examples/common/amp.h"
#include "examples/common/checkpoint.h"
#include "examples/common/cli.h"
#include "examples/common/progress.h"
#include "examples/lm/corpus.h"
#include "examples/lm/model.h"
#include <ember/io/checkpoint.h>
#include <ember/optim/optim.h>

using namespace ember;
using namespace ember::examples::lm;

namespace {

// Mean cross-entropy (nats per byte) of the model on `batches` fixed windows of the validation text.
double validation_loss(LanguageModelImpl& model, const std::vector<uint8_t>& text, int64_t batches, int64_t batch,
                       int64_t seq, Device device) {
  NoGradGuard no_grad;
  model.eval();
  Generator fixed(12345);  // the same windows at every evaluation
  double total = 0;
  for (int64_t i = 0; i < batches; ++i) {
    const Tensor w = sample_windows(text, batch, seq, fixed).to(device);
    const Tensor logits = model.forward(narrow(w, 1, 0, seq));
    total += cross_entropy(logits.reshape({-1, 256}), narrow(w, 1, 1, seq).reshape({-1})).item<double>();
  }
  model.train();
  return total / static_cast<double>(batches);
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"Train a byte-level language model on the fortunes corpus"};
  examples::CommonOptions opt;
  opt.steps = 2000;
  opt.batch_size = 16;
  opt.lr = 3e-4;
  opt.out = "out/lm";
  add_common_options(app, opt, examples::Epochs::kNotOffered);
  app.get_option("--data-dir")
      ->description("Folder of the fortunes corpus")
      ->default_str("$EMBER_FORTUNES, else /usr/share/games/fortunes");
  ModelOptions model_options;
  int64_t seq = 256, eval_every = 200, eval_batches = 8, tokens = 300;
  double weight_decay = 0.1, time_budget = 0;
  bool generate_only = false;
  std::string prompt = "The ";
  SamplingOptions sampling;
  app.add_option("--mixer", model_options.mixer, "token mixer: softmax|flash|linear|local|sparse|gau|flash-gau|mamba|s4d")
      ->check(CLI::IsMember({"softmax", "flash", "linear", "local", "sparse", "gau", "flash-gau", "mamba", "s4d"}));
  app.add_option("--d-model", model_options.d_model, "model width")
      ->check(examples::integer_between(1, examples::kMaxWidth));
  app.add_option("--heads", model_options.heads, "attention heads")->check(examples::integer_at_least(1));
  app.add_option("--layers", model_options.layers, "transformer blocks")->check(examples::integer_between(0, 1024));
  app.add_option("--window", model_options.window, "local mixer: positions each query sees")->check(examples::integer_at_least(1));
  app.add_option("--block", model_options.block, "sparse mixer: block size")->check(examples::integer_at_least(1));
  app.add_option("--d-state", model_options.d_state, "mamba, s4d: state size N (0: 16 for mamba, 64 for s4d)")
      ->check(examples::integer_between(0, examples::kMaxWidth));
  app.add_option("--seq", seq, "context length in bytes")->check(examples::integer_between(1, 1 << 24));
  app.add_option("--weight-decay", weight_decay, "AdamW weight decay")->check(examples::number_at_least(0));
  app.add_option("--eval-every", eval_every, "steps between validation losses and checkpoints")->check(examples::integer_at_least(1));
  // Up to 2^16: 2^28 bytes of windows at the default batch and --seq, hundreds of times the validation
  // split (a huge count never finished the first evaluation).
  app.add_option("--eval-batches", eval_batches, "validation batches per evaluation")
      ->check(examples::integer_between(1, 1 << 16));
  app.add_option("--time-budget", time_budget, "stop after this many seconds of training (0: no limit)")
      ->check(examples::number_at_least(0));
  app.add_flag("--generate", generate_only, "only sample text from the --resume checkpoint");
  app.add_option("--prompt", prompt, "text the sample continues");
  app.add_option("--tokens", tokens, "bytes to sample")->check(examples::integer_between(0, 1 << 24));
  app.add_option("--temperature", sampling.temperature, "sampling temperature")->check(examples::number_above(0));
  app.add_option("--top-k", sampling.top_k, "sample among the k most likely bytes (0: all)")->check(CLI::Range(0, 256));
  app.add_option("--top-p", sampling.top_p, "nucleus sampling mass (1: all)")->check(examples::number_between(1e-9, 1.0));
  return examples::run_trainer(app, argc, argv, [&] {
    const Device device = examples::select_device(opt.device, "lm");
    EMBER_CHECK(is_recurrent(model_options.mixer) || model_options.d_model % model_options.heads == 0, "lm",
                "--d-model {} is not a multiple of --heads {}", model_options.d_model, model_options.heads);
    EMBER_CHECK(!generate_only || !opt.resume.empty(), "lm", "--generate needs --resume CHECKPOINT");
    examples::create_output_folder(opt.out);
    manual_seed(opt.seed);
    model_options.max_len = seq;
    auto model = std::make_shared<LanguageModelImpl>(model_options);
    model->to(device);
    const std::unique_ptr<optim::AdamW> optimizer_ptr = make_optimizer(*model, opt.lr, weight_decay);
    optim::AdamW& optimizer = *optimizer_ptr;
    int64_t step = 0;
    examples::MixedPrecision amp(opt.amp);
    amp.scaler().add_parameter_names(*model);
    // --amp fp16: the scale per step, overflows named
    amp.log_scale_to(opt.out + "/loss_scale.csv", !opt.resume.empty());
    if (!opt.resume.empty()) {
      io::Checkpoint ck{.model = model.get(), .optimizer = &optimizer};
      step = examples::load_checkpoint("lm", "--resume", opt.resume, ck);
      check_architecture(ck.extra, model_options);
      amp.load_state(ck.extra);
      if (!opt.quiet) fmt::print("resumed from {} at step {}\n", opt.resume, step);
    }
    Generator sampler(opt.seed + 1);
    if (generate_only) {
      fmt::print("{}{}\n", prompt, generate(*model, prompt, tokens, sampling, sampler, device));
      return;
    }
    const Corpus corpus = load_fortunes(fortunes_dir(opt.data_dir));
    // Checked now, not at the first evaluation after --eval-every steps of training.
    for (const auto& [split, text] : {std::pair{"training", &corpus.train}, std::pair{"validation", &corpus.validation}})
      EMBER_CHECK(static_cast<int64_t>(text->size()) > seq + 1, "lm",
                  "the {} split of the corpus ({} bytes) is shorter than one window of --seq {} + 1", split,
                  text->size(), seq);
    if (!opt.quiet)
      fmt::print("{}{}corpus: {} training bytes, {} validation bytes; {} parameters\n", info(), model->str(),
                 corpus.train.size(), corpus.validation.size(), model->num_parameters());
    examples::CsvLog log(opt.out + "/metrics.csv", {"step", "train_loss", "val_loss", "tokens_per_s", "seconds"}, !opt.resume.empty());
    const std::string checkpoint_path = opt.out + "/checkpoint.safetensors";
    examples::ProgressBar bar(fmt::format("lm --mixer {}", model_options.mixer), opt.steps);
    const auto start = std::chrono::steady_clock::now();
    double loss_sum = 0;
    int64_t losses = 0, tokens_seen = 0;
    auto window_start = std::chrono::steady_clock::now();
    bool out_of_time = false;
    const std::string diverged_hint = fmt::format("--lr {}, --weight-decay {}", opt.lr, weight_decay);
    while (step < opt.steps && !out_of_time) {
      // Windows come from the default generator, whose state the checkpoint keeps: a resumed run
      // sees the batches the uninterrupted one would have.
      const Tensor w = sample_windows(corpus.train, opt.batch_size, seq, default_generator()).to(device);
      Tensor loss;
      {
        auto scope = amp.autocast();
        const Tensor logits = model->forward(narrow(w, 1, 0, seq));
        loss = cross_entropy(logits.reshape({-1, 256}), narrow(w, 1, 1, seq).reshape({-1}));
      }
      optimizer.zero_grad();
      amp.backward(loss);
      amp.step(optimizer);
      amp.update();
      ++step;
      const double loss_value = loss.item<double>();
      // A diverged run (too large an --lr or --weight-decay) went on to NaN weights, and failed only
      // when sampling the text, with "[multinomial] probabilities must be finite".
      if (!amp.scaler().is_enabled())
        examples::check_finite_loss("lm", "training loss", loss_value, step, diverged_hint);
      loss_sum += loss_value;
      ++losses;
      tokens_seen += opt.batch_size * seq;
      const double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - window_start).count();
      const double tokens_per_s = static_cast<double>(tokens_seen) / std::max(secs, 1e-9);
      if (!opt.quiet) bar.update(step, fmt::format("loss {:.3f} {:.0f} tok/s", loss_sum / losses, tokens_per_s));
      out_of_time = time_budget > 0 &&
                    std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count() >= time_budget;
      if (step % eval_every == 0 || step == opt.steps || out_of_time) {
        const double val = validation_loss(*model, corpus.validation, eval_batches, opt.batch_size, seq, device);
        examples::check_finite_loss("lm", "validation loss", val, step, diverged_hint);
        const double total = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
        log.row(step, loss_sum / losses, val, tokens_per_s, total);
        if (!opt.quiet) fmt::print("step {}: train loss {:.4f} | val loss {:.4f} ({:.3f} bits/byte) | {:.0f} tok/s\n", step,
                                   loss_sum / losses, val, val / std::log(2.0), tokens_per_s);
        nn::NamedTensors extra = architecture_extras(model_options);
        amp.save_state(extra);
        io::save_checkpoint(checkpoint_path, {.model = model.get(), .optimizer = &optimizer, .step = step, .extra = extra});
        loss_sum = 0;
        losses = 0;
        tokens_seen = 0;
        window_start = std::chrono::steady_clock::now();
      }
    }
    const std::string sample = prompt + generate(*model, prompt, tokens, sampling, sampler, device);
    const std::string text = sample + "\n";
    io::write_file_atomic(opt.out + "/sample.txt", std::vector<uint8_t>(text.begin(), text.end()));  // errors, unlike an ofstream
    if (!opt.quiet) fmt::print("sample:\n{}\nwrote {}/metrics.csv, {}, {}/sample.txt\n", sample, opt.out, checkpoint_path, opt.out);
  });
}
