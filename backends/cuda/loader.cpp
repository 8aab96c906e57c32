// libember's side of the CUDA backend: opens libember_cuda.so with dlopen on first use and forwards
// the ember::cuda functions and cuda_backend() to it (the same pattern as OpenBLAS, which
// backends/cpu/blas.cpp opens at run time). A program that never uses a CUDA device never loads the
// plugin, so it runs without any CUDA library installed.
//
// Where the plugin is looked for: $EMBER_CUDA_LIBRARY if set, else next to libember itself (both are
// built into and installed in the same folder), else the dynamic loader's search path.
#include <dlfcn.h>

#include <cstdlib>
#include <string>

#include <ember/backends/cuda/plugin.h>
#include <ember/core/error.h>

namespace ember {
namespace cuda {
namespace {

struct LoadedPlugin {
  const CudaPlugin* plugin = nullptr;
  std::string error;  // why plugin is null
};

#if defined(EMBER_WITH_CUDA)
std::string folder_of_libember() {
  Dl_info info{};
  if (dladdr(reinterpret_cast<void*>(&backend_description), &info) == 0 || !info.dli_fname) return "";
  const std::string path = info.dli_fname;
  const size_t slash = path.rfind('/');
  return slash == std::string::npos ? "" : path.substr(0, slash + 1);
}
#endif

LoadedPlugin load_plugin() {
#if !defined(EMBER_WITH_CUDA)
  return {nullptr, "ember was built without CUDA (configure with EMBER_CUDA=ON)"};
#else
  constexpr const char* kName = "libember_cuda.so";
  std::string path;
  void* library = nullptr;
  if (const char* forced = std::getenv("EMBER_CUDA_LIBRARY"); forced && *forced) {
    path = forced;
    library = dlopen(forced, RTLD_NOW | RTLD_LOCAL);
  } else {
    path = folder_of_libember() + kName;
    library = dlopen(path.c_str(), RTLD_NOW | RTLD_LOCAL);
    if (!library) {
      path = kName;
      library = dlopen(kName, RTLD_NOW | RTLD_LOCAL);
    }
  }
  if (!library) {
    const char* why = dlerror();
    return {nullptr, fmt::format("cannot load ember's CUDA backend {}: {}", path, why ? why : "unknown error")};
  }
  auto entry = reinterpret_cast<EmberCudaPluginEntry>(dlsym(library, kCudaPluginEntry));
  if (!entry) return {nullptr, fmt::format("{} is not ember's CUDA backend (no {} symbol)", path, kCudaPluginEntry)};
  const CudaPlugin* plugin = entry();
  if (!plugin || plugin->abi != kCudaPluginAbi)
    return {nullptr, fmt::format("{} was built for another version of ember (plugin ABI {}, this libember needs {})",
                                 path, plugin ? plugin->abi : 0, kCudaPluginAbi)};
  return {plugin, ""};
#endif
}

// Loaded once, on first use, by whichever thread gets there first; never unloaded (tensors and the
// caching allocator live until exit).
const LoadedPlugin& loaded() {
  static const LoadedPlugin result = load_plugin();
  return result;
}

const CudaPlugin& plugin() {
  const LoadedPlugin& l = loaded();
  if (!l.plugin) EMBER_FAIL("cuda", "{}", l.error);
  return *l.plugin;
}

}  // namespace

bool is_available() { return loaded().plugin && loaded().plugin->is_available(); }
int device_count() { return loaded().plugin ? loaded().plugin->device_count() : 0; }
std::string device_name(int device) { return plugin().device_name(device); }
void synchronize(int device) {
  if (loaded().plugin) loaded().plugin->synchronize(device);
}
MemoryStats memory_stats(int device) { return plugin().memory_stats(device); }
void reset_peak_memory_stats(int device) { plugin().reset_peak_memory_stats(device); }
DeviceMemory device_memory(int device) { return plugin().device_memory(device); }
void empty_cache() {
  if (loaded().plugin) loaded().plugin->empty_cache();
}
std::string backend_description() {
  return loaded().plugin ? loaded().plugin->backend->name() : fmt::format("not available ({})", loaded().error);
}

}  // namespace cuda

const Backend& cuda_backend() { return *cuda::plugin().backend; }

}  // namespace ember
