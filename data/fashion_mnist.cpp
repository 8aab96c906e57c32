#include <ember/data/fashion_mnist.h>

#include <zlib.h>

#include <cerrno>
#include <cstring>
#include <algorithm>
#include <filesystem>
#include <memory>
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
  const std::unique_ptr<gzFile_s, int (*)(gzFile)> file(gzopen(path.c_str(), "rb"), &gzclose);  // or uncompressed
  gzFile f = file.get();
  EMBER_CHECK(f != nullptr, "fashion_mnist", "cannot open \"{}\": {}", path, std::strerror(errno));
  // The header is read first and the data only as far as its shape says (plus what is needed to say
  // how much more there is): a file that decompresses to gigabytes (a gzip bomb) is never held whole.
  uint8_t chunk[1 << 16];
  int n = 0;
  auto read_into = [&](std::vector<uint8_t>& out, uint64_t limit) {
    while (out.size() < limit &&
           (n = gzread(f, chunk, static_cast<unsigned>(std::min<uint64_t>(sizeof chunk, limit - out.size())))) > 0)
      out.insert(out.end(), chunk, chunk + n);
  };
  auto check_stream = [&] {
    // A truncated gzip stream ends reads without an error of its own: gzerror reports it as Z_BUF_ERROR.
    int err = Z_OK;
    const std::string message = gzerror(f, &err);
    EMBER_CHECK(n >= 0 && err != Z_BUF_ERROR, "fashion_mnist", "\"{}\" is {} ({})", path,
                err == Z_BUF_ERROR ? "truncated" : "not a valid gzip file", message.empty() ? "read error" : message);
  };
  // IDX: two zero bytes, a type code (0x08 = unsigned byte), the number of dims, then big-endian sizes.
  std::vector<uint8_t> header;
  read_into(header, 4);
  check_stream();
  EMBER_CHECK(header.size() == 4 && header[0] == 0 && header[1] == 0 && header[2] == 0x08 && header[3] >= 1 &&
                  header[3] <= 4,
              "fashion_mnist", "\"{}\" is not an IDX file of unsigned bytes", path);
  const int ndim = header[3];
  read_into(header, 4 + 4u * ndim);
  check_stream();
  EMBER_CHECK(header.size() == 4 + 4u * ndim, "fashion_mnist", "\"{}\" is truncated in its header", path);
  Shape shape;
  uint64_t numel = 1;
  bool overflow = false;
  for (int d = 0; d < ndim; ++d) {
    const uint8_t* p = header.data() + 4 + 4 * d;
    const uint32_t size = (uint32_t{p[0]} << 24) | (uint32_t{p[1]} << 16) | (uint32_t{p[2]} << 8) | p[3];
    shape.push_back(size);
    overflow = overflow || __builtin_mul_overflow(numel, uint64_t{size}, &numel);
  }
  EMBER_CHECK(!overflow, "fashion_mnist", "\"{}\" claims a shape {} with more elements than an int64 can count",
              path, shape_str(shape));
  // The data in chunks (a header that claims more than the file holds allocates no more than the
  // file's data), then up to 64 MiB past it, counted and dropped (a bomb is not decompressed whole).
  std::vector<uint8_t> bytes;
  try {
    read_into(bytes, numel + 1);
  } catch (const std::bad_alloc&) {
    EMBER_FAIL("fashion_mnist", "cannot allocate the {} bytes of \"{}\" (shape {})", numel, path, shape_str(shape));
  }
  check_stream();
  constexpr uint64_t kCountedExtra = uint64_t{1} << 26;
  uint64_t extra = 0;
  if (bytes.size() > numel) {
    extra = bytes.size() - numel;
    while (extra < kCountedExtra && (n = gzread(f, chunk, sizeof chunk)) > 0) extra += static_cast<uint64_t>(n);
    check_stream();
  }
  EMBER_CHECK(extra == 0 && bytes.size() == numel, "fashion_mnist",
              "\"{}\" holds {}{} bytes of data but its shape {} needs {}", path, extra >= kCountedExtra ? "more than " : "",
              std::min<uint64_t>(bytes.size(), numel) + extra, shape_str(shape), numel);
  Tensor t = Tensor::empty(shape, DType::UInt8, Device::cpu(), "fashion_mnist");
  std::copy(bytes.begin(), bytes.begin() + static_cast<std::ptrdiff_t>(numel), static_cast<uint8_t*>(t.data_ptr()));
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
