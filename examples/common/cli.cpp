#include "examples/common/cli.h"

#include <fmt/format.h>
#include <unistd.h>

#include <cerrno>
#include <charconv>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <exception>
#include <filesystem>
#include <new>

#include <ember/backends/cuda/cuda.h>
#include <ember/core/error.h>
#include <ember/data/fashion_mnist.h>

namespace ember::examples {
namespace {

template <typename T>
bool parse_whole(const std::string& text, T& value) {
  const char* end = text.data() + text.size();
  auto [ptr, ec] = std::from_chars(text.data(), end, value);
  return ec == std::errc() && ptr == end;
}

bool parse_number(const std::string& text, double& value) {
  if (text.empty() || std::isspace(static_cast<unsigned char>(text[0]))) return false;
  char* end = nullptr;
  errno = 0;
  value = std::strtod(text.c_str(), &end);
  return end == text.c_str() + text.size() && errno != ERANGE && std::isfinite(value);
}

// One line, whatever the exception held.
void report_error(const std::string& message) {
  std::string line = message;
  for (char& c : line)
    if (c == '\n' || c == '\r') c = ' ';
  std::fflush(stdout);
  // On a terminal a progress bar may hold the current line without its newline: clear it first.
  fmt::print(stderr, "{}error: {}\n", ::isatty(::fileno(stderr)) ? "\r\033[K" : "", line);
}

// CLI11 writes a default as "--lr FLOAT:>0=0.001", which reads as part of the type; this puts it
// after the description instead: "--lr FLOAT:>0   Learning rate [default: 0.001]".
class DefaultsAfterDescription : public CLI::Formatter {
 public:
  std::string make_option_opts(const CLI::Option* opt) const override {
    return opt->get_type_size() == 0 || opt->get_type_name().empty() ? "" : " " + opt->get_type_name();
  }
  std::string make_option_desc(const CLI::Option* opt) const override {
    if (opt->get_type_size() == 0 || opt->get_default_str().empty()) return opt->get_description();
    return fmt::format("{} [default: {}]", opt->get_description(), opt->get_default_str());
  }
};

}  // namespace

void show_defaults_in_help(CLI::App& app) {
  app.option_defaults()->always_capture_default();
  app.formatter(std::make_shared<DefaultsAfterDescription>());
}

CLI::Validator integer_at_least(int64_t min) {
  const std::string expected = min == 1 ? "a positive integer" : fmt::format("an integer of at least {}", min);
  return CLI::Validator(
      [min, expected](std::string& text) -> std::string {
        int64_t value = 0;
        if (parse_whole(text, value) && value >= min) return "";
        return fmt::format("expected {}, got \"{}\"", expected, text);
      },
      min == 1 ? ">0" : fmt::format(">={}", min));
}

CLI::Validator integer_between(int64_t min, int64_t max) {
  const std::string expected = fmt::format("an integer from {} to {}", min, max);
  return CLI::Validator(
      [min, max, expected](std::string& text) -> std::string {
        int64_t value = 0;
        if (parse_whole(text, value) && value >= min && value <= max) return "";
        return fmt::format("expected {}, got \"{}\"", expected, text);
      },
      fmt::format("[{}, {}]", min, max));
}

CLI::Validator unsigned_integer() {
  return CLI::Validator(
      [](std::string& text) -> std::string {
        uint64_t value = 0;
        if (parse_whole(text, value)) return "";
        return fmt::format("expected an integer from 0 to {}, got \"{}\"", UINT64_MAX, text);
      },
      ">=0");
}

CLI::Validator number_above(double min) {
  return CLI::Validator(
      [min](std::string& text) -> std::string {
        double value = 0;
        if (parse_number(text, value) && value > min) return "";
        return fmt::format("expected a number greater than {}, got \"{}\"", min, text);
      },
      fmt::format(">{}", min));
}

CLI::Validator number_at_least(double min) {
  return CLI::Validator(
      [min](std::string& text) -> std::string {
        double value = 0;
        if (parse_number(text, value) && value >= min) return "";
        return fmt::format("expected a number of at least {}, got \"{}\"", min, text);
      },
      fmt::format(">={}", min));
}

CLI::Validator number_between(double min, double max) {
  return CLI::Validator(
      [min, max](std::string& text) -> std::string {
        double value = 0;
        if (parse_number(text, value) && value >= min && value <= max) return "";
        return fmt::format("expected a number in [{}, {}], got \"{}\"", min, max, text);
      },
      fmt::format("[{}, {}]", min, max));
}

void add_common_options(CLI::App& app, CommonOptions& o, Epochs epochs) {
  show_defaults_in_help(app);
  if (epochs == Epochs::kOffered) {
    app.add_option("--steps", o.steps, "Stop after this many optimizer steps (0: run --epochs)")
        ->check(integer_at_least(0));
    app.add_option("--epochs", o.epochs, "Passes over the training set")->check(integer_at_least(0));
  } else {  // steps are the only length of a run: 0 would train nothing (or, where 0 was a default, the default)
    app.add_option("--steps", o.steps, "Stop after this many optimizer steps")->check(integer_at_least(1));
  }
  app.add_option("--batch-size", o.batch_size, "Examples per step")->check(integer_between(1, kMaxBatchSize));
  app.add_option("--lr", o.lr, "Learning rate")->check(number_above(0));
  app.add_option("--device", o.device, "cpu or cuda[:N]");
  app.add_option("--amp", o.amp, "Mixed precision: bf16 or fp16 autocast (fp16 with loss scaling), or off")
      ->check(CLI::IsMember({"off", "bf16", "fp16"}));
  app.add_option("--seed", o.seed, "Random seed")->check(unsigned_integer());
  app.add_option("--out", o.out, "Folder for metrics, images and checkpoints");
  app.add_option("--resume", o.resume, "Checkpoint to resume from");
  app.add_option("--data-dir", o.data_dir, "Folder of the Fashion-MNIST files")
      ->default_str(fmt::format("$EMBER_DATA, else {}", data::kFashionMnistDir));
  app.add_flag("--quiet", o.quiet, "No progress bar");
}

Device select_device(const std::string& device_option, const char* trainer) {
  const Device device = Device::parse(device_option);
  if (device.is_cuda()) {
    const int count = cuda::device_count();
    EMBER_CHECK(count > 0, trainer, "--device {}: no CUDA device found ({})", device_option,
                cuda::backend_description());
    EMBER_CHECK(device.index < count, trainer, "--device {}: this machine has {} CUDA device(s), cuda:0 to cuda:{}",
                device_option, count, count - 1);
  }
  return device;
}

std::string dataset_dir(const std::string& data_dir_option) {
  if (!data_dir_option.empty()) return data_dir_option;
  const char* from_environment = std::getenv("EMBER_DATA");
  if (from_environment != nullptr && *from_environment != '\0') return from_environment;
  return data::kFashionMnistDir;
}

void create_output_folder(const std::string& out) {
  namespace fs = std::filesystem;
  EMBER_CHECK(!out.empty(), "--out", "the output folder is an empty path");
  std::error_code error;
  const fs::file_status status = fs::status(out, error);
  EMBER_CHECK(!fs::exists(status) || fs::is_directory(status), "--out", "\"{}\" exists and is not a folder", out);
  fs::create_directories(out, error);
  EMBER_CHECK(!error, "--out", "cannot create the folder \"{}\": {}", out, error.message());
  EMBER_CHECK(fs::is_directory(out, error), "--out", "\"{}\" is not a folder", out);
  EMBER_CHECK(::access(out.c_str(), W_OK | X_OK) == 0, "--out", "cannot write into \"{}\": {}", out,
              std::strerror(errno));
}

void check_output_file(const char* option, const std::string& path) {
  namespace fs = std::filesystem;
  EMBER_CHECK(!path.empty(), option, "the output file is an empty path");
  std::error_code error;
  EMBER_CHECK(!fs::is_directory(path, error), option, "\"{}\" is a folder, not a file", path);
  const fs::path parent = fs::path(path).parent_path();
  const std::string folder = parent.empty() ? "." : parent.string();
  const fs::file_status status = fs::status(folder, error);
  EMBER_CHECK(fs::exists(status), option, "cannot write \"{}\": the folder \"{}\" does not exist", path, folder);
  EMBER_CHECK(fs::is_directory(status), option, "cannot write \"{}\": \"{}\" is not a folder", path, folder);
  EMBER_CHECK(::access(folder.c_str(), W_OK | X_OK) == 0, option, "cannot write into the folder \"{}\": {}", folder,
              std::strerror(errno));
}

void refuse_options(const CLI::App& app, const char* trainer, std::initializer_list<const char*> options,
                    const std::string& why) {
  for (const char* option : options)
    EMBER_CHECK(app.count(option) == 0, trainer, "{} is not used {}", option, why);
}

int run_trainer(CLI::App& app, int argc, char** argv, const std::function<void()>& train) {
  try {
    app.parse(argc, argv);
  } catch (const CLI::CallForHelp&) {
    fmt::print("{}", app.help());
    return 0;
  } catch (const CLI::ParseError& e) {
    if (e.get_exit_code() == 0) return app.exit(e);
    report_error(fmt::format("{} (see --help)", e.what()));
    return 1;
  }
  try {
    train();
    return 0;
  } catch (const std::bad_alloc&) {
    report_error("out of memory");
  } catch (const std::exception& e) {
    report_error(e.what());
  } catch (...) {
    report_error("an exception of unknown type");
  }
  return 1;
}

void fail_diverged(const char* trainer, std::string_view what, double value, int64_t step, std::string_view hint) {
  // (NaN without its sign: "nan", not "-nan")
  EMBER_FAIL(trainer, "the {} is {} at step {}: the run diverged ({})", what, std::isnan(value) ? std::fabs(value) : value,
             step, hint);
}

}  // namespace ember::examples
