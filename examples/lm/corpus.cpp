#include "examples/lm/corpus.h"

#include <algorithm>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>

#include <ember/core/error.h>
#include <ember/ops/ops.h>

namespace ember::examples::lm {

std::string fortunes_dir(const std::string& data_dir_option) {
  if (!data_dir_option.empty()) return data_dir_option;
  if (const char* env = std::getenv("EMBER_FORTUNES"); env && *env) return env;
  return "/usr/share/games/fortunes";
}

Corpus load_fortunes(const std::string& folder) {
  namespace fs = std::filesystem;
  std::error_code ec;
  EMBER_CHECK(fs::is_directory(folder, ec), "lm",
              "{} is not a folder of fortunes (install the Debian package fortunes, or pass --data-dir)", folder);
  std::vector<fs::path> files;
  for (const auto& entry : fs::directory_iterator(folder, ec)) {
    const fs::path& p = entry.path();
    // The text files have no extension; .dat are strfile indexes, .u8 links to the same text.
    if (entry.is_regular_file() && !p.has_extension()) files.push_back(p);
  }
  std::sort(files.begin(), files.end());
  Corpus corpus;
  int64_t index = 0;
  for (const fs::path& p : files) {
    std::ifstream in(p, std::ios::binary);
    std::stringstream buffer;
    buffer << in.rdbuf();
    std::string fortune;
    std::istringstream lines(buffer.str());
    std::string line;
    auto flush = [&] {
      if (fortune.find_first_not_of(" \t\n") != std::string::npos) {
        auto& part = index++ % 20 == 19 ? corpus.validation : corpus.train;
        part.insert(part.end(), fortune.begin(), fortune.end());
      }
      fortune.clear();
    };
    while (std::getline(lines, line)) {
      if (line == "%") {
        flush();
      } else {
        fortune += line;
        fortune += '\n';
      }
    }
    flush();
  }
  EMBER_CHECK(!corpus.train.empty() && !corpus.validation.empty(), "lm", "found no fortunes in {} ({} files)", folder,
              files.size());
  return corpus;
}

Tensor sample_windows(const std::vector<uint8_t>& text, int64_t batch, int64_t seq, Generator& gen) {
  const int64_t n = static_cast<int64_t>(text.size());
  EMBER_CHECK(n > seq + 1, "lm", "the text ({} bytes) is shorter than one window of --seq {} + 1", n, seq);
  const std::vector<int64_t> starts = randint(0, n - seq - 1, std::vector<int64_t>{batch}, {.dtype = DType::Int64}, &gen).to_vector<int64_t>();
  std::vector<int64_t> tokens(static_cast<size_t>(batch * (seq + 1)));
  for (int64_t b = 0; b < batch; ++b)
    for (int64_t t = 0; t <= seq; ++t) tokens[b * (seq + 1) + t] = text[starts[b] + t];
  return from_vector(tokens, std::vector<int64_t>{batch, seq + 1}, {.dtype = DType::Int64});
}

}  // namespace ember::examples::lm
