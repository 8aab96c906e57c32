// The GEMM backend is chosen once per process, from the environment: EMBER_BLAS=fallback forces
// ember's own kernel, and without OPENBLAS_CORETYPE (unset or empty) ember picks OpenBLAS's kernels
// from the CPU's features. This test runs the "[blas]" tests of this same executable again in
// child processes with each environment; their kernel_description test checks the choice against
// GCC's own CPU detection, and the others check the products against reference_gemm.
#include <fmt/format.h>
#include <unistd.h>

#include <catch2/catch.hpp>
#include <climits>
#include <cstdlib>
#include <fstream>
#include <sstream>
#include <string>

namespace {

std::string this_executable() {
  char path[PATH_MAX];
  const ssize_t n = ::readlink("/proc/self/exe", path, sizeof path - 1);
  REQUIRE(n > 0);
  return std::string(path, static_cast<size_t>(n));
}

// Runs the [blas] tests with the environment changed by `env_arguments` (arguments of env(1));
// returns the exit status and the output.
std::pair<int, std::string> run_blas_tests(const std::string& env_arguments) {
  const std::string log = fmt::format("/tmp/ember-blas-env-{}.log", ::getpid());
  const std::string command = fmt::format("env {} EMBER_BLAS_ENV_CHILD=1 '{}' '[blas]' > '{}' 2>&1",
                                          env_arguments, this_executable(), log);
  const int status = std::system(command.c_str());
  std::ifstream in(log);
  std::stringstream text;
  text << in.rdbuf();
  std::remove(log.c_str());
  return {status, text.str()};
}

}  // namespace

TEST_CASE("the GEMM choice under other environments: the fallback, and ember's choice of kernels",
          "[blas-environments]") {
  if (std::getenv("EMBER_BLAS_ENV_CHILD")) return;  // never recurse
  for (const char* env : {"EMBER_BLAS=fallback", "-u EMBER_BLAS -u OPENBLAS_CORETYPE",
                          "-u EMBER_BLAS OPENBLAS_CORETYPE="}) {
    INFO("env " << env);
    const auto [status, output] = run_blas_tests(env);
    INFO(output);
    CHECK(status == 0);
    CHECK(output.find("All tests passed") != std::string::npos);
  }
}
