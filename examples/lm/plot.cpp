// lm_plot: draws validation loss against training time for the mixers examples/lm/compare.sh
// trained, from each one's metrics.csv, and prints the table of final figures (Markdown).
//   lm_plot OUT_FOLDER MIXER...    reads OUT_FOLDER/MIXER/metrics.csv, writes OUT_FOLDER/compare.svg
#include <fmt/format.h>

#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include <ember/core/error.h>
#include <ember/io/plot.h>

namespace {

// One cell of metrics.csv as a number, or an error naming the file and line (std::stod threw
// std::invalid_argument or std::out_of_range, which ended the program).
double parse_cell(const std::string& cell, const std::string& path, int line_number) {
  size_t used = 0;
  double value = 0;
  try {
    value = std::stod(cell, &used);
  } catch (const std::exception&) {
    used = 0;
  }
  EMBER_CHECK(used != 0 && used == cell.size(), "lm_plot", "{} line {}: \"{}\" is not a number", path, line_number, cell);
  return value;
}

void plot_runs(const std::string& folder, const std::vector<std::string>& mixers) {
  ember::io::Plot plot({.title = "byte-level LM on fortunes, same wall-clock budget",
                        .xlabel = "training time (s)", .ylabel = "validation loss (nats/byte)"});
  fmt::print("| mixer | steps | final validation loss (nats/byte) | bits/byte | tokens/s |\n|---|---|---|---|---|\n");
  for (const std::string& mixer : mixers) {
    const std::string path = folder + "/" + mixer + "/metrics.csv";
    std::ifstream in(path);
    EMBER_CHECK(static_cast<bool>(in), "lm_plot", "cannot read {}", path);
    std::string line;
    std::getline(in, line);  // step,train_loss,val_loss,tokens_per_s,seconds
    std::vector<double> seconds, losses;
    double last_step = 0, last_tokens = 0;
    for (int line_number = 2; std::getline(in, line); ++line_number) {
      std::stringstream row(line);
      std::string cell;
      std::vector<double> cells;
      while (std::getline(row, cell, ',')) cells.push_back(parse_cell(cell, path, line_number));
      if (cells.size() < 5) continue;
      last_step = cells[0];
      losses.push_back(cells[2]);
      last_tokens = cells[3];
      seconds.push_back(cells[4]);
    }
    if (losses.empty()) continue;
    plot.line(seconds, losses, {.label = mixer, .markers = true});
    fmt::print("| {} | {:.0f} | {:.3f} | {:.3f} | {:.0f} |\n", mixer, last_step, losses.back(),
               losses.back() / 0.6931471805599453, last_tokens);
  }
  plot.save(folder + "/compare.svg");
  fmt::print("\nwrote {}/compare.svg\n", folder);
}

}  // namespace

int main(int argc, char** argv) {
  const std::string usage = "usage: lm_plot OUT_FOLDER MIXER...\n";
  if (argc == 2 && (std::string(argv[1]) == "--help" || std::string(argv[1]) == "-h")) {
    fmt::print("{}", usage);
    return 0;
  }
  if (argc < 3) {
    fmt::print(stderr, "{}", usage);
    return 1;
  }
  try {  // every error is one line and a non-zero exit, as in the trainers
    plot_runs(argv[1], std::vector<std::string>(argv + 2, argv + argc));
  } catch (const std::exception& e) {
    fmt::print(stderr, "error: {}\n", e.what());
    return 1;
  }
  return 0;
}
