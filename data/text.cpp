#include <ember/data/text.h>

#include <algorithm>
#include <filesystem>

#include <ember/io/file.h>
#include <ember/ops/ops.h>

namespace ember::data {

TextFile::TextFile(std::vector<uint8_t> bytes, int64_t seq_len, int64_t stride)
    : bytes_(std::move(bytes)), seq_len_(seq_len), stride_(stride > 0 ? stride : seq_len) {
  EMBER_CHECK(seq_len > 0, "TextFile", "seq_len must be positive, got {}", seq_len);
  EMBER_CHECK(stride >= 0, "TextFile", "stride must be positive (or 0 for seq_len), got {}", stride);
  EMBER_CHECK(static_cast<int64_t>(bytes_.size()) > seq_len, "TextFile", "{} bytes of text are too few for seq_len {}",
              bytes_.size(), seq_len);
}

std::shared_ptr<TextFile> TextFile::load(const std::string& path, int64_t seq_len, int64_t stride) {
  namespace fs = std::filesystem;
  std::error_code error;
  const fs::file_status status = fs::status(path, error);
  EMBER_CHECK(fs::exists(status), "TextFile", "\"{}\" not found{}", path,
              path.rfind(kFortunesDir, 0) == 0 ? ": install the Debian package fortunes (scripts/install-deps.sh does)" : "");
  std::vector<std::string> files;
  if (fs::is_directory(status)) {
    fs::directory_iterator it(path, error), end;
    for (; !error && it != end; it.increment(error))
      if (it->is_regular_file(error) && it->path().extension() != ".dat" && it->path().extension() != ".u8")
        files.push_back(it->path());
    EMBER_CHECK(!error, "TextFile", "cannot list the folder \"{}\": {}", path, error.message());
    EMBER_CHECK(!files.empty(), "TextFile", "the folder \"{}\" holds no text files", path);
    std::sort(files.begin(), files.end());
  } else {
    files.push_back(path);
  }
  std::vector<uint8_t> bytes;
  try {
    for (const auto& f : files) {
      std::vector<uint8_t> file_bytes = io::read_file(f);
      bytes.insert(bytes.end(), file_bytes.begin(), file_bytes.end());
    }
  } catch (const Error& e) {
    throw Error(fmt::format("[TextFile] {}", e.what()));
  }
  return std::make_shared<TextFile>(std::move(bytes), seq_len, stride);
}

int64_t TextFile::size() const { return (static_cast<int64_t>(bytes_.size()) - seq_len_ - 1) / stride_ + 1; }

Batch TextFile::get_batch(const std::vector<int64_t>& indices) const {
  const int64_t b = static_cast<int64_t>(indices.size());
  Tensor data = Tensor::empty({b, seq_len_}, DType::Int64), target = Tensor::empty({b, seq_len_}, DType::Int64);
  int64_t* d = data.data<int64_t>();
  int64_t* t = target.data<int64_t>();
  for (int64_t i = 0; i < b; ++i) {
    EMBER_CHECK(indices[i] >= 0 && indices[i] < size(), "TextFile", "example {} out of range [0, {})", indices[i], size());
    const uint8_t* src = bytes_.data() + indices[i] * stride_;
    for (int64_t j = 0; j < seq_len_; ++j) {
      d[i * seq_len_ + j] = src[j];
      t[i * seq_len_ + j] = src[j + 1];
    }
  }
  return {data, target};
}

}  // namespace ember::data
