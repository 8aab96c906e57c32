// The simple random walk on the integers: exact first-return and first-passage probabilities from
// generating functions, against a Monte Carlo simulation of millions of walks with ember's Philox
// generator. Prints the comparison with 95% intervals and writes into --out:
//   first_return_p<P>.svg  the distribution of the first return time, exact against simulated
//   return_by_step.svg     P(returned by step t) for every p, approaching 1 - |p - q|
//   comparison.csv         the printed table
//
//   random_walk --p 0.5 0.6 --walks 2000000 --out out/random_walk
//   random_walk --device cuda   (the same seed gives the same counts as on the CPU)
#include <algorithm>
#include <chrono>
#include <string>
#include <vector>

#include <ember/core/device.h>
#include "examples/common/cli.h"
#include "examples/random_walk/walk.h"
#include <ember/io/file.h>

using namespace ember;

int main(int argc, char** argv) {
  CLI::App app{"Simple random walk: generating-function probabilities against Monte Carlo"};
  examples::show_defaults_in_help(app);
  std::vector<double> ps = {0.5, 0.6};
  random_walk::SimulationOptions sim;
  std::string device = "cpu", out = "out/random_walk";
  bool quiet = false;
  app.add_option("--p", ps, "Probabilities of a +1 step, one simulation each")
      ->check(examples::number_above(0))
      ->expected(1, 16);
  // Up to 2^40 walks (a million times the default) and 2^24 steps: the exact probabilities and the
  // counts are vectors of --steps + 1 numbers, and more walks never finished (nor could be counted).
  app.add_option("--walks", sim.walks, "Walks simulated for each p")
      ->check(examples::integer_between(1, int64_t{1} << 40));
  app.add_option("--steps", sim.steps, "Steps per walk (the horizon)")
      ->check(examples::integer_between(2, 1 << 24));
  app.add_option("--level", sim.level, "Level of the first-passage rows")
      ->check(examples::integer_between(1, INT32_MAX));
  app.add_option("--batch-size", sim.batch_elements,
                 "Walks x steps simulated at once (bounds memory)")
      ->check(examples::integer_at_least(1));
  app.add_option("--device", device, "cpu or cuda[:N]");
  app.add_option("--seed", sim.seed, "Seed of the Philox stream")
      ->check(examples::unsigned_integer());
  app.add_option("--out", out, "Folder for the figures and the table");
  app.add_flag("--quiet", quiet, "Print only the table");
  return examples::run_trainer(app, argc, argv, [&] {
    sim.device = examples::select_device(device, "random_walk");
    for (double p : ps)
      EMBER_CHECK(p > 0 && p < 1, "random_walk", "--p must be strictly between 0 and 1, got {}", p);
    EMBER_CHECK(sim.level <= sim.steps, "random_walk", "--level {} cannot be reached in --steps {}",
                sim.level, sim.steps);
    examples::create_output_folder(out);
    std::string csv = "p,event,exact,simulated,ci95_lo,ci95_hi,inside\n";
    for (double p : ps) {
      sim.p = p;
      const auto start = std::chrono::steady_clock::now();
      const random_walk::SimulationCounts counts = random_walk::simulate(sim);
      const double seconds =
          std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
      fmt::print("\np = {}, q = {}: {} walks of {} steps on {} ({:.1f} s)\n", p, 1 - p, sim.walks,
                 sim.steps, sim.device, seconds);
      fmt::print("{:<28} {:>11} {:>11}   {:<25}\n", "event", "exact", "simulated", "95% interval");
      for (const random_walk::Comparison& row : random_walk::compare(sim, counts)) {
        const random_walk::Interval ci = row.interval();
        fmt::print("{:<28} {:>11.6f} {:>11.6f}   [{:.6f}, {:.6f}]{}\n", row.event, row.exact,
                   row.estimate(), ci.lo, ci.hi, ci.contains(row.exact) ? "" : "  (outside)");
        csv += fmt::format("{},{},{:.9g},{:.9g},{:.9g},{:.9g},{}\n", p, row.event, row.exact,
                           row.estimate(), ci.lo, ci.hi, ci.contains(row.exact) ? 1 : 0);
      }
      const std::vector<double> exact = random_walk::first_return_probabilities(p, sim.steps);
      double by_horizon = 0;
      for (double f : exact) by_horizon += f;
      fmt::print("ever returns to 0: 1 - |p - q| = {:.6f} (returns after step {}: {:.6f})\n",
                 random_walk::return_probability(p), sim.steps,
                 random_walk::return_probability(p) - by_horizon);
      fmt::print("ever reaches {}: min(1, p/q)^{} = {:.6f}\n", sim.level, sim.level,
                 random_walk::passage_probability(p, sim.level));
      if (sim.device.is_cuda()) {
        // Philox draws are a function of (seed, counter) only, so the CPU replays the CUDA streams:
        // the first walks' counts must agree exactly.
        random_walk::SimulationOptions check = sim;
        check.walks = std::min<int64_t>(sim.walks, 1 << 16);
        check.device = Device::cpu();
        const random_walk::SimulationCounts on_cpu = random_walk::simulate(check);
        check.device = sim.device;
        const random_walk::SimulationCounts on_cuda = random_walk::simulate(check);
        const bool same = on_cpu.first_return == on_cuda.first_return &&
                          on_cpu.first_passage == on_cuda.first_passage;
        fmt::print("the first {} walks on cpu and {}: {}\n", check.walks, sim.device,
                   same ? "identical counts" : "DIFFERENT counts");
        EMBER_CHECK(same, "random_walk", "the CPU and {} simulations of seed {} differ", sim.device,
                    sim.seed);
      }
      const std::string figure = fmt::format("{}/first_return_p{}.svg", out, p);
      random_walk::first_return_plot(p, exact, counts).save(figure);
      if (!quiet) fmt::print("wrote {}\n", figure);
    }
    random_walk::first_return_family_plot(ps, sim.steps).save(out + "/return_by_step.svg");
    io::write_file_atomic(out + "/comparison.csv", std::vector<uint8_t>(csv.begin(), csv.end()));
    if (!quiet) fmt::print("wrote {}/return_by_step.svg and {}/comparison.csv\n", out, out);
  });
}
