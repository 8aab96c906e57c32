// The CUDA test runner. With a device: every test except the [nodevice] ones. Without one (the
// build machines and CI): only the [nodevice] tests, which check the errors a CUDA tensor gives
// there; then "SKIPPED: no CUDA device" and exit code 77, which CTest shows as skipped, not failed.
#define CATCH_CONFIG_RUNNER
#include <catch2/catch.hpp>

#include <cstdio>

#include <ember/backends/cuda/cuda.h>

int main(int argc, char** argv) {
  Catch::Session session;
  if (const int rc = session.applyCommandLine(argc, argv)) return rc;
  const bool gpu = ember::cuda::is_available();
  if (session.configData().testsOrTags.empty()) {
    session.configData().testsOrTags.push_back(gpu ? "~[nodevice]" : "[nodevice]");
    session.useConfigData(session.configData());
  }
  const int rc = session.run();
  if (!gpu && rc == 0) {
    std::printf("SKIPPED: no CUDA device (only the device-free checks ran)\n");
    return 77;
  }
  return rc;
}
