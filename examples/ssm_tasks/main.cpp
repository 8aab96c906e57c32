// The Mamba paper's synthetic tasks (induction heads, selective copying) for Mamba, its LTI ablation
// and softmax attention, trained on the fly and evaluated at the training length and beyond. Prints
// one table row per (task, model, evaluation length) and writes them to --out/results.csv.
//   ssm_tasks --task induction --models mamba,attention --steps 2000
//   ssm_tasks --task copying --seq 256 --models mamba,lti,attention
#include <algorithm>
#include <chrono>
#include <fstream>
#include <sstream>

#include <ember/ember.h>
#include <ember/optim/optim.h>

#include "examples/common/amp.h"
#include "examples/common/cli.h"
#include "examples/ssm_tasks/tasks.h"

using namespace ember;
using namespace ember::examples::ssm_tasks;

namespace {

std::vector<std::string> split(const std::string& text) {
  std::vector<std::string> parts;
  std::stringstream in(text);
  for (std::string part; std::getline(in, part, ',');)
    if (!part.empty()) parts.push_back(part);
  return parts;
}

struct Row {
  std::string task, model;
  int64_t train_length, length;
  double accuracy;
};

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"Train Mamba, its LTI ablation and attention on the Mamba paper's synthetic tasks"};
  examples::CommonOptions opt;
  opt.steps = 2000;
  opt.batch_size = 16;
  opt.lr = 1e-3;
  opt.out = "out/ssm_tasks";
  add_common_options(app, opt, examples::Epochs::kNotOffered);
  app.get_option("--data-dir")->description("Not used: the tasks' sequences are generated")->default_str("");
  std::string tasks = "induction", models = "mamba,lti,attention";
  ModelOptions model_options;
  int64_t seq = 256, max_eval_length = 65536, max_attention_length = 4096, eval_samples = 64, log_every = 100;
  app.add_option("--task", tasks, "induction, copying, or both comma-separated");
  app.add_option("--models", models, "comma-separated: mamba, lti (Mamba without selection), attention");
  app.add_option("--seq", seq, "training length (selective copying: noise positions before the 16 markers)")
      ->check(examples::integer_between(16, 1 << 24));
  app.add_option("--d-model", model_options.d_model, "model width")
      ->check(examples::integer_between(1, examples::kMaxWidth));
  app.add_option("--layers", model_options.layers, "blocks")->check(examples::integer_between(1, 1024));
  app.add_option("--d-state", model_options.d_state, "Mamba state size N")
      ->check(examples::integer_between(1, examples::kMaxWidth));
  // Up to 2^20, the longest length the Mamba paper evaluates (beyond it the activations outgrow memory).
  app.add_option("--max-eval-length", max_eval_length, "induction heads: evaluate at seq, 2 seq, ... up to this")
      ->check(examples::integer_between(16, 1 << 20));
  app.add_option("--max-attention-length", max_attention_length,
                 "longest evaluation for attention (its cost grows as length^2)")
      ->check(examples::integer_between(16, 1 << 20));
  app.add_option("--eval-samples", eval_samples, "sequences per evaluation length")
      ->check(examples::integer_between(1, examples::kMaxEvalSamples));
  app.add_option("--log-every", log_every, "steps between training-loss lines")->check(examples::integer_at_least(1));
  return examples::run_trainer(app, argc, argv, [&] {
    EMBER_CHECK(opt.device == "cpu" || examples::select_device(opt.device, "ssm_tasks") == Device::cpu(), "ssm_tasks",
                "runs on the CPU only for now (got --device {})", opt.device);
    std::vector<Task> task_list;
    for (const std::string& t : split(tasks)) task_list.push_back(parse_task(t));
    std::vector<ModelKind> model_list;
    for (const std::string& m : split(models)) model_list.push_back(parse_model(m));
    EMBER_CHECK(!task_list.empty() && !model_list.empty(), "ssm_tasks", "--task and --models must name at least one each");
    EMBER_CHECK(model_options.d_model % model_options.heads == 0 ||
                    std::find(model_list.begin(), model_list.end(), ModelKind::Attention) == model_list.end(),
                "ssm_tasks", "--d-model {} is not a multiple of the {} attention heads", model_options.d_model,
                model_options.heads);
    EMBER_CHECK(opt.resume.empty(), "ssm_tasks", "--resume: this trainer writes no checkpoints (each run is minutes)");
    examples::refuse_options(app, "ssm_tasks", {"--data-dir"}, "(the tasks' sequences are generated, not read)");
    const bool induction = std::find(task_list.begin(), task_list.end(), Task::InductionHeads) != task_list.end();
    EMBER_CHECK(!induction || max_eval_length >= seq, "ssm_tasks",
                "--max-eval-length {} is below --seq {}: the evaluation starts at the training length", max_eval_length,
                seq);
    examples::create_output_folder(opt.out);
    std::vector<Row> rows;
    for (Task task : task_list)
      for (ModelKind kind : model_list) {
        manual_seed(opt.seed);
        std::mt19937_64 data(opt.seed + 1);
        SequenceModel model(kind, model_options);
        optim::Adam adam(model.parameters(), {.lr = opt.lr});  // no weight decay, as in the paper
        examples::MixedPrecision amp(opt.amp);  // the scan's state stays float32 under autocast
        amp.scaler().add_parameter_names(model);
        amp.log_scale_to(fmt::format("{}/loss_scale_{}_{}.csv", opt.out, task_name(task), model_name(kind)),
                         /*resumed=*/false);
        const auto start = std::chrono::steady_clock::now();
        // The mean training loss over the first and the last tenth of the steps (one batch is noisy).
        const int64_t tenth = std::max<int64_t>(1, opt.steps / 10);
        double first_loss = 0, last_loss = 0;
        const std::string diverged_hint = fmt::format("--lr {}", opt.lr);
        for (int64_t step = 1; step <= opt.steps; ++step) {
          const Batch batch = make_batch(task, opt.batch_size, seq, data);
          Score s{};
          {
            auto scope = amp.autocast();
            s = score(model, batch);
          }
          adam.zero_grad();
          amp.backward(s.loss);
          amp.step(adam);
          amp.update();
          const double loss = s.loss.item<double>();
          // A diverged run (too large an --lr) went on printing nan; under --amp fp16 the scaler
          // expects and skips inf/NaN steps.
          if (!amp.scaler().is_enabled())
            examples::check_finite_loss("ssm_tasks", "training loss", loss, step, diverged_hint);
          if (step <= tenth) first_loss += loss / static_cast<double>(tenth);
          if (step > opt.steps - tenth) last_loss += loss / static_cast<double>(tenth);
          if (!opt.quiet && (step % log_every == 0 || step == opt.steps))
            fmt::print("{} {} step {} loss {:.4f} accuracy {:.3f}\n", task_name(task), model_name(kind), step, loss,
                       s.accuracy);
          std::fflush(stdout);
        }
        const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
        fmt::print("{} {}: {} parameters, {} steps in {:.1f} s, mean training loss {:.4f} -> {:.4f}\n", task_name(task),
                   model_name(kind), model.num_parameters(), opt.steps, seconds, first_loss, last_loss);
        // Evaluation: induction heads at the training length and every doubling up to the limit;
        // selective copying at the training length.
        NoGradGuard no_grad;
        model.eval();
        std::mt19937_64 eval_data(opt.seed + 1000);
        const int64_t longest = task == Task::InductionHeads ? max_eval_length : seq;
        for (int64_t length = seq; length <= longest; length *= 2) {
          if (kind == ModelKind::Attention && length > max_attention_length) break;
          // Batches of at most 2^18 tokens keep the activations of the longest lengths in memory.
          const int64_t per_batch = std::max<int64_t>(1, std::min(eval_samples, (int64_t{1} << 18) / length));
          double right = 0;
          int64_t seen = 0;
          while (seen < eval_samples) {
            const int64_t n = std::min(per_batch, eval_samples - seen);
            auto scope = amp.autocast();
            right += score(model, make_batch(task, n, length, eval_data)).accuracy * static_cast<double>(n);
            seen += n;
          }
          rows.push_back({task_name(task), model_name(kind), seq, length, right / static_cast<double>(seen)});
          fmt::print("{} {} length {}: accuracy {:.3f}\n", task_name(task), model_name(kind), length, rows.back().accuracy);
          std::fflush(stdout);
          if (length > longest / 2) break;  // the next length is past the limit (and doubling could pass 2^63)
        }
      }
    std::string csv = "task,model,train_length,length,accuracy\n";
    fmt::print("\n{:<10} {:<10} {:>12} {:>10} {:>9}\n", "task", "model", "train length", "length", "accuracy");
    for (const Row& r : rows) {
      csv += fmt::format("{},{},{},{},{:.4f}\n", r.task, r.model, r.train_length, r.length, r.accuracy);
      fmt::print("{:<10} {:<10} {:>12} {:>10} {:>9.3f}\n", r.task, r.model, r.train_length, r.length, r.accuracy);
    }
    io::write_file_atomic(opt.out + "/results.csv", std::vector<uint8_t>(csv.begin(), csv.end()));
  });
}
