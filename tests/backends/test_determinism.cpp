// Results do not depend on the thread count: every kernel whose summation order could follow the
// split of work among threads is run with 1, 2, 3 and 7 threads and compared bit for bit. Sizes are
// chosen to cross the parallel thresholds (backends/cpu/loops.h, OpenBLAS's m*n*k > 262144).
#include <omp.h>

#include <catch2/catch.hpp>
#include <cstring>
#include <functional>
#include <string>
#include <vector>

#include <ember/backends/cpu/blas.h>
#include "tests/backends/thread_count.h"
#include <ember/core/autograd.h>
#include <ember/ops/ops.h>

using namespace ember;

namespace {

using test::ThreadCount;

std::vector<unsigned char> bytes_of(const Tensor& t) {
  const Tensor c = t.contiguous();
  std::vector<unsigned char> out(c.numel() * c.element_size());
  if (!out.empty()) std::memcpy(out.data(), c.data_ptr(), out.size());
  return out;
}

// Runs compute with each thread count and checks that every tensor it returns has the same bytes
// as with one thread. Returns how many outputs differed (0 when all are bit-identical).
int count_thread_dependent(const std::string& what, const std::function<std::vector<Tensor>()>& compute,
                           std::initializer_list<int> thread_counts = {2, 3, 7}) {
  std::vector<std::vector<unsigned char>> single;
  {
    ThreadCount one(1);
    for (const Tensor& t : compute()) single.push_back(bytes_of(t));
  }
  int differing = 0;
  for (int threads : thread_counts) {
    ThreadCount count(threads);
    const std::vector<Tensor> outputs = compute();
    REQUIRE(outputs.size() == single.size());
    for (size_t i = 0; i < outputs.size(); ++i) {
      const std::vector<unsigned char> got = bytes_of(outputs[i]);
      REQUIRE(got.size() == single[i].size());
      if (std::memcmp(got.data(), single[i].data(), got.size()) != 0) {
        UNSCOPED_INFO(what << ": output " << i << " with " << threads << " threads differs from 1 thread");
        ++differing;
      }
    }
  }
  return differing;
}

Tensor randn_f(std::initializer_list<int64_t> shape, uint64_t seed, DType dtype = DType::Float32) {
  Generator gen(seed);
  return randn(shape, {.dtype = dtype}, &gen);
}

}  // namespace

TEST_CASE("reductions are bit-identical on 1, 2, 3 and 7 threads", "[determinism][reduce]") {
  for (DType dtype : {DType::Float32, DType::Float64}) {
    INFO(fmt::format("{}", dtype));
    const Tensor flat = randn_f({1600000}, 1, dtype);
    const Tensor rows = randn_f({512, 4096}, 2, dtype);
    const Tensor cube = randn_f({64, 300, 50}, 3, dtype);
    const Tensor strided = cube.transpose(0, 2);  // [50, 300, 64], no dim contiguous last
    CHECK(count_thread_dependent("sum", [&] {
      return std::vector<Tensor>{sum(flat), mean(flat), sum(rows), sum(cube), sum(strided)};
    }) == 0);
    CHECK(count_thread_dependent("sum over dims", [&] {
      return std::vector<Tensor>{sum(rows, {1}), sum(rows, {0}), sum(cube, {0, 2}), sum(cube, {1}),
                                 sum(strided, {0, 1}), mean(cube, {0, 1})};
    }) == 0);
    CHECK(count_thread_dependent("var and norm", [&] {
      return std::vector<Tensor>{var(flat), var(rows, {1}), var(cube, {0, 2}), norm(flat), norm(rows, 2, {0}),
                                 norm(cube, 1, {1, 2})};
    }) == 0);
    CHECK(count_thread_dependent("max, logsumexp, cumsum", [&] {
      return std::vector<Tensor>{amax(flat), amax(rows, {0}), logsumexp(rows, {1}), logsumexp(flat, {0}),
                                 cumsum(rows, 1), cumsum(rows, 0)};
    }) == 0);
  }
}

TEST_CASE("softmax and log_softmax are bit-identical on 1, 2, 3 and 7 threads", "[determinism][softmax]") {
  const Tensor x = randn_f({512, 4096}, 4).requires_grad_();
  const Tensor g = randn_f({512, 4096}, 5);
  CHECK(count_thread_dependent("softmax", [&] {
    const Tensor s = softmax(x, 1), ls = log_softmax(x, 1), s0 = softmax(x, 0);
    const Tensor total = sum(s * g) + sum(ls * g) + sum(s0 * g);
    return std::vector<Tensor>{s, ls, s0, grad({total}, {x})[0]};
  }) == 0);
}

TEST_CASE("index_add and scatter_add are bit-identical on 1, 2, 3 and 7 threads", "[determinism][index]") {
  Generator gen(6);
  const Tensor index = randint(0, 100, {60000}, {.dtype = DType::Int64}, &gen);  // many repeats
  const Tensor src = randn_f({60000, 8}, 7);
  const Tensor base = randn_f({100, 8}, 8);
  const Tensor index2d = randint(0, 50, {400, 300}, {.dtype = DType::Int64}, &gen);
  const Tensor src2d = randn_f({400, 300}, 9);
  const Tensor base2d = randn_f({400, 50}, 10);
  const Tensor weight = randn_f({100, 32}, 11).requires_grad_();
  const Tensor tokens = randint(0, 100, {64, 128}, {.dtype = DType::Int64}, &gen);
  CHECK(count_thread_dependent("index and scatter", [&] {
    const Tensor e = embedding(weight, tokens);
    return std::vector<Tensor>{index_add(base, 0, index, src), scatter_add(base2d, 1, index2d, src2d),
                               scatter_add(base2d.t().contiguous(), 0, index2d.t(), src2d.t()),
                               grad({sum(e * e)}, {weight})[0]};
  }) == 0);
}

