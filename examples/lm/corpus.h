#pragma once
// The byte-level corpus of the language-model trainer: the fortunes of the Debian package `fortunes`
// (plain text, one fortune after each "%" line), cut into a training and a validation part.
#include <cstdint>
#include <string>
#include <vector>

#include <ember/core/generator.h>
#include <ember/core/tensor.h>

namespace ember::examples::lm {

struct Corpus {
  std::vector<uint8_t> train, validation;  // bytes; fortunes end with '\n'
};

// Reads every fortune file in `folder` (not its subfolders, so not the offensive ones in off/), in
// name order. Every 20th fortune goes to validation. An error names the folder when it holds none.
Corpus load_fortunes(const std::string& folder);

// The folder to read: --data-dir when given, else $EMBER_FORTUNES, else the Debian package's.
std::string fortunes_dir(const std::string& data_dir_option);

// `batch` windows of seq + 1 bytes at random offsets of `text` (int64 [batch, seq + 1]).
Tensor sample_windows(const std::vector<uint8_t>& text, int64_t batch, int64_t seq, Generator& gen);

}  // namespace ember::examples::lm
