#include <ember/io/safetensors.h>

#include <algorithm>
#include <cstring>
#include <limits>
#include <nlohmann/json.hpp>
#include <set>

#include <ember/ops/ops.h>

namespace ember::io {
namespace {

constexpr uint64_t kMaxHeaderSize = 100'000'000;  // the format's limit

const char* code_of(DType t) {
  switch (t) {
    case DType::Bool: return "BOOL";
    case DType::UInt8: return "U8";
    case DType::Int32: return "I32";
    case DType::Int64: return "I64";
    case DType::Float16: return "F16";
    case DType::BFloat16: return "BF16";
    case DType::Float32: return "F32";
    case DType::Float64: return "F64";
  }
  return "?";  // GCOVR_EXCL_LINE: after a switch over every DType
}

std::optional<DType> dtype_of(const std::string& code) {
  for (DType t : {DType::Bool, DType::UInt8, DType::Int32, DType::Int64, DType::Float16, DType::BFloat16, DType::Float32,
                  DType::Float64})
    if (code == code_of(t)) return t;
  return std::nullopt;
}

// Rejects duplicate keys, which nlohmann::json would otherwise resolve silently (last one wins).
nlohmann::json parse_header(const std::string& text, const std::string& origin) {
  std::vector<std::set<std::string>> keys_per_level;
  std::string duplicate;
  auto callback = [&](int depth, nlohmann::json::parse_event_t event, nlohmann::json& parsed) {
    using E = nlohmann::json::parse_event_t;
    // object_start reports the parent's depth; the object's keys report the object's own (one more).
    if (event == E::object_start) {
      keys_per_level.resize(std::max<size_t>(keys_per_level.size(), depth + 2));
      keys_per_level[depth + 1].clear();
    } else if (event == E::key) {
      if (keys_per_level.size() <= static_cast<size_t>(depth)) keys_per_level.resize(depth + 1);
      if (!keys_per_level[depth].insert(parsed.get<std::string>()).second && duplicate.empty())
        duplicate = parsed.get<std::string>();
    }
    return true;
  };
  nlohmann::json header;
  try {
    header = nlohmann::json::parse(text, callback, /*allow_exceptions=*/true);
  } catch (const nlohmann::json::exception& e) {
    EMBER_FAIL("safetensors", "{}: the header is not valid JSON ({})", origin, e.what());
  }
  EMBER_CHECK(duplicate.empty(), "safetensors", "{}: the header names \"{}\" twice", origin, duplicate);
  return header;
}

}  // namespace

std::vector<uint8_t> serialize_safetensors(const nn::NamedTensors& tensors, const std::map<std::string, std::string>& metadata) {
  nlohmann::ordered_json header = nlohmann::ordered_json::object();
  if (!metadata.empty()) header["__metadata__"] = metadata;
  std::vector<Tensor> contiguous_cpu;
  uint64_t offset = 0;
  std::set<std::string> names;
  for (const auto& [name, t] : tensors) {
    EMBER_CHECK(!name.empty() && name != "__metadata__", "safetensors", "invalid tensor name \"{}\"", name);
    EMBER_CHECK(names.insert(name).second, "safetensors", "tensor name \"{}\" appears twice", name);
    EMBER_CHECK(t.defined(), "safetensors", "tensor \"{}\" is undefined", name);
    Tensor c = t.detach().to(Device::cpu()).contiguous();
    const uint64_t bytes = static_cast<uint64_t>(c.numel()) * c.element_size();
    header[name] = {{"dtype", code_of(c.dtype())},
                    {"shape", std::vector<int64_t>(c.shape().begin(), c.shape().end())},
                    {"data_offsets", {offset, offset + bytes}}};
    offset += bytes;
    contiguous_cpu.push_back(c);
  }
  std::string text = header.dump();
  while ((8 + text.size()) % 8 != 0) text.push_back(' ');  // align the data to 8 bytes
  std::vector<uint8_t> out(8 + text.size() + offset);
  const uint64_t n = text.size();
  for (int i = 0; i < 8; ++i) out[i] = static_cast<uint8_t>(n >> (8 * i));
  std::memcpy(out.data() + 8, text.data(), text.size());
  uint8_t* data = out.data() + 8 + text.size();
  for (const Tensor& c : contiguous_cpu) {
    const size_t bytes = static_cast<size_t>(c.numel()) * c.element_size();
    if (bytes) std::memcpy(data, c.data_ptr(), bytes);
    data += bytes;
  }
  return out;
}

SafetensorsFile deserialize_safetensors(const uint8_t* data, size_t size, const std::string& origin) {
  EMBER_CHECK(size >= 8, "safetensors", "{}: {} bytes is too short for the 8-byte header length", origin, size);
  uint64_t n = 0;
  for (int i = 0; i < 8; ++i) n |= static_cast<uint64_t>(data[i]) << (8 * i);
  EMBER_CHECK(n <= kMaxHeaderSize, "safetensors", "{}: the header length {} exceeds the format's limit of {}", origin, n,
              kMaxHeaderSize);
  EMBER_CHECK(n <= size - 8, "safetensors", "{}: the header length {} runs past the end of the {}-byte file", origin, n, size);
  const std::string text(reinterpret_cast<const char*>(data) + 8, n);
  EMBER_CHECK(!text.empty() && text[0] == '{', "safetensors", "{}: the header must be a JSON object starting with '{{'", origin);
  nlohmann::json header = parse_header(text, origin);
  EMBER_CHECK(header.is_object(), "safetensors", "{}: the header must be a JSON object", origin);
  const uint8_t* buffer = data + 8 + n;
  const uint64_t buffer_size = size - 8 - n;

  SafetensorsFile file;
  struct Entry {
    std::string name;
    DType dtype;
    Shape shape;
    uint64_t begin, end;
  };
  std::vector<Entry> entries;
  for (auto& [name, info] : header.items()) {
    if (name == "__metadata__") {
      EMBER_CHECK(info.is_object(), "safetensors", "{}: __metadata__ must be an object of strings", origin);
      for (auto& [k, v] : info.items()) {
        EMBER_CHECK(v.is_string(), "safetensors", "{}: __metadata__ value of \"{}\" is not a string", origin, k);
        file.metadata[k] = v.get<std::string>();
      }
      continue;
    }
    EMBER_CHECK(info.is_object() && info.size() == 3 && info.contains("dtype") && info.contains("shape") &&
                    info.contains("data_offsets"),
                "safetensors", "{}: entry \"{}\" must have exactly dtype, shape and data_offsets", origin, name);
    const auto& d = info["dtype"];
    EMBER_CHECK(d.is_string(), "safetensors", "{}: dtype of \"{}\" is not a string", origin, name);
    std::optional<DType> dtype = dtype_of(d.get<std::string>());
    EMBER_CHECK(dtype.has_value(), "safetensors", "{}: dtype \"{}\" of \"{}\" is not supported by ember", origin,
                d.get<std::string>(), name);
    const auto& s = info["shape"];
    EMBER_CHECK(s.is_array(), "safetensors", "{}: shape of \"{}\" is not a list", origin, name);
    Shape shape;
    uint64_t numel = 1;
    bool overflow = false;
    for (const auto& dim : s) {
      EMBER_CHECK(dim.is_number_unsigned(), "safetensors", "{}: shape of \"{}\" has a non-integer or negative entry", origin, name);
      const uint64_t v = dim.get<uint64_t>();
      EMBER_CHECK(v <= static_cast<uint64_t>(std::numeric_limits<int64_t>::max()), "safetensors",
                  "{}: dimension {} of \"{}\" is too large", origin, v, name);
      if (v != 0 && numel > std::numeric_limits<uint64_t>::max() / v) overflow = true;
      numel *= v;
      shape.push_back(static_cast<int64_t>(v));
    }
    const uint64_t elem = dtype_size(*dtype);
    EMBER_CHECK(!overflow && numel <= std::numeric_limits<uint64_t>::max() / elem, "safetensors",
                "{}: the shape {} of \"{}\" overflows", origin, shape_str(shape), name);
    const auto& o = info["data_offsets"];
    EMBER_CHECK(o.is_array() && o.size() == 2 && o[0].is_number_unsigned() && o[1].is_number_unsigned(), "safetensors",
                "{}: data_offsets of \"{}\" must be two non-negative integers", origin, name);
    const uint64_t begin = o[0].get<uint64_t>(), end = o[1].get<uint64_t>();
    EMBER_CHECK(begin <= end, "safetensors", "{}: data_offsets of \"{}\" run backwards ({} > {})", origin, name, begin, end);
    EMBER_CHECK(end - begin == numel * elem, "safetensors",
                "{}: \"{}\" has {} bytes in the file but its dtype and shape {} need {}", origin, name, end - begin,
                shape_str(shape), numel * elem);
    entries.push_back({name, *dtype, shape, begin, end});
  }
  // Stable, so that empty tensors sharing an offset keep the header's (name) order: loading is then
  // deterministic, and a loaded file written back loads in the same order.
  std::stable_sort(entries.begin(), entries.end(), [](const Entry& a, const Entry& b) {
    return a.begin < b.begin || (a.begin == b.begin && a.end < b.end);
  });
  uint64_t expected = 0;
  for (const Entry& e : entries) {
    EMBER_CHECK(e.begin == expected, "safetensors", "{}: \"{}\" starts at byte {} but the previous tensor ended at {} ({})",
                origin, e.name, e.begin, expected, e.begin < expected ? "overlap" : "gap");
    expected = e.end;
  }
  EMBER_CHECK(expected == buffer_size, "safetensors", "{}: the tensors cover {} bytes but the data section has {} ({})",
              origin, expected, buffer_size, expected < buffer_size ? "trailing bytes" : "missing bytes");
  for (const Entry& e : entries) {
    Tensor t = Tensor::empty(e.shape, e.dtype, Device::cpu(), "safetensors");
    if (e.end > e.begin) std::memcpy(t.data_ptr(), buffer + e.begin, e.end - e.begin);
    if (e.dtype == DType::Bool) {
      const uint8_t* b = static_cast<const uint8_t*>(t.data_ptr());
      for (int64_t i = 0; i < t.numel(); ++i)
        EMBER_CHECK(b[i] <= 1, "safetensors", "{}: bool tensor \"{}\" holds the byte {}", origin, e.name, b[i]);
    }
    file.tensors.emplace_back(e.name, t);
  }
  return file;
}

void save_safetensors(const std::string& path, const nn::NamedTensors& tensors, const std::map<std::string, std::string>& metadata) {
  write_file_atomic(path, serialize_safetensors(tensors, metadata));
}

SafetensorsFile load_safetensors(const std::string& path) {
  std::vector<uint8_t> bytes = read_file(path);
  return deserialize_safetensors(bytes.data(), bytes.size(), path);
}

}  // namespace ember::io
