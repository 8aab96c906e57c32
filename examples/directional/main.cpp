// Directional derivatives three ways (backward, jvp, finite differences), the finite-difference
// error against the step size, and the gradient field over a surface's level sets
// (docs/directional.md).
//   directional --out out/directional --seed 0
#include "examples/common/cli.h"
#include "examples/directional/directional.h"

int main(int argc, char** argv) {
  using namespace ember;
  CLI::App app{
      "The directional derivative ∇f·v by backward, by jvp and by finite differences, and "
      "the gradient field over level sets"};
  examples::show_defaults_in_help(app);
  std::string out = "out/directional";
  uint64_t seed = 0;
  int64_t steps_per_decade = 8;
  app.add_option("--out", out, "Folder for the figures (SVG)");
  app.add_option("--seed", seed, "Random seed of the points and directions")
      ->check(examples::unsigned_integer());
  app.add_option("--steps-per-decade", steps_per_decade,
                 "Finite-difference steps h per factor of 10")
      ->check(examples::integer_between(1, 1 << 16));
  return examples::run_trainer(app, argc, argv, [&] {
    examples::create_output_folder(out);
    examples::directional::run(out, seed, int(steps_per_decade));
  });
}