TEST_CASE("conv2d forward and backward are bit-identical on 1, 2, 3 and 7 threads", "[determinism][conv]") {
  const Tensor x = randn_f({32, 8, 28, 28}, 12).requires_grad_();
  const Tensor w = randn_f({16, 8, 3, 3}, 13).requires_grad_();
  const Tensor b = randn_f({16}, 14).requires_grad_();
  const Tensor wt = randn_f({8, 4, 4, 4}, 15).requires_grad_();
  // 16 output channels: col2im walks its k-major columns a channel at a time when there are at least
  // four channels per thread (1, 2 and 3 threads here) and a plane at a time otherwise (7 threads);
  // both must give the same bits.
  const Tensor wide = randn_f({8, 16, 4, 4}, 16).requires_grad_();
  CHECK(count_thread_dependent("conv2d", [&] {
    const Tensor y = conv2d(x, w, b, 1, 1);
    const Tensor z = conv2d(x, w, std::nullopt, 2, 0);
    const Tensor up = conv_transpose2d(x, wt, std::nullopt, 2, 1);
    const Tensor up_wide = conv_transpose2d(x, wide, std::nullopt, 2, 1);
    const Tensor loss = sum(y * y) + sum(z) + sum(up * up) + sum(up_wide * up_wide);
    std::vector<Tensor> out{y, z, up, up_wide};
    for (const Tensor& gi : grad({loss}, {x, w, b, wt, wide})) out.push_back(gi);
    return out;
  }) == 0);
}

TEST_CASE("batch_norm in training is bit-identical on 1, 2, 3 and 7 threads", "[determinism][norm]") {
  const Tensor x = randn_f({32, 16, 14, 14}, 17).requires_grad_();
  const Tensor w = randn_f({16}, 18).requires_grad_();
  const Tensor b = randn_f({16}, 19).requires_grad_();
  const Tensor g = randn_f({32, 16, 14, 14}, 20);
  CHECK(count_thread_dependent("batch_norm", [&] {
    const Tensor y = batch_norm(x, Tensor(), Tensor(), w, b, true);
    std::vector<Tensor> out{y};
    for (const Tensor& gi : grad({sum(y * g)}, {x, w, b})) out.push_back(gi);
    return out;
  }) == 0);
}

TEST_CASE("matmul of training shapes is bit-identical on 1, 2, 3 and 7 threads", "[determinism][matmul]") {
  struct Case {
    int64_t m, k, n;
  };
  // An MLP on 28x28 images (forward, and both gradients), tall-skinny, K-large (a conv's weight
  // gradient: K = batch * positions), and the vector-shaped ones.
  const Case cases[] = {{128, 784, 256}, {784, 128, 256}, {128, 256, 784}, {256, 128, 10},  {8192, 64, 64},
                        {64, 8192, 64},  {16, 50176, 72}, {1, 4096, 1000}, {1000, 4096, 1}, {33, 3000, 17}};
  for (DType dtype : {DType::Float32, DType::Float64}) {
    for (const Case& c : cases) {
      INFO(fmt::format("{} [{}, {}] @ [{}, {}]", dtype, c.m, c.k, c.k, c.n));
      const Tensor a = randn_f({c.m, c.k}, 16, dtype), b = randn_f({c.k, c.n}, 17, dtype);
      const Tensor at = randn_f({c.k, c.m}, 18, dtype), bt = randn_f({c.n, c.k}, 19, dtype);
      CHECK(count_thread_dependent("matmul", [&] {
        return std::vector<Tensor>{matmul(a, b), matmul(at.t(), b), matmul(a, bt.t()), matmul(at.t(), bt.t())};
      }, {2, 3, 7, 16}) == 0);
    }
  }
}

TEST_CASE("linalg's blocked and rotation-logged decompositions are bit-identical on 1, 2, 3 and 7 threads", "[determinism][linalg]") {
  // eigh's QL rotations and svd's QR rotations are applied by strips of 32 vector columns among
  // threads (n = 300 flushes the rotation log several times, n = 100 has a partial strip); the
  // blocked LU, Cholesky and QR hand their products to GEMM, and so do the blocked tridiagonal and
  // bidiagonal reductions, whose matrix-vector products are split among threads from about 360 rows
  // (n = 400).
  for (int64_t n : {100, 300, 400}) {
    INFO("n " << n);
    const Tensor m = randn_f({n, n}, 40 + n, DType::Float64);
    const Tensor symmetric = (m + m.mT()) * 0.5;
    const Tensor spd = matmul(m, m.mT()) + eye(n, std::nullopt, {.dtype = DType::Float64}) * static_cast<double>(n);
    CHECK(count_thread_dependent("eigh, svd, qr, cholesky, lu_factor", [&] {
      const linalg::EighResult e = linalg::eigh(symmetric);
      const linalg::QRResult qr = linalg::qr(m);
      const linalg::LuFactorResult lu = linalg::lu_factor(m);
      const linalg::SVDResult svd = linalg::svd(m, false);
      return std::vector<Tensor>{e.eigenvalues, e.eigenvectors, linalg::eigvalsh(symmetric), svd.U, svd.S, svd.Vh,
                                 qr.Q, qr.R, linalg::cholesky(spd), lu.LU};
    }) == 0);
  }
}
