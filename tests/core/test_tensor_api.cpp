// The Tensor handle's convenience API: method forms of ops, bool vectors, memory wrapped with a
// deleter, device parsing, bernoulli with a tensor of probabilities and the *_like factories.
#include <algorithm>
#include <catch2/catch.hpp>
#include <cmath>
#include <vector>

#include <ember/core/generator.h>
#include <ember/ops/ops.h>

using namespace ember;
using Catch::Contains;

TEST_CASE("method forms compute the same functions as the free ops", "[core][api]") {
  const Tensor x = from_vector(std::vector<double>{-1, 0, 4}, {3});
  const std::vector<double> exp = x.exp().to_vector<double>();
  CHECK(exp[0] == Approx(std::exp(-1.0)));
  CHECK(exp[2] == Approx(std::exp(4.0)));
  const Tensor positive = from_vector(std::vector<double>{1, 4, 9}, {3});
  CHECK(positive.sqrt().to_vector<double>() == std::vector<double>{1, 2, 3});
  CHECK(positive.log().to_vector<double>()[1] == Approx(std::log(4.0)));
  CHECK(x.tanh().to_vector<double>()[0] == Approx(std::tanh(-1.0)));
  CHECK(x.sigmoid().to_vector<double>()[1] == 0.5);
  CHECK(x.relu().to_vector<double>() == std::vector<double>{0, 0, 4});
  // [[1, 2], [3, 4]] @ [[1], [1]] = [[3], [7]].
  const Tensor m = from_vector(std::vector<double>{1, 2, 3, 4}, {2, 2});
  CHECK(m.matmul(ones({2, 1}, {.dtype = DType::Float64})).to_vector<double>() ==
        std::vector<double>{3, 7});
}

TEST_CASE("method forms of the views give the documented shapes and strides", "[core][api]") {
  const Tensor t = arange(24).reshape({2, 3, 4});
  CHECK(t.stride(0) == 12);
  CHECK(t.stride(-1) == 1);
  CHECK_THROWS_WITH(t.stride(3), Contains("[stride]"));
  const Tensor p = t.permute({2, 0, 1});
  CHECK(p.shape() == Shape{4, 2, 3});
  CHECK(p.stride(0) == 1);
  CHECK(p.stride(1) == 12);
  CHECK(t.reshape({1, 2, 1, 12}).squeeze().shape() == Shape{2, 12});
  CHECK(t.unflatten(2, {2, 2}).shape() == Shape{2, 3, 2, 2});
  // as_strided([2, 2], [1, 4], 1) over 0..23 reads elements 1, 5 / 2, 6.
  const int64_t sizes[] = {2, 2}, strides[] = {1, 4};
  CHECK(t.as_strided(sizes, strides, 1).contiguous().to_vector<int64_t>() ==
        std::vector<int64_t>{1, 5, 2, 6});
  CHECK(t.cpu().device() == Device::cpu());
}

TEST_CASE("a vector of bools becomes a bool tensor or the requested dtype", "[core][api]") {
  const Tensor b = from_vector(std::vector<bool>{true, false, true}, {3});
  CHECK(b.dtype() == DType::Bool);
  CHECK(b.to_vector<bool>() == std::vector<bool>{true, false, true});
  const int64_t shape[] = {2};
  const Tensor f = from_vector(std::vector<bool>{false, true}, shape, {.dtype = DType::Float32});
  CHECK(f.dtype() == DType::Float32);
  CHECK(f.to_vector<float>() == std::vector<float>{0, 1});
}

TEST_CASE("from_blob runs its deleter once, when the last view dies", "[core][api]") {
  std::vector<float> memory = {1, 2, 3, 4};
  int calls = 0;
  void* deleted = nullptr;
  {
    const int64_t shape[] = {2, 2};
    Tensor t = from_blob(memory.data(), shape, DType::Float32, Device::cpu(), [&](void* p) {
      ++calls;
      deleted = p;
    });
    Tensor row = t.select(0, 1);
    CHECK(row.to_vector<float>() == std::vector<float>{3, 4});
    t = Tensor();
    CHECK(calls == 0);  // the view still holds the memory
  }
  CHECK(calls == 1);
  CHECK(deleted == memory.data());
}

