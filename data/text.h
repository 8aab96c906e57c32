#pragma once
// Byte-level text for language models: every byte is a token (vocabulary 256).
#include <string>
#include <vector>

#include <ember/data/dataset.h>

namespace ember::data {

// The fortunes of Debian's fortunes package, one text (each file's fortunes joined).
inline constexpr const char* kFortunesDir = "/usr/share/games/fortunes";

// Examples are windows of seq_len + 1 bytes: data = the first seq_len, target = the last seq_len
// (the next byte at every position). Example i starts at byte i * stride; stride 0 means seq_len.
class TextFile : public Dataset {
 public:
  TextFile(std::vector<uint8_t> bytes, int64_t seq_len, int64_t stride = 0);
  // A file, or every regular file in a folder (sorted by name, skipping .dat index files).
  static std::shared_ptr<TextFile> load(const std::string& path, int64_t seq_len, int64_t stride = 0);
  int64_t size() const override;
  Batch get_batch(const std::vector<int64_t>& indices) const override;
  const std::vector<uint8_t>& bytes() const { return bytes_; }
  int64_t seq_len() const { return seq_len_; }

 private:
  std::vector<uint8_t> bytes_;
  int64_t seq_len_, stride_;
};

}  // namespace ember::data
