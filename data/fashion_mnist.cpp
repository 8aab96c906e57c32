#include <ember/data/fashion_mnist.h>

#include <zlib.h>

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <vector>

#include <ember/ops/ops.h>

namespace ember::data {

namespace {

constexpr const char* kInstallHint =
    "the Debian package dataset-fashion-mnist installs them in /usr/share/datasets/fashion-mnist "
    "(scripts/install-deps.sh does)";

}  // namespace

Tensor read_idx(const std::string& path) {
  namespace fs = std::filesystem;
  std::error_code error;
  const fs::file_status status = fs::status(path, error);
  EMBER_CHECK(fs::exists(status), "fashion_mnist", "\"{}\" not found: {}", path, kInstallHint);
  EMBER_CHECK(fs::is_regular_file(status), "fashion_mnist", "\"{}\" is {}, not a file", path,
              fs::is_directory(status) ? "a folder" : "a device, pipe or socket");
  gzFile f = gzopen(path.c_str(), "rb");  // also reads uncompressed files
  EMBER_CHECK(f != nullptr, "fashion_mnist", "cannot open \"{}\": {}", path, std::strerror(errno));
  std::vector<uint8_t> bytes;
  uint8_t chunk[1 << 16];
  int n;
  while ((n = gzread(f, chunk, sizeof chunk)) > 0) bytes.insert(bytes.end(), chunk, chunk + n);
  // A truncated gzip stream ends reads without an error of its own: gzerror reports it as Z_BUF_ERROR.
  int err = Z_OK;
  const std::string message = gzerror(f, &err);
  gzclose(f);
  EMBER_CHECK(n == 0 && err != Z_BUF_ERROR, "fashion_mnist", "\"{}\" is {} ({})", path,
              err == Z_BUF_ERROR ? "truncated" : "not a valid gzip file", message.empty() ? "read error" : message);
  // IDX: two zero bytes, a type code (0x08 = unsigned byte), the number of dims, then big-endian sizes.
  EMBER_CHECK(bytes.size() >= 4 && bytes[0] == 0 && bytes[1] == 0 && bytes[2] == 0x08 && bytes[3] >= 1 && bytes[3] <= 4,
              "fashion_mnist", "\"{}\" is not an IDX file of unsigned bytes", path);
  const int ndim = bytes[3];
  EMBER_CHECK(bytes.size() >= 4 + 4u * ndim, "fashion_mnist", "\"{}\" is truncated in its header", path);
  Shape shape;
  uint64_t numel = 1;
  for (int d = 0; d < ndim; ++d) {
    const uint8_t* p = bytes.data() + 4 + 4 * d;
    const uint32_t size = (uint32_t{p[0]} << 24) | (uint32_t{p[1]} << 16) | (uint32_t{p[2]} << 8) | p[3];
    shape.push_back(size);
    EMBER_CHECK(size == 0 || numel <= bytes.size() / size, "fashion_mnist", "\"{}\" claims more data than it holds", path);
    numel *= size;
  }
  const size_t header = 4 + 4 * static_cast<size_t>(ndim);
  EMBER_CHECK(bytes.size() - header == numel, "fashion_mnist", "\"{}\" holds {} bytes of data but its shape {} needs {}", path,
              bytes.size() - header, shape_str(shape), numel);
  Tensor t = Tensor::empty(shape, DType::UInt8);
  std::copy(bytes.begin() + header, bytes.end(), static_cast<uint8_t*>(t.data_ptr()));
  return t;
}

std::shared_ptr<TensorDataset> fashion_mnist(bool train, const std::string& dir) {
  namespace fs = std::filesystem;
  std::error_code error;
  const fs::file_status status = fs::status(dir, error);
  EMBER_CHECK(fs::is_directory(status), "fashion_mnist", "the dataset folder \"{}\" {}: {}", dir,
              fs::exists(status) ? "is not a folder" : "does not exist", kInstallHint);
  const std::string prefix = dir + (train ? "/train" : "/t10k");
  for (const char* kind : {"-images-idx3-ubyte.gz", "-labels-idx1-ubyte.gz"})
    EMBER_CHECK(fs::exists(prefix + kind, error), "fashion_mnist", "the dataset folder \"{}\" has no {}: {}", dir,
                fs::path(prefix + kind).filename().string(), kInstallHint);
  Tensor images = read_idx(prefix + "-images-idx3-ubyte.gz");
  Tensor labels = read_idx(prefix + "-labels-idx1-ubyte.gz");
  EMBER_CHECK(images.dim() == 3 && images.size(1) == 28 && images.size(2) == 28 && labels.dim() == 1 &&
                  labels.size(0) == images.size(0),
              "fashion_mnist", "unexpected shapes in {}: images {} and labels {}", dir, shape_str(images.shape()),
              shape_str(labels.shape()));
  EMBER_CHECK(labels.numel() == 0 || max(labels).item<int64_t>() < 10, "fashion_mnist", "labels in {} exceed 9", dir);
  NoGradGuard no_grad;
  return std::make_shared<TensorDataset>(images.to(DType::Float32).unsqueeze(1) / 255.0, labels.to(DType::Int64));
}

}  // namespace ember::data