TEST_CASE("Device::parse accepts cpu, cuda and cuda:N and names anything else", "[core][api]") {
  CHECK(Device::parse("cpu") == Device::cpu());
  CHECK(Device::parse("cuda") == Device::cuda(0));
  CHECK(Device::parse("cuda:3") == Device::cuda(3));
  CHECK(Device::parse("cuda:3").is_cuda());
  for (const char* bad :
       {"cuda:", "cuda:x", "cuda:1x", "cuda:-1", "cuda:99999999999999999999", "gpu"}) {
    INFO(bad);
    CHECK_THROWS_WITH(Device::parse(bad),
                      Contains("[device] cannot parse device") && Contains(bad));
  }
}

TEST_CASE("bernoulli with a tensor of probabilities", "[core][api][random]") {
  // Probabilities 0 and 1 give certain outcomes, in the dtype of p.
  const Tensor certain = from_vector(std::vector<double>{0, 1, 1, 0}, {4});
  const Tensor draws = bernoulli(certain);
  CHECK(draws.dtype() == DType::Float64);
  CHECK(draws.to_vector<double>() == std::vector<double>{0, 1, 1, 0});
  // p = 0.3 everywhere: the mean of 20000 draws is within 5 standard errors (0.0032 each) of 0.3.
  Generator gen(5);
  const double m = mean(bernoulli(full({20000}, 0.3), &gen)).item_double();
  CHECK(std::abs(m - 0.3) < 5 * std::sqrt(0.3 * 0.7 / 20000));
  // Bad probabilities and integer tensors are refused.
  CHECK_THROWS_WITH(bernoulli(from_vector(std::vector<float>{0.5f, 1.5f}, {2})),
                    Contains("[bernoulli] probabilities must be in [0, 1]") && Contains("[2]"));
  CHECK_THROWS_WITH(bernoulli(from_vector(std::vector<float>{std::nanf("")}, {1})),
                    Contains("[bernoulli]"));
  CHECK_THROWS_WITH(bernoulli(ones({2}, {.dtype = DType::Int64})), Contains("[bernoulli]"));
  CHECK(bernoulli(empty({0, 3})).shape() == Shape{0, 3});
}

TEST_CASE("rand_like and randn_like take shape, dtype and device from their argument",
          "[core][api][random]") {
  const Tensor like = empty({50, 40}, {.dtype = DType::Float64});
  Generator a(9), b(9);
  const Tensor u = rand_like(like, &a);
  CHECK(u.shape() == like.shape());
  CHECK(u.dtype() == DType::Float64);
  CHECK(amin(u).item_double() >= 0);
  CHECK(amax(u).item_double() < 1);
  // Same generator state, same values as the factory.
  CHECK(u.to_vector<double>() == rand({50, 40}, {.dtype = DType::Float64}, &b).to_vector<double>());
  const Tensor n = randn_like(like, &a);
  CHECK(n.shape() == like.shape());
  CHECK(n.dtype() == DType::Float64);
  // 2000 standard normal draws: mean within 5 standard errors (0.11) of 0, variance within 20%
  // of 1.
  CHECK(std::abs(mean(n).item_double()) < 0.12);
  CHECK(var(n).item_double() == Approx(1).epsilon(0.2));
}

