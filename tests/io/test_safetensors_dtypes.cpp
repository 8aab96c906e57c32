// safetensors dtype codes against the format's literal strings, and a file PyTorch wrote with one
// tensor of every dtype (tests/io/torch_dtypes.safetensors, made by tests/io/make_torch_files.py).
// A round trip through ember's own writer and reader cannot see two codes swapped; these can.
#include <bit>
#include <catch2/catch.hpp>
#include <cstdint>
#include <map>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include <ember/io/safetensors.h>
#include <ember/ops/ops.h>

using namespace ember;

namespace {

const io::SafetensorsFile& torch_dtypes_file() {
  static const io::SafetensorsFile file = [] {
    const std::string here(__FILE__);
    return io::load_safetensors(here.substr(0, here.rfind('/')) + "/torch_dtypes.safetensors");
  }();
  return file;
}

const Tensor& tensor_named(const std::string& name) {
  for (const auto& [n, t] : torch_dtypes_file().tensors)
    if (n == name) return t;
  FAIL("no tensor named " << name);
  throw;  // unreachable
}

std::vector<int64_t> shape_of(const Tensor& t) { return {t.shape().begin(), t.shape().end()}; }

template <typename Half16>
std::vector<uint16_t> bits16(const Tensor& t) {
  std::vector<uint16_t> out;
  for (Half16 h : t.to_vector<Half16>()) out.push_back(h.bits);
  return out;
}

}  // namespace

TEST_CASE("ember writes each dtype under the format's code string", "[io][safetensors]") {
  const std::map<DType, std::string> expected = {
      {DType::Bool, "BOOL"}, {DType::UInt8, "U8"},     {DType::Int32, "I32"},   {DType::Int64, "I64"},
      {DType::Float16, "F16"}, {DType::BFloat16, "BF16"}, {DType::Float32, "F32"}, {DType::Float64, "F64"}};
  nn::NamedTensors tensors;
  for (const auto& [dtype, code] : expected)
    tensors.emplace_back(std::string(dtype_name(dtype)), zeros({2}, {.dtype = dtype}));
  const std::vector<uint8_t> bytes = io::serialize_safetensors(tensors);
  REQUIRE(bytes.size() >= 8);
  uint64_t header_size = 0;
  for (int i = 0; i < 8; ++i) header_size |= static_cast<uint64_t>(bytes[i]) << (8 * i);
  REQUIRE(bytes.size() >= 8 + header_size);
  const nlohmann::json header =
      nlohmann::json::parse(std::string(bytes.begin() + 8, bytes.begin() + 8 + header_size));
  for (const auto& [dtype, code] : expected) {
    INFO(dtype_name(dtype));
    CHECK(header.at(std::string(dtype_name(dtype))).at("dtype").get<std::string>() == code);
  }
}

TEST_CASE("a file PyTorch wrote with every dtype loads with its dtypes, shapes and bits",
          "[io][safetensors]") {
  // Expected values are the bytes make_torch_files.py printed from PyTorch 1.13.
  CHECK(torch_dtypes_file().tensors.size() == 8);
  SECTION("BOOL") {
    const Tensor& t = tensor_named("bool");
    CHECK(t.dtype() == DType::Bool);
    CHECK(shape_of(t) == std::vector<int64_t>{2, 3});
    const std::vector<bool> got = t.to_vector<bool>();
    CHECK(got == std::vector<bool>{true, false, false, false, true, true});
  }
  SECTION("U8") {
    const Tensor& t = tensor_named("u8");
    CHECK(t.dtype() == DType::UInt8);
    CHECK(shape_of(t) == std::vector<int64_t>{5});
    CHECK(t.to_vector<uint8_t>() == std::vector<uint8_t>{0, 1, 127, 128, 255});
  }
  SECTION("I32") {
    const Tensor& t = tensor_named("i32");
    CHECK(t.dtype() == DType::Int32);
    CHECK(shape_of(t) == std::vector<int64_t>{2, 2});
    CHECK(t.to_vector<int32_t>() == std::vector<int32_t>{INT32_MIN, -1, 65536, INT32_MAX});
  }
  SECTION("I64") {
    const Tensor& t = tensor_named("i64");
    CHECK(t.dtype() == DType::Int64);
    CHECK(shape_of(t) == std::vector<int64_t>{3});
    CHECK(t.to_vector<int64_t>() ==
          std::vector<int64_t>{-(int64_t{1} << 62) - 3, (int64_t{1} << 40) + 7, -1});
  }
  SECTION("F16") {
    const Tensor& t = tensor_named("f16");
    CHECK(t.dtype() == DType::Float16);
    CHECK(shape_of(t) == std::vector<int64_t>{5});
    // 1, -2.5, 0.1, 65504 (the largest half), 2^-24 (the smallest subnormal).
    CHECK(bits16<Half>(t) == std::vector<uint16_t>{0x3c00, 0xc100, 0x2e66, 0x7bff, 0x0001});
  }
  SECTION("BF16") {
    const Tensor& t = tensor_named("bf16");
    CHECK(t.dtype() == DType::BFloat16);
    CHECK(shape_of(t) == std::vector<int64_t>{2, 2});
    // 1, -2.5, 0.1, 3e38 (beyond the half range).
    CHECK(bits16<BFloat16>(t) == std::vector<uint16_t>{0x3f80, 0xc020, 0x3dcd, 0x7f62});
  }
  SECTION("F32") {
    const Tensor& t = tensor_named("f32");
    CHECK(t.dtype() == DType::Float32);
    CHECK(shape_of(t) == std::vector<int64_t>{3});
    std::vector<uint32_t> bits;
    for (float f : t.to_vector<float>()) bits.push_back(std::bit_cast<uint32_t>(f));
    CHECK(bits == std::vector<uint32_t>{0x3dcccccd, 0xf149f2ca, 0x000116c2});  // 0.1, -1e30, 1e-40
  }
  SECTION("F64") {
    const Tensor& t = tensor_named("f64");
    CHECK(t.dtype() == DType::Float64);
    CHECK(shape_of(t) == std::vector<int64_t>{2, 1});
    CHECK(t.to_vector<double>() == std::vector<double>{0.1, -1.0e300});
  }
}
