// W13 for libtorch 1.13: the same solvers and decompositions through torch::linalg_* (LAPACK through
// OpenBLAS), float64, batch 1, CPU, 2 threads; same cases, inputs and output format as ember's
// bench/w13_linalg.cpp (B of W13/solve is [n, 16]; qr reduced; svd with full_matrices=false).
#include <torch/torch.h>

#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <string>

#include "bench/bench_util.h"

namespace {

constexpr int64_t kRhs = 16;

void run_case(const std::string& op, int64_t n) {
  namespace bench = ember::bench;
  torch::manual_seed(13);
  const auto f64 = torch::TensorOptions().dtype(torch::kFloat64);
  const torch::Tensor a = torch::randn({n, n}, f64);
  const torch::Tensor m = torch::randn({n, n}, f64);
  const torch::Tensor b = torch::randn({n, kRhs}, f64);
  const torch::Tensor spd = torch::matmul(m, m.mT()) + torch::eye(n, f64) * double(n);
  const torch::Tensor sym = (m + m.mT()) * 0.5;
  bench::Timing timing;
  if (op == "cholesky") {
    timing = bench::time_steps([&] { bench::do_not_optimize(torch::linalg_cholesky(spd)); });
  } else if (op == "solve") {
    timing = bench::time_steps([&] { bench::do_not_optimize(torch::linalg_solve(a, b)); });
  } else if (op == "inv") {
    timing = bench::time_steps([&] { bench::do_not_optimize(torch::linalg_inv(a)); });
  } else if (op == "slogdet") {
    timing = bench::time_steps([&] { bench::do_not_optimize(torch::linalg_slogdet(a)); });
  } else if (op == "qr") {
    timing = bench::time_steps([&] { bench::do_not_optimize(torch::linalg_qr(a, "reduced")); });
  } else if (op == "eigh") {
    timing = bench::time_steps([&] { bench::do_not_optimize(torch::linalg_eigh(sym)); });
  } else if (op == "svd") {
    timing = bench::time_steps([&] { bench::do_not_optimize(torch::linalg_svd(a, /*full_matrices=*/false)); });
  } else if (op == "matrix_exp") {
    const torch::Tensor scaled = a * (1.0 / std::sqrt(double(n)));
    timing = bench::time_steps([&] { bench::do_not_optimize(torch::linalg_matrix_exp(scaled)); });
  } else if (op == "pinv") {
    // the atol/rtol overload with both unset: PyTorch's default tolerance, as ember's
    timing = bench::time_steps([&] {
      bench::do_not_optimize(torch::linalg_pinv(a, c10::optional<double>(), c10::optional<double>(), false));
    });
  } else if (op == "lstsq") {
    // the gelsd driver (SVD-based), whose four results ember's lstsq returns; PyTorch's default on
    // the CPU, gelsy (QR with column pivoting), leaves the residuals and singular values empty
    const c10::string_view driver = "gelsd";
    timing = bench::time_steps([&] { bench::do_not_optimize(std::get<0>(torch::linalg_lstsq(a, b, c10::nullopt, driver))); });
  } else if (op == "lu_factor") {
    timing = bench::time_steps([&] { bench::do_not_optimize(std::get<0>(torch::linalg_lu_factor(a))); });
  } else if (op == "lu_solve") {
    const auto factors = torch::linalg_lu_factor(a);
    timing = bench::time_steps(
        [&] { bench::do_not_optimize(torch::linalg_lu_solve(std::get<0>(factors), std::get<1>(factors), b)); });
  } else if (op == "lu_backward") {
    const torch::Tensor leaf = a.detach().requires_grad_();
    timing = bench::time_steps([&] {
      const auto plu = torch::linalg_lu(leaf);
      torch::Tensor loss = std::get<1>(plu).sum() + std::get<2>(plu).sum();
      bench::do_not_optimize(torch::autograd::grad({loss}, {leaf}));
    });
  } else if (op == "matrix_exp_backward") {
    const torch::Tensor leaf = (a * (1.0 / std::sqrt(double(n)))).detach().requires_grad_();
    timing = bench::time_steps([&] {
      torch::Tensor loss = torch::linalg_matrix_exp(leaf).sum();
      bench::do_not_optimize(torch::autograd::grad({loss}, {leaf}));
    });
  } else if (op == "slogdet_backward") {
    const torch::Tensor leaf = a.detach().requires_grad_();
    timing = bench::time_steps([&] {
      torch::Tensor loss = std::get<1>(torch::linalg_slogdet(leaf));
      bench::do_not_optimize(torch::autograd::grad({loss}, {leaf}));
    });
  } else if (op == "eigvalsh_backward") {
    const torch::Tensor leaf = sym.detach().requires_grad_();
    timing = bench::time_steps([&] {
      torch::Tensor loss = torch::linalg_eigvalsh(leaf).sum();
      bench::do_not_optimize(torch::autograd::grad({loss}, {leaf}));
    });
  } else {
    std::fprintf(stderr, "unknown case %s\n", op.c_str());
    std::exit(2);
  }
  bench::print_case("W13/" + op + "/" + std::to_string(n), timing);
}

}  // namespace

int main(int argc, char** argv) {
  torch::set_num_threads(2);
  if (argc == 2) {  // CASE = op/n
    const std::string name = argv[1];
    const size_t slash = name.find('/');
    if (slash == std::string::npos) return 2;
    run_case(name.substr(0, slash), std::stoll(name.substr(slash + 1)));
    return 0;
  }
  std::printf("# cpu: %s threads: 2 (libtorch)\n", ember::bench::cpu_model().c_str());
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
