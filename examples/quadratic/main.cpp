// Minimises f(x) = 1/2 x^T A x - b^T x (A SPD, chosen condition number) with gradient descent
// (optimal fixed step and exact line search), heavy-ball momentum, one Newton step, conjugate
// gradients through Hessian-vector products only, and ember's SGD and Adam. Prints the iterations
// each needs to reach a relative A-norm error of --tolerance beside what the theory predicts, and
// draws contours.svg (a 2-D problem, each method's path) and convergence.svg (the --dim problem).
// docs/quadratic.md derives the rates.
//   quadratic --dim 1000 --condition 100 --out out/quadratic
#include <ember/ember.h>

#include <chrono>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <fstream>

#include "examples/common/cli.h"
#include "examples/quadratic/figures.h"
#include "examples/quadratic/quadratic.h"

using namespace ember;
namespace q = ember::examples::quadratic;

namespace {

struct Options {
  int64_t dim = 1000;
  double condition = 100;
  double plot_condition = 10;
  double tolerance = 1e-8;
  int64_t max_iterations = 4000;
  double adam_lr = 0.01;
  uint64_t seed = 0;
  std::string out = "out/quadratic";
};

std::string count_or_dash(int64_t iterations, int64_t max_iterations) {
  return iterations >= 0 ? std::to_string(iterations) : "> " + std::to_string(max_iterations);
}

void write_csv(const std::vector<q::Trajectory>& runs, const std::string& file) {
  std::ofstream csv(file);
  EMBER_CHECK(csv.good(), "quadratic", "cannot write {}", file);
  csv << "method,iteration,relative_error\n";
  for (const q::Trajectory& t : runs)
    for (size_t k = 0; k < t.errors.size(); ++k)
      csv << '"' << t.method << "\"," << k << ',' << t.errors[k] << '\n';
  EMBER_CHECK(csv.good(), "quadratic", "writing {} failed", file);
}

void run(const Options& o) {
  examples::create_output_folder(o.out);
  const q::RunOptions run{.tolerance = o.tolerance, .max_iterations = o.max_iterations};

  // The n-dimensional problem: the numbers and the convergence plot.
  const q::Problem p = q::make_problem(o.dim, o.condition, o.seed);
  const Tensor x0 = zeros({o.dim}, {.dtype = DType::Float64});
  const double kappa = p.condition();
  const double root_l = std::sqrt(p.l), root_mu = std::sqrt(p.mu);
  const double hb_alpha = 4 / ((root_l + root_mu) * (root_l + root_mu));
  const double hb_beta = std::pow((std::sqrt(kappa) - 1) / (std::sqrt(kappa) + 1), 2);

  struct Row {
    q::Trajectory t;
    q::Prediction predicted;
    double seconds;
  };
  std::vector<Row> rows;
  auto timed = [&](auto method, q::Prediction predicted) {
    const auto start = std::chrono::steady_clock::now();
    q::Trajectory t = method();
    const double s =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    rows.push_back({std::move(t), std::move(predicted), s});
  };
  timed([&] { return q::gradient_descent(p, x0, run); },
        q::predict_gradient_descent(kappa, o.tolerance));
  timed([&] { return q::gradient_descent_line_search(p, x0, run); },
        q::predict_line_search(kappa, o.tolerance));
  timed([&] { return q::heavy_ball(p, x0, run); }, q::predict_heavy_ball(kappa, o.tolerance));
  timed([&] { return q::newton(p, x0, run); }, q::Prediction{1, "exact for a quadratic"});
  timed([&] { return q::conjugate_gradient(p, x0, run); },
        q::predict_conjugate_gradient(kappa, p.n(), o.tolerance));
  timed([&] { return q::ember_sgd(p, x0, run, 1 / p.l, 0); }, q::predict_sgd(kappa, o.tolerance));
  timed([&] { return q::ember_sgd(p, x0, run, hb_alpha, hb_beta); },
        q::predict_heavy_ball(kappa, o.tolerance));
  timed([&] { return q::ember_adam(p, x0, run, o.adam_lr); },
        q::Prediction{-1, "no rate for a fixed lr"});

  fmt::print(
      "f(x) = 1/2 x'Ax - b'x, n = {}, condition number {}, relative A-norm error to {:g}\n\n",
      p.n(), kappa, o.tolerance);
  fmt::print("{:<38} {:>10} {:>10}  {:<40} {:>7}\n", "method", "iterations", "predicted", "bound",
             "seconds");
  for (const Row& r : rows) {
    fmt::print("{:<38} {:>10} {:>10}  {:<40} {:>7.2f}\n", r.t.method,
               count_or_dash(r.t.iterations, o.max_iterations),
               r.predicted.iterations >= 0 ? std::to_string(r.predicted.iterations) : "-",
               r.predicted.rule, r.seconds);
  }
  std::vector<q::Trajectory> runs;
  for (Row& r : rows) runs.push_back(std::move(r.t));
  const double sigma = (std::sqrt(kappa) - 1) / (std::sqrt(kappa) + 1);
  q::draw_convergence(runs,
                      {{"GD bound ((k-1)/(k+1))^t", (kappa - 1) / (kappa + 1), 1, "#1f77b4"},
                       {"CG bound 2((sqrt k-1)/(sqrt k+1))^t", sigma, 2, "#9467bd"}},
                      fmt::format("n = {}, condition number {}", p.n(), kappa),
                      o.out + "/convergence.svg");
  write_csv(runs, o.out + "/convergence.csv");

  // The 2-D problem: each method's path over the contours, from a start far out along the shallow
  // eigenvector and a little off along the steep one.
  const q::Problem p2 = q::make_problem(2, o.plot_condition, o.seed + 1);
  const Tensor start =
      p2.x_star + q::from_eigenbasis(p2, from_vector(std::vector<double>{2.0, 0.3}));
  const q::RunOptions picture{.tolerance = 1e-3, .max_iterations = 200, .record_points = true};
  const double k2 = p2.condition(), s2 = std::sqrt(k2);
  std::vector<q::Trajectory> paths = {
      q::gradient_descent(p2, start, picture),
      q::gradient_descent_line_search(p2, start, picture),
      q::ember_sgd(p2, start, picture, 4 / std::pow(std::sqrt(p2.l) + std::sqrt(p2.mu), 2),
                   std::pow((s2 - 1) / (s2 + 1), 2)),
      q::ember_adam(p2, start, picture, 0.1),
      q::conjugate_gradient(p2, start, picture),
      q::newton(p2, start, picture),
  };
  q::draw_contours(p2, paths, o.out + "/contours.svg");
  fmt::print("\nwrote {0}/convergence.svg, {0}/convergence.csv and {0}/contours.svg\n", o.out);
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{
      "Minimise 1/2 x'Ax - b'x with classical methods and compare with their textbook rates"};
  examples::show_defaults_in_help(app);
  Options o;
  app.add_option("--dim", o.dim, "dimension n of the problem the table measures")
      ->check(examples::integer_between(2, examples::kMaxWidth));  // A is a dense n x n matrix
  // Up to 1e16, about 1 / float64's epsilon: beyond it rounding leaves the A built from the
  // eigenvalues indefinite, and Newton's step failed with "the Hessian is not positive definite".
  constexpr double kMaxCondition = 1e16;
  app.add_option("--condition", o.condition, "condition number L/mu of A")
      ->check(examples::number_between(1, kMaxCondition));
  app.add_option("--plot-condition", o.plot_condition,
                 "condition number of the 2-D problem drawn in contours.svg")
      ->check(examples::number_between(1, kMaxCondition));
  app.add_option("--tolerance", o.tolerance, "relative A-norm error a method must reach")
      ->check(examples::number_above(0));
  app.add_option("--max-iterations", o.max_iterations, "iterations before a method is given up")
      ->check(examples::integer_at_least(1));
  app.add_option("--adam-lr", o.adam_lr, "learning rate of optim::Adam")
      ->check(examples::number_above(0));
  app.add_option("--seed", o.seed, "random seed of A's eigenvectors and b")
      ->check(examples::unsigned_integer());
  app.add_option("--out", o.out, "folder for contours.svg, convergence.svg and convergence.csv");
  return examples::run_trainer(app, argc, argv, [&] { run(o); });
}
