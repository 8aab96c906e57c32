// lm_plot: draws validation loss against training time for the mixers examples/lm/compare.sh
// trained, from each one's metrics.csv, and prints the table of final figures (Markdown).
//   lm_plot OUT_FOLDER MIXER...    reads OUT_FOLDER/MIXER/metrics.csv, writes OUT_FOLDER/compare.svg
#include <fmt/format.h>

#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include <ember/io/plot.h>

int main(int argc, char** argv) {
  if (argc < 3) {
    fmt::print(stderr, "usage: lm_plot OUT_FOLDER MIXER...\n");
    return 1;
  }
  const std::string folder = argv[1];
  ember::io::Plot plot({.title = "byte-level LM on fortunes, same wall-clock budget",
                        .xlabel = "training time (s)", .ylabel = "validation loss (nats/byte)"});
  fmt::print("| mixer | steps | final validation loss (nats/byte) | bits/byte | tokens/s |\n|---|---|---|---|---|\n");
  for (int i = 2; i < argc; ++i) {
    std::ifstream in(folder + "/" + argv[i] + "/metrics.csv");
    if (!in) {
      fmt::print(stderr, "error: no {}/{}/metrics.csv\n", folder, argv[i]);
      return 1;
    }
    std::string line;
    std::getline(in, line);  // step,train_loss,val_loss,tokens_per_s,seconds
    std::vector<double> seconds, losses;
    double last_step = 0, last_tokens = 0;
    while (std::getline(in, line)) {
      std::stringstream row(line);
      std::string cell;
      std::vector<double> cells;
      while (std::getline(row, cell, ',')) cells.push_back(std::stod(cell));
      if (cells.size() < 5) continue;
      last_step = cells[0];
      losses.push_back(cells[2]);
      last_tokens = cells[3];
      seconds.push_back(cells[4]);
    }
    if (losses.empty()) continue;
    plot.line(seconds, losses, {.label = argv[i], .markers = true});
    fmt::print("| {} | {:.0f} | {:.3f} | {:.3f} | {:.0f} |\n", argv[i], last_step, losses.back(),
               losses.back() / 0.6931471805599453, last_tokens);
  }
  plot.save(folder + "/compare.svg");
  fmt::print("\nwrote {}/compare.svg\n", folder);
}
