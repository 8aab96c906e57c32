#include <ember/io/image.h>

#include <algorithm>
#include <cmath>
#include <vector>

#define STB_IMAGE_WRITE_IMPLEMENTATION
#define STB_IMAGE_WRITE_STATIC
#define STBI_WRITE_NO_STDIO
#include <stb/stb_image_write.h>

#include <ember/io/file.h>
#include <ember/ops/ops.h>

namespace ember::io {

void save_image_grid(const Tensor& images, const std::string& path, int64_t nrow, double low, double high, int64_t padding) {
  EMBER_CHECK(images.dim() == 4 && (images.size(1) == 1 || images.size(1) == 3), "save_image_grid",
              "expected images [N, 1 or 3, H, W], got shape {}", shape_str(images.shape()));
  EMBER_CHECK(std::isfinite(low) && std::isfinite(high) && high > low, "save_image_grid",
              "need finite bounds with low < high, got low = {} and high = {}", low, high);
  EMBER_CHECK(nrow > 0 && padding >= 0, "save_image_grid", "need nrow > 0 and padding >= 0, got nrow = {} and padding = {}",
              nrow, padding);
  const int64_t n = images.size(0), c = images.size(1), h = images.size(2), w = images.size(3);
  EMBER_CHECK(n > 0 && h > 0 && w > 0, "save_image_grid", "no pixels to write (shape {})", shape_str(images.shape()));
  const int64_t cols = std::min(nrow, n), rows = (n + cols - 1) / cols;
  // stb_image_write counts the image's bytes, and buffers a little larger (a filter byte per row, the
  // compressor's output), in an int: a grid past 2^30 bytes (a huge padding) is refused here rather
  // than wrapped into a small buffer that the loop below writes past.
  constexpr int64_t kMaxBytes = int64_t{1} << 30;
  auto side = [&](int64_t count, int64_t size) {  // count * size + (count + 1) * padding, or -1 past kMaxBytes
    int64_t images_part = 0, gaps = 0, total = 0;
    if (__builtin_mul_overflow(count, size, &images_part) || __builtin_mul_overflow(count + 1, padding, &gaps) ||
        __builtin_add_overflow(images_part, gaps, &total) || total > kMaxBytes)
      return int64_t{-1};
    return total;
  };
  const int64_t width = side(cols, w), height = side(rows, h);
  int64_t bytes = -1;
  if (width > 0 && height > 0 && !__builtin_mul_overflow(width * c, height, &bytes) && bytes > kMaxBytes) bytes = -1;
  EMBER_CHECK(bytes > 0, "save_image_grid",
              "a grid of {} images of {}x{} in {} columns with padding {} is larger than a PNG written here can hold "
              "({} bytes)",
              n, h, w, cols, padding, kMaxBytes);
  std::vector<double> v = images.to_vector<double>();
  // In halves: high - low (and value - low) overflow for bounds such as -1e308 and 1e308, which made
  // every pixel NaN or 0.
  const double half_low = low / 2, half_span = high / 2 - low / 2;
  std::vector<uint8_t> pixels(static_cast<size_t>(width * height * c), 0);
  for (int64_t i = 0; i < n; ++i) {
    const int64_t y0 = padding + (i / cols) * (h + padding), x0 = padding + (i % cols) * (w + padding);
    for (int64_t ch = 0; ch < c; ++ch)
      for (int64_t y = 0; y < h; ++y)
        for (int64_t x = 0; x < w; ++x) {
          const double value = v[((i * c + ch) * h + y) * w + x];
          // NaN is written as 0, as torchvision's save_image does in practice (its uint8 cast of NaN);
          // an infinite value clamps like any other value out of range.
          const double scaled = std::isnan(value) ? 0 : std::clamp((value / 2 - half_low) / half_span, 0.0, 1.0);
          pixels[((y0 + y) * width + (x0 + x)) * c + ch] = static_cast<uint8_t>(std::lround(scaled * 255));
        }
  }
  // Encoded in memory and written with write_file_atomic, which names the reason a path cannot be
  // written and refuses to write over a folder or a device.
  std::vector<uint8_t> png;
  auto append = [](void* context, void* data, int size) {
    auto* out = static_cast<std::vector<uint8_t>*>(context);
    out->insert(out->end(), static_cast<uint8_t*>(data), static_cast<uint8_t*>(data) + size);
  };
  const int ok = stbi_write_png_to_func(append, &png, static_cast<int>(width), static_cast<int>(height),
                                        static_cast<int>(c), pixels.data(), static_cast<int>(width * c));
  EMBER_CHECK(ok != 0, "save_image_grid", "could not encode the {}x{} PNG for \"{}\"", width, height, path);
  write_file_atomic(path, png);
}

}  // namespace ember::io
