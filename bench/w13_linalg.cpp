// W13 of docs/benchmarks.md: the solvers and decompositions of ember::linalg (ember's own textbook
// algorithms in float64 on the host: LU with partial pivoting, Cholesky, Householder QR, Householder
// tridiagonalisation with implicit QL, Golub-Kahan bidiagonalisation with implicit QR), one n x n
// float64 matrix (batch 1), CPU, 2 threads, n = 16, 64, 256:
//   W13/cholesky/n   cholesky(M M^T + n I)
//   W13/solve/n      solve(A, B), B [n, 16] (16 right-hand sides)
//   W13/inv/n        inv(A)
//   W13/slogdet/n    slogdet(A)
//   W13/qr/n         qr(A), reduced (square A: Q and R n x n)
//   W13/eigh/n       eigh((M + M^T) / 2), eigenvalues and eigenvectors
//   W13/svd/n        svd(A, full_matrices=false)
//   W13/matrix_exp/n matrix_exp(A / sqrt(n)) (1-norm about 0.8 sqrt(n): a few squarings)
//   W13/pinv/n       pinv(A) (through the SVD; n = 16 and 64)
//   W13/lstsq/n      lstsq(A, B).solution, B [n, 16] (through pinv; n = 16 and 64; the peer runs
//                    PyTorch's gelsd driver, which returns the same four results)
//   W13/lu_factor/n  lu_factor(A) (packed LU and pivots)
//   W13/lu_solve/n   lu_solve(LU, pivots, B), B [n, 16], the factors made before the timed steps
// and four training cases at n = 64, forward and backward (the gradient with respect to A):
//   W13/slogdet_backward/64    loss = slogdet(A).logabsdet
//   W13/eigvalsh_backward/64   loss = sum(eigvalsh((M + M^T) / 2))
//   W13/matrix_exp_backward/64 loss = sum(matrix_exp(A / sqrt(n)))
//   W13/lu_backward/64         loss = sum(L) + sum(U) of lu(A)
// A and M are standard normal; the inputs are made before the timed steps.
//   bench_w13_linalg          every case
//   bench_w13_linalg CASE     one case, e.g. svd/256 (or W13/svd/256)
// Prints W13/CASE, ms per call.
#include <ember/ember.h>
#include <omp.h>

#include <cmath>
#include <string>

#include "bench/bench_util.h"

