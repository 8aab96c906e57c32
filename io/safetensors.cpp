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

// The length of the UTF-8 character that starts at text[i], or 0 where the bytes there are not one
// (a stray continuation byte, a cut sequence, an overlong form, a surrogate, past U+10FFFF).
size_t utf8_char_length(const std::string& text, size_t i) {
  auto byte = [&](size_t k) { return k < text.size() ? static_cast<unsigned char>(text[k]) : 0u; };
  const unsigned c = byte(i);
  if (c < 0x80) return 1;
  // The allowed range of the second byte (RFC 3629's table) and the sequence's length.
  unsigned low = 0x80, high = 0xBF;
  size_t length = 0;
  if (c >= 0xC2 && c <= 0xDF) length = 2;
  else if (c >= 0xE0 && c <= 0xEF) length = 3, low = c == 0xE0 ? 0xA0 : 0x80, high = c == 0xED ? 0x9F : 0xBF;
  else if (c >= 0xF0 && c <= 0xF4) length = 4, low = c == 0xF0 ? 0x90 : 0x80, high = c == 0xF4 ? 0x8F : 0xBF;
  else return 0;
  if (byte(i + 1) < low || byte(i + 1) > high) return 0;
  for (size_t k = 2; k < length; ++k)
    if ((byte(i + k) & 0xC0) != 0x80) return 0;
  return length;
}

// The text for an error message: bytes that are not UTF-8, and control characters, written as \xNN.
std::string printable(const std::string& text) {
  std::string out;
  for (size_t i = 0; i < text.size();) {
    const size_t length = utf8_char_length(text, i);
    const auto c = static_cast<unsigned char>(text[i]);
    if (length == 0 || c < 0x20 || c == 0x7F) {
      out += fmt::format("\\x{:02x}", c);
      ++i;
    } else {
      out.append(text, i, length);
      i += length;
    }
  }
  return out;
}

// The header is JSON, whose strings are UTF-8: a name or metadata string that is not would make
// nlohmann::json throw its own exception when the header is written.
void check_utf8(const std::string& text, const char* what) {
  for (size_t i = 0; i < text.size();) {
    const size_t length = utf8_char_length(text, i);
    EMBER_CHECK(length > 0, "safetensors",
                "{} \"{}\" is not valid UTF-8 (byte {} of {}); the header is JSON, which needs UTF-8", what,
                printable(text), i, text.size());
    i += length;
  }
}

}  // namespace

std::vector<uint8_t> serialize_safetensors(const nn::NamedTensors& tensors, const std::map<std::string, std::string>& metadata) {
  nlohmann::ordered_json header = nlohmann::ordered_json::object();
  for (const auto& [key, value] : metadata) {
    check_utf8(key, "the metadata key");
    check_utf8(value, fmt::format("the metadata value of \"{}\"", key).c_str());
  }
  if (!metadata.empty()) header["__metadata__"] = metadata;
  std::vector<Tensor> contiguous_cpu;
  uint64_t offset = 0;
  std::set<std::string> names;
  for (const auto& [name, t] : tensors) {
    check_utf8(name, "the tensor name");
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
    // Zero-size dimensions count as 1 in `span`, as in Tensor::empty: the strides of [0, 2^62, 2^62]
    // overflow as much as those of [2^62, 2^62, 0], and either shape is refused here, in one way.
    int64_t span = 1;
    bool overflow = false;
    for (const auto& dim : s) {
      EMBER_CHECK(dim.is_number_unsigned(), "safetensors", "{}: shape of \"{}\" has a non-integer or negative entry", origin, name);
      const uint64_t v = dim.get<uint64_t>();
      EMBER_CHECK(v <= static_cast<uint64_t>(std::numeric_limits<int64_t>::max()), "safetensors",
                  "{}: dimension {} of \"{}\" is too large", origin, v, name);
      overflow = overflow || __builtin_mul_overflow(span, std::max<int64_t>(static_cast<int64_t>(v), 1), &span);
      numel *= v;  // at most span, once span has not overflowed
      shape.push_back(static_cast<int64_t>(v));
    }
    const uint64_t elem = dtype_size(*dtype);
    int64_t span_bytes = 0;
    EMBER_CHECK(!overflow && !__builtin_mul_overflow(span, static_cast<int64_t>(elem), &span_bytes), "safetensors",
                "{}: the shape {} of \"{}\" overflows: its dimensions (a zero-size one counted as 1) times its {} bytes "
                "per element exceed an int64",
                origin, shape_str(shape), name, elem);
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