TEST_CASE("tensors of more than six dimensions (shapes held off the inline buffer)",
          "[core][api]") {
  // x[a, 0, b, 0, c, 0, d, j] = 24a + 12b + 6c + 3d + j over a [2, 1, 2, 1, 2, 1, 2, 3] shape.
  const Tensor x = arange(48).reshape({2, 1, 2, 1, 2, 1, 2, 3});
  CHECK(x.dim() == 8);
  CHECK(x.shape() == Shape{2, 1, 2, 1, 2, 1, 2, 3});
  CHECK(x.stride(0) == 24);
  CHECK(x.stride(6) == 3);
  // Summing out a, b, c, d: 16 j + 8 (24 + 12 + 6 + 3).
  const int64_t dims[] = {0, 2, 4, 6};
  const Tensor s = sum(x, dims);
  CHECK(s.shape() == Shape{1, 1, 1, 3});
  CHECK(s.to_vector<int64_t>() == std::vector<int64_t>{360, 376, 392});
  // Reversing the dims: y[j, d, 0, c, 0, b, 0, a]; its first entries run over a, then b.
  const Tensor y = x.permute({7, 6, 5, 4, 3, 2, 1, 0}).contiguous();
  CHECK(y.shape() == Shape{3, 2, 1, 2, 1, 2, 1, 2});
  const std::vector<int64_t> values = y.to_vector<int64_t>();
  CHECK(std::vector<int64_t>(values.begin(), values.begin() + 4) ==
        std::vector<int64_t>{0, 24, 12, 36});
  // Broadcasting against a 7-d tensor adds its last-dim values to every row.
  const Tensor z = x + arange(3).reshape({1, 1, 1, 1, 1, 1, 3}) * 100;
  CHECK(z.shape() == x.shape());
  CHECK(z.to_vector<int64_t>()[47] == 47 + 200);
  // A long shape survives copies and moves.
  Shape long_shape = x.shape(), moved;
  moved = std::move(long_shape);
  CHECK(moved == Shape{2, 1, 2, 1, 2, 1, 2, 3});
  Shape copied;
  copied = moved;
  CHECK(copied == moved);
}

TEST_CASE("randint into an integer or bool dtype draws only values the dtype holds",
          "[core][api][random]") {
  // torch.randint(0, 5, (10,), dtype=torch.bool) raises "to - 1 is out of bounds for bool"; so
  // do a range beyond uint8 or below zero, and one beyond int32.
  CHECK_THROWS_WITH(randint(0, 5, {10}, {.dtype = DType::Bool}),
                    Contains("[randint]") && Contains("[0, 5)") && Contains("bool"));
  CHECK_THROWS_WITH(randint(0, 300, {10}, {.dtype = DType::UInt8}),
                    Contains("[randint]") && Contains("uint8"));
  CHECK_THROWS_WITH(randint(-1, 5, {10}, {.dtype = DType::UInt8}),
                    Contains("[randint]") && Contains("uint8"));
  CHECK_THROWS_WITH(randint(0, int64_t{1} << 40, {10}, {.dtype = DType::Int32}), Contains("int32"));
  // The widest ranges that fit are fine: [0, 2) into bool gives both values, [0, 256) into uint8.
  Generator gen(4);
  const std::vector<bool> coins =
      randint(0, 2, {200}, {.dtype = DType::Bool}, &gen).to_vector<bool>();
  CHECK(std::count(coins.begin(), coins.end(), true) > 50);
  CHECK(std::count(coins.begin(), coins.end(), false) > 50);
  const std::vector<uint8_t> bytes =
      randint(0, 256, {2000}, {.dtype = DType::UInt8}, &gen).to_vector<uint8_t>();
  CHECK(*std::max_element(bytes.begin(), bytes.end()) >
        240);  // all 2000 below 241: p = (241/256)^2000
  CHECK(randint(-3, 3, {100}, {.dtype = DType::Int32}, &gen).dtype() == DType::Int32);
}

// Found by a red-team review: add_'s fast path (no graph, alpha 1) wrote as it read, so an operand
// sharing memory with the target in another layout was read after being overwritten.
TEST_CASE("add_ with an operand that overlaps its target in another layout", "[core][api]") {
  auto values = [](const Tensor& t) { return contiguous(t).to(DType::Float64).to_vector<double>(); };
  Tensor b = arange(0, 9, 1, {.dtype = DType::Float32}).reshape({3, 3});
  b.add_(b.t());  // symmetrising in place
  CHECK(values(b) == std::vector<double>{0, 4, 8, 4, 8, 12, 8, 12, 16});
  Tensor a = from_vector(std::vector<double>{1, 2, 3, 4}).reshape({2, 2});
  a.add_(a[0]);  // a row of a, broadcast over a
  CHECK(values(a) == std::vector<double>{2, 4, 4, 6});
  Tensor y = from_vector(std::vector<double>{1, 2, 3});
  y.slice(0, 1, 3).add_(y.slice(0, 0, 2));
  CHECK(values(y) == std::vector<double>{1, 3, 5});
  // The same elements in the same layout need no copy: each element is read before it is written.
  Tensor z = from_vector(std::vector<double>{1, 2, 3});
  z.add_(z);
  CHECK(values(z) == std::vector<double>{2, 4, 6});
}
