// Linked when ember is built without CUDA: every entry point throws a clear error, so a CUDA tensor
// on such a build fails at its first use with a message that says why.
#include "backends/backend.h"
#include "backends/cuda/cuda.h"
#include "core/error.h"

namespace ember {
namespace {
[[noreturn]] void no_cuda() { EMBER_FAIL("cuda", "ember was built without CUDA (configure with EMBER_CUDA=ON)"); }
}  // namespace

const Backend& cuda_backend() {
  static const Backend table{
      .name = [] { return std::string("cuda (not built)"); },
      .allocate = [](size_t, Device) -> void* { no_cuda(); },
      .deallocate = [](void*, size_t, Device) {},
      .fill = [](const View&, double) { no_cuda(); },
      .copy = [](const View&, const View&) { no_cuda(); },
      .unary = [](UnaryOp, const View&, const View&) { no_cuda(); },
      .binary = [](BinaryOp, const View&, const View&, const View&) { no_cuda(); },
      .where = [](const View&, const View&, const View&, const View&) { no_cuda(); },
      .reduce = [](ReduceOp, const View&, const View&, std::span<const int64_t>) { no_cuda(); },
      .matmul = [](const View&, const View&, const View&, double, double) { no_cuda(); },
      .cumsum = [](const View&, const View&, int64_t) { no_cuda(); },
      .gather = [](const View&, int64_t, const View&, const View&) { no_cuda(); },
      .scatter_add = [](const View&, int64_t, const View&, const View&) { no_cuda(); },
      .index_select = [](const View&, int64_t, const View&, const View&) { no_cuda(); },
      .index_add = [](const View&, int64_t, const View&, const View&) { no_cuda(); },
      .random = [](RandomKind, const View&, uint64_t, uint64_t, double, double) { no_cuda(); },
      .index_range = [](const View&) -> std::pair<int64_t, int64_t> { no_cuda(); },
      .has_nonfinite = [](const View&) -> bool { no_cuda(); },
      .im2col = [](const View&, const View&, const Window2d&) { no_cuda(); },
      .col2im = [](const View&, const View&, const Window2d&) { no_cuda(); },
      .max_pool2d = [](const View&, const View&, const View&, const Window2d&) { no_cuda(); },
  };
  return table;
}

namespace cuda {
bool is_available() { return false; }
int device_count() { return 0; }
std::string device_name(int) { no_cuda(); }
void synchronize(int) {}
MemoryStats memory_stats(int) { no_cuda(); }
void reset_peak_memory_stats(int) { no_cuda(); }
void empty_cache() {}
DeviceMemory device_memory(int) { no_cuda(); }
}  // namespace cuda

}  // namespace ember
