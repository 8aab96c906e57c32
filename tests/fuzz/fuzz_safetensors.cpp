// libFuzzer target for the safetensors loader. Any input must either load or throw ember::Error;
// anything else (a crash, an ASan report, another exception type, a hang) is a bug. An input that
// loads must also survive a round trip: written back and loaded again, it gives the same tensors.
#include <cstdint>
#include <cstdlib>
#include <cstring>

#include <ember/core/error.h>
#include <ember/io/safetensors.h>

namespace {

bool same_tensor(const ember::Tensor& a, const ember::Tensor& b) {
  if (a.dtype() != b.dtype() || a.shape() != b.shape()) return false;
  const ember::Tensor ca = a.contiguous(), cb = b.contiguous();
  return std::memcmp(ca.data_ptr(), cb.data_ptr(), static_cast<size_t>(ca.numel()) * ember::dtype_size(ca.dtype())) == 0;
}

void check_round_trip(const ember::io::SafetensorsFile& file) {
  const std::vector<uint8_t> bytes = ember::io::serialize_safetensors(file.tensors, file.metadata);
  const ember::io::SafetensorsFile again = ember::io::deserialize_safetensors(bytes.data(), bytes.size(), "round trip");
  bool same = again.metadata == file.metadata && again.tensors.size() == file.tensors.size();
  for (size_t i = 0; same && i < file.tensors.size(); ++i)
    same = again.tensors[i].first == file.tensors[i].first && same_tensor(again.tensors[i].second, file.tensors[i].second);
  if (!same) std::abort();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  ember::io::SafetensorsFile file;
  try {
    file = ember::io::deserialize_safetensors(data, size, "fuzz input");
  } catch (const ember::Error&) {
    return 0;  // rejected with a clear error: the expected outcome for most inputs
  }
  check_round_trip(file);  // outside the try: an ember::Error here means a file we accepted cannot be rewritten
  return 0;
}
