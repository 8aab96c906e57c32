#pragma once
// The safetensors format (https://github.com/huggingface/safetensors): an 8-byte little-endian header
// length, a JSON header {name: {dtype, shape, data_offsets}, "__metadata__": {string: string}}, then
// the raw little-endian bytes of every tensor, contiguous, in offset order. The loader enforces
// every rule of the format and throws ember::Error naming the file and the rule a file breaks.
#include <map>
#include <string>
#include <vector>

#include <ember/io/file.h>  // read_file, write_file_atomic
#include <ember/nn/module.h>

namespace ember::io {

struct SafetensorsFile {
  nn::NamedTensors tensors;                     // in file order (by offset)
  std::map<std::string, std::string> metadata;  // "__metadata__"
};

// Writes tensors (any device, any layout; stored as contiguous CPU bytes) with optional metadata.
// Names must be unique and non-empty; "__metadata__" is reserved.
std::vector<uint8_t> serialize_safetensors(const nn::NamedTensors& tensors,
                                           const std::map<std::string, std::string>& metadata = {});
SafetensorsFile deserialize_safetensors(const uint8_t* data, size_t size, const std::string& origin = "<memory>");

// Saved with write_file_atomic (io/file.h), so a checkpoint path may be a symbolic link.
void save_safetensors(const std::string& path, const nn::NamedTensors& tensors,
                      const std::map<std::string, std::string>& metadata = {});
SafetensorsFile load_safetensors(const std::string& path);

}  // namespace ember::io
