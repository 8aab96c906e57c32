// ReLU and its backward decide on the bits of 16-bit floats without widening them
// (backends/cpu/elementwise.cpp): for every one of the 65536 bit patterns of bfloat16 and float16
// the result must be the float32 route's, rounded back: NaNs quiet, relu(-0) = +0, subnormals kept.
#include <catch2/catch.hpp>
#include <cstdint>
#include <cstring>
#include <vector>

#include <fmt/format.h>

#include <ember/backends/backend.h>
#include <ember/ember.h>

using namespace ember;

namespace {
Tensor from_bits(const std::vector<uint16_t>& bits, DType dtype) {
  Tensor t = Tensor::empty({static_cast<int64_t>(bits.size())}, dtype);
  std::memcpy(t.data_ptr(), bits.data(), bits.size() * sizeof(uint16_t));
  return t;
}
std::vector<uint16_t> bits_of(const Tensor& t) {
  const Tensor c = t.contiguous();
  std::vector<uint16_t> bits(static_cast<size_t>(c.numel()));
  std::memcpy(bits.data(), c.data_ptr(), bits.size() * sizeof(uint16_t));
  return bits;
}
// The first index where two bit vectors differ, or -1.
int64_t first_difference(const std::vector<uint16_t>& got, const std::vector<uint16_t>& want) {
  for (size_t i = 0; i < got.size(); ++i)
    if (got[i] != want[i]) return static_cast<int64_t>(i);
  return -1;
}
}  // namespace

TEST_CASE("relu and its backward on every 16-bit float give the float32 route's bits", "[ops][dtype]") {
  std::vector<uint16_t> every(65536), shuffled(65536);
  for (uint32_t b = 0; b < 65536; ++b) {
    every[b] = static_cast<uint16_t>(b);
    shuffled[b] = static_cast<uint16_t>(b * 40503u);  // odd multiplier: a permutation of the patterns
  }
  for (DType dtype : {DType::BFloat16, DType::Float16}) {
    INFO(fmt::format("{}", dtype));
    const Tensor x16 = from_bits(every, dtype).requires_grad_();
    const Tensor x32 = from_bits(every, dtype).to(DType::Float32).requires_grad_();
    const Tensor y16 = relu(x16), y32 = relu(x32);
    const std::vector<uint16_t> want_y = bits_of(y32.detach().to(dtype));
    CHECK(first_difference(bits_of(y16), want_y) == -1);
    // Every pattern of the gradient meets two patterns of x: its own and a shuffled one.
    for (const std::vector<uint16_t>* g_bits : {&every, &shuffled}) {
      const Tensor g16 = from_bits(*g_bits, dtype);
      const Tensor dx16 = grad({y16}, {x16}, {g16}, {.retain_graph = true})[0];
      const Tensor dx32 = grad({y32}, {x32}, {g16.to(DType::Float32)}, {.retain_graph = true})[0];
      CHECK(dx16.dtype() == dtype);
      CHECK(first_difference(bits_of(dx16), bits_of(dx32.to(dtype))) == -1);
    }
  }
  // The autograd route above only ever hands the backward a ReLU output (+0, positive, NaN) as its
  // second operand: call the kernel itself with every pattern there, each gradient meeting a
  // shuffled one, and once with the gradient a broadcast scalar.
  for (DType dtype : {DType::BFloat16, DType::Float16}) {
    INFO(fmt::format("{} kernel", dtype));
    const Backend& cpu = backend(Device::cpu());
    auto view = [](const Tensor& t) { return View{t.data_ptr(), t.dtype(), t.shape(), t.strides()}; };
    const Tensor s = from_bits(every, dtype), g = from_bits(shuffled, dtype);
    for (const Tensor& grad_in : {g, from_bits({0x3f81}, dtype).expand({65536})}) {
      Tensor got = Tensor::empty({65536}, dtype), wide = Tensor::empty({65536}, DType::Float32);
      const Tensor g32 = grad_in.to(DType::Float32), s32 = s.to(DType::Float32);
      cpu.binary(BinaryOp::ReluBackward, view(grad_in), view(s), view(got));
      cpu.binary(BinaryOp::ReluBackward, view(g32), view(s32), view(wide));
      CHECK(first_difference(bits_of(got), bits_of(wide.to(dtype))) == -1);
    }
  }
  // A few by hand, in bfloat16: -0 -> +0, a signalling NaN -> quiet with its payload, the smallest
  // subnormal and -inf.
  const Tensor x = from_bits({0x8000, 0x7f81, 0x0001, 0xff80, 0x3f80}, DType::BFloat16);
  CHECK(bits_of(relu(x)) == std::vector<uint16_t>{0x0000, 0x7fc1, 0x0001, 0x0000, 0x3f80});
}
