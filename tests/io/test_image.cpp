// save_image_grid decoded back with stb_image: pixel values, the [low, high] mapping and the grid
// layout (cells in row-major order, `padding` pixels of 0 around and between them).
#include <unistd.h>

#include <catch2/catch.hpp>
#include <cstdint>
#include <filesystem>
#include <limits>
#include <string>
#include <vector>

#define STB_IMAGE_IMPLEMENTATION
#define STB_IMAGE_STATIC
#include <stb/stb_image.h>

#include <ember/io/image.h>
#include <ember/ops/ops.h>

using namespace ember;

namespace {

struct Decoded {
  int width = 0, height = 0, channels = 0;
  std::vector<uint8_t> pixels;
  int at(int y, int x, int c = 0) const { return pixels.at((y * width + x) * channels + c); }
};

Decoded decode_png(const std::string& path) {
  Decoded d;
  unsigned char* data = stbi_load(path.c_str(), &d.width, &d.height, &d.channels, 0);
  REQUIRE(data != nullptr);
  d.pixels.assign(data, data + d.width * d.height * d.channels);
  stbi_image_free(data);
  return d;
}

std::string temp_png(const std::string& name) {
  const auto dir = std::filesystem::temp_directory_path() / ("ember-image-" + std::to_string(getpid()));
  std::filesystem::create_directories(dir);
  return (dir / name).string();
}

}  // namespace

TEST_CASE("save_image_grid lays out grey images row-major with padding", "[io][image]") {
  // Three 2x3 images, two per row, padding 1: a 9x7 grid whose fourth cell is empty.
  // Pixel (y, x) of image i holds k / 255 with k = 40 i + 3 y + x + 1, so it encodes to byte k.
  std::vector<double> values;
  for (int i = 0; i < 3; ++i)
    for (int y = 0; y < 2; ++y)
      for (int x = 0; x < 3; ++x) values.push_back((40 * i + 3 * y + x + 1) / 255.0);
  const Tensor images = from_vector(values, std::vector<int64_t>{3, 1, 2, 3}, {.dtype = DType::Float64});
  const std::string path = temp_png("grey.png");
  io::save_image_grid(images, path, /*nrow=*/2, 0, 1, /*padding=*/1);
  const Decoded png = decode_png(path);
  REQUIRE(png.width == 9);
  REQUIRE(png.height == 7);
  REQUIRE(png.channels == 1);
  std::vector<uint8_t> expected(9 * 7, 0);
  for (int i = 0; i < 3; ++i) {
    const int y0 = 1 + (i / 2) * 3, x0 = 1 + (i % 2) * 4;
    for (int y = 0; y < 2; ++y)
      for (int x = 0; x < 3; ++x) expected[(y0 + y) * 9 + x0 + x] = 40 * i + 3 * y + x + 1;
  }
  CHECK(png.pixels == expected);
  std::filesystem::remove(path);
}

TEST_CASE("save_image_grid maps [low, high] to [0, 255], clamps, and keeps RGB channels apart",
          "[io][image]") {
  // One 1x4 RGB image with low = -1, high = 1: -1 -> 0, 0 -> 128 (127.5 rounds up), 1 -> 255,
  // -3 and 5 clamp, 0.5 -> 191 (191.25).
  const std::vector<double> values = {-1, 0, 1, 0.5,     // red
                                      -3, 5, -1, 1,      // green
                                      0.5, -1, 0, 0.5};  // blue
  const Tensor image = from_vector(values, std::vector<int64_t>{1, 3, 1, 4}, {.dtype = DType::Float64});
  const std::string path = temp_png("rgb.png");
  io::save_image_grid(image, path, 8, -1, 1, /*padding=*/0);
  const Decoded png = decode_png(path);
  REQUIRE(png.width == 4);
  REQUIRE(png.height == 1);
  REQUIRE(png.channels == 3);
  CHECK(png.pixels == std::vector<uint8_t>{0, 0, 191, 128, 255, 0, 255, 0, 128, 191, 255, 191});
  std::filesystem::remove(path);
}

TEST_CASE("save_image_grid: bounds must be finite; a span a double cannot hold still maps; NaN is 0",
          "[io][image]") {
  constexpr double inf = std::numeric_limits<double>::infinity(), nan = std::numeric_limits<double>::quiet_NaN();
  const Tensor image = from_vector(std::vector<double>{-1e308, 0, 1e308, nan, inf, -inf},
                                   std::vector<int64_t>{1, 1, 1, 6}, {.dtype = DType::Float64});
  const std::string path = temp_png("bounds.png");
  // high - low overflows here: every pixel used to come out black.
  io::save_image_grid(image, path, 8, -1e308, 1e308, /*padding=*/0);
  CHECK(decode_png(path).pixels == std::vector<uint8_t>{0, 128, 255, 0, 255, 0});
  std::filesystem::remove(path);
  for (auto [low, high] : {std::pair{-inf, 1.0}, std::pair{0.0, inf}, std::pair{nan, 1.0}, std::pair{1.0, 1.0}}) {
    INFO(low << ", " << high);
    CHECK_THROWS_WITH(io::save_image_grid(image, path, 8, low, high),
                      Catch::Contains("[save_image_grid] need finite bounds with low < high, got low = "));
  }
  CHECK_THROWS_WITH(io::save_image_grid(image, path, 0), Catch::Contains("nrow = 0"));
  CHECK_FALSE(std::filesystem::exists(path));
}
