#include <ember/io/checkpoint.h>

#include <zlib.h>

#include <algorithm>
#include <cctype>
#include <cstring>

#include <ember/io/safetensors.h>
#include <ember/ops/ops.h>

namespace ember::io {
namespace {

constexpr const char* kFormat = "ember-checkpoint-1";
// A CRC-32 of the tensor data, in the metadata: safetensors checks the header's structure but not the
// values, and a flipped bit in a weight would otherwise load as a silently different model.
// Checkpoints written before it was added have none and still load.
constexpr const char* kChecksumKey = "data_crc32";

// The CRC-32 of the data section: the tensors' bytes in the order they are laid out in the file.
uint32_t data_crc32(const nn::NamedTensors& tensors) {
  uLong crc = crc32_z(0L, Z_NULL, 0);
  for (const auto& [name, t] : tensors) {
    const Tensor c = t.detach().to(Device::cpu()).contiguous();
    const z_size_t bytes = static_cast<z_size_t>(c.numel()) * c.element_size();
    // Not for empty tensors: zlib returns 0 for a null buffer whatever the running CRC, and an empty
    // tensor's data pointer may be null (from_blob) on one side and not on the other.
    if (bytes > 0) crc = crc32_z(crc, static_cast<const Bytef*>(c.data_ptr()), bytes);
  }
  return static_cast<uint32_t>(crc);
}

void add_prefixed(nn::NamedTensors& out, const std::string& prefix, const nn::NamedTensors& tensors) {
  for (const auto& [name, t] : tensors) out.emplace_back(prefix + name, t);
}

nn::NamedTensors take_prefixed(const nn::NamedTensors& all, const std::string& prefix) {
  nn::NamedTensors out;
  for (const auto& [name, t] : all)
    if (name.rfind(prefix, 0) == 0) out.emplace_back(name.substr(prefix.size()), t);
  return out;
}

// uint64 values travel as the bits of an int64 tensor.
Tensor u64_tensor(uint64_t v) {
  int64_t bits;
  std::memcpy(&bits, &v, 8);
  return from_vector(std::vector<int64_t>{bits});
}
uint64_t u64_of(const Tensor& t, const std::string& path, const char* what) {
  EMBER_CHECK(t.dtype() == DType::Int64 && t.numel() == 1, "checkpoint", "{}: \"{}\" must be one int64", path, what);
  const int64_t bits = t.item<int64_t>();
  uint64_t v;
  std::memcpy(&v, &bits, 8);
  return v;
}

}  // namespace

void save_checkpoint(const std::string& path, const Checkpoint& c) {
  nn::NamedTensors all;
  if (c.model) add_prefixed(all, "model.", c.model->state_dict());
  if (c.optimizer) add_prefixed(all, "optimizer.", c.optimizer->state_dict());
  if (c.scheduler) add_prefixed(all, "scheduler.", c.scheduler->state_dict());
  add_prefixed(all, "extra.", c.extra);
  const Generator& gen = c.generator ? *c.generator : default_generator();
  auto [seed, offset] = gen.get_state();
  all.emplace_back("rng.seed", u64_tensor(seed));
  all.emplace_back("rng.offset", u64_tensor(offset));
  all.emplace_back("step", from_vector(std::vector<int64_t>{c.step}));
  save_safetensors(path, all, {{"format", kFormat}, {kChecksumKey, fmt::format("{:08x}", data_crc32(all))}});
}

int64_t load_checkpoint(const std::string& path, Checkpoint& c) {
  SafetensorsFile file = load_safetensors(path);
  auto format = file.metadata.find("format");
  EMBER_CHECK(format != file.metadata.end() && format->second == kFormat, "checkpoint",
              "{}: not an ember checkpoint (metadata format is \"{}\")", path,
              format == file.metadata.end() ? "" : format->second);
  if (auto stored = file.metadata.find(kChecksumKey); stored != file.metadata.end()) {
    const std::string& want = stored->second;
    EMBER_CHECK(want.size() == 8 && std::all_of(want.begin(), want.end(), [](unsigned char c) { return std::isxdigit(c); }),
                "checkpoint", "{}: the stored CRC-32 is not 8 hex digits: the file is corrupt", path);
    const uint32_t computed = data_crc32(file.tensors);  // the loader lists the tensors in file order
    EMBER_CHECK(want == fmt::format("{:08x}", computed), "checkpoint",
                "{}: the tensor data does not match the CRC-32 saved with it (stored \"{}\", computed \"{:08x}\"): "
                "the file is corrupt",
                path, want, computed);
  }
  auto find = [&](const std::string& name) -> const Tensor& {
    for (const auto& [n, t] : file.tensors)
      if (n == name) return t;
    EMBER_FAIL("checkpoint", "{}: missing \"{}\"", path, name);
  };
  // The generator state and step are checked before any object is changed.
  const uint64_t seed = u64_of(find("rng.seed"), path, "rng.seed");
  const uint64_t offset = u64_of(find("rng.offset"), path, "rng.offset");
  const Tensor& step = find("step");
  EMBER_CHECK(step.dtype() == DType::Int64 && step.numel() == 1, "checkpoint", "{}: \"step\" must be one int64", path);
  // All or nothing: each load_state_dict checks everything before it changes anything, and the
  // optimizer and scheduler, loaded first, are put back if a later part is refused (their old state
  // tensors are kept alive by these copies of their dicts; the model's parameters, loaded last, are
  // never left half-overwritten).
  const nn::NamedTensors old_optimizer = c.optimizer ? c.optimizer->state_dict() : nn::NamedTensors{};
  const nn::NamedTensors old_scheduler = c.scheduler ? c.scheduler->state_dict() : nn::NamedTensors{};
  bool optimizer_loaded = false, scheduler_loaded = false;
  try {
    if (c.optimizer) c.optimizer->load_state_dict(take_prefixed(file.tensors, "optimizer.")), optimizer_loaded = true;
    if (c.scheduler) c.scheduler->load_state_dict(take_prefixed(file.tensors, "scheduler.")), scheduler_loaded = true;
    if (c.model) c.model->load_state_dict(take_prefixed(file.tensors, "model."));
  } catch (const Error& e) {
    // (A scheduler's load does not write the optimizer's lrs; the optimizer's own restore sets them.)
    // A restore that fails (a state this build would not accept) must not hide the error that matters.
    try {
      if (scheduler_loaded) c.scheduler->load_state_dict(old_scheduler);
      if (optimizer_loaded) c.optimizer->load_state_dict(old_optimizer);
    } catch (const Error&) {
    }
    throw Error(fmt::format("[checkpoint] {}: {}", path, e.what()));
  }
  c.extra = take_prefixed(file.tensors, "extra.");
  Generator& gen = c.generator ? *c.generator : default_generator();
  gen.set_state({seed, offset});
  c.step = step.item<int64_t>();
  return c.step;
}

}  // namespace ember::io