namespace {

using namespace ember;

constexpr int64_t kRhs = 16;  // right-hand sides of W13/solve

void run_case(const std::string& op, int64_t n) {
  Generator gen(13);
  const TensorOptions f64{.dtype = DType::Float64};
  const Tensor a = randn({n, n}, f64, &gen);
  const Tensor m = randn({n, n}, f64, &gen);
  const Tensor b = randn({n, kRhs}, f64, &gen);
  const Tensor spd = matmul(m, m.mT()) + eye(n, std::nullopt, f64) * double(n);
  const Tensor sym = (m + m.mT()) * 0.5;
  bench::Timing timing;
  if (op == "cholesky") {
    timing = bench::time_steps([&] { bench::do_not_optimize(linalg::cholesky(spd)); });
  } else if (op == "solve") {
    timing = bench::time_steps([&] { bench::do_not_optimize(linalg::solve(a, b)); });
  } else if (op == "inv") {
    timing = bench::time_steps([&] { bench::do_not_optimize(linalg::inv(a)); });
  } else if (op == "slogdet") {
    timing = bench::time_steps([&] { bench::do_not_optimize(linalg::slogdet(a)); });
  } else if (op == "qr") {
    timing = bench::time_steps([&] { bench::do_not_optimize(linalg::qr(a)); });
  } else if (op == "eigh") {
    timing = bench::time_steps([&] { bench::do_not_optimize(linalg::eigh(sym)); });
  } else if (op == "svd") {
    timing = bench::time_steps([&] { bench::do_not_optimize(linalg::svd(a, /*full_matrices=*/false)); });
  } else if (op == "matrix_exp") {
    const Tensor scaled = a * (1.0 / std::sqrt(double(n)));
    timing = bench::time_steps([&] { bench::do_not_optimize(linalg::matrix_exp(scaled)); });
  } else if (op == "pinv") {
    timing = bench::time_steps([&] { bench::do_not_optimize(linalg::pinv(a)); });
  } else if (op == "lstsq") {
    timing = bench::time_steps([&] { bench::do_not_optimize(linalg::lstsq(a, b).solution); });
  } else if (op == "lu_factor") {
    timing = bench::time_steps([&] { bench::do_not_optimize(linalg::lu_factor(a).LU); });
  } else if (op == "lu_solve") {
    const linalg::LuFactorResult factors = linalg::lu_factor(a);
    timing = bench::time_steps([&] { bench::do_not_optimize(linalg::lu_solve(factors.LU, factors.pivots, b)); });
  } else if (op == "lu_backward") {
    const Tensor leaf = a.detach().requires_grad_();
    timing = bench::time_steps([&] {
      const linalg::LuResult plu = linalg::lu(leaf);
      Tensor loss = sum(plu.L) + sum(plu.U);
      bench::do_not_optimize(grad({loss}, {leaf}));
    });
  } else if (op == "matrix_exp_backward") {
    const Tensor leaf = (a * (1.0 / std::sqrt(double(n)))).detach().requires_grad_();
    timing = bench::time_steps([&] {
      Tensor loss = sum(linalg::matrix_exp(leaf));
      bench::do_not_optimize(grad({loss}, {leaf}));
    });
  } else if (op == "slogdet_backward") {
    const Tensor leaf = a.detach().requires_grad_();
    timing = bench::time_steps([&] {
      Tensor loss = linalg::slogdet(leaf).logabsdet;
      bench::do_not_optimize(grad({loss}, {leaf}));
    });
  } else if (op == "eigvalsh_backward") {
    const Tensor leaf = sym.detach().requires_grad_();
    timing = bench::time_steps([&] {
      Tensor loss = sum(linalg::eigvalsh(leaf));
      bench::do_not_optimize(grad({loss}, {leaf}));
    });
  } else {
    std::fprintf(stderr, "unknown case %s\n", op.c_str());
    std::exit(2);
  }
  bench::print_case("W13/" + op + "/" + std::to_string(n), timing);
}

}  // namespace

int main(int argc, char** argv) {
  omp_set_num_threads(2);
  if (argc == 2) {  // CASE = op/n, or W13/op/n as the full run prints it
    std::string name = argv[1];
    if (name.rfind("W13/", 0) == 0) name = name.substr(4);
    const size_t slash = name.find('/');
    const std::string size = slash == std::string::npos ? "" : name.substr(slash + 1);
    if (size.empty() || size.size() > 6 || size.find_first_not_of("0123456789") != std::string::npos) {
      std::fprintf(stderr, "bench_w13_linalg: a case is OP/N with N a size, e.g. solve/256; got '%s'\n", argv[1]);
      return 2;
    }
    run_case(name.substr(0, slash), std::stoll(size));
    return 0;
  }
  std::printf("# cpu: %s threads: 2\n", ember::bench::cpu_model().c_str());
  std::fflush(stdout);
  for (const char* op : {"cholesky", "solve", "inv", "slogdet", "qr", "eigh", "svd"}) {
    for (int64_t n : {16, 64, 256}) run_case(op, n);
  }
  for (int64_t n : {16, 64, 256}) run_case("matrix_exp", n);
  for (const char* op : {"pinv", "lstsq"})
    for (int64_t n : {16, 64}) run_case(op, n);
  for (const char* op : {"lu_factor", "lu_solve"})
    for (int64_t n : {16, 64, 256}) run_case(op, n);
  run_case("slogdet_backward", 64);
  run_case("eigvalsh_backward", 64);
  run_case("matrix_exp_backward", 64);
  run_case("lu_backward", 64);
  return 0;
}
