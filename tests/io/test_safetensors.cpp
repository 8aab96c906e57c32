#include <catch2/catch.hpp>

#include <sys/wait.h>
#include <unistd.h>

#include <cstring>
#include <filesystem>
#include <nlohmann/json.hpp>

#include <ember/io/checkpoint.h>
#include <ember/io/safetensors.h>
#include <ember/nn/nn.h>
#include <ember/ops/ops.h>
#include <ember/optim/optim.h>

using namespace ember;

namespace {
std::string temp_path(const std::string& name) {
  const auto dir = std::filesystem::temp_directory_path() / ("ember-test-" + std::to_string(getpid()));
  std::filesystem::create_directories(dir);
  return (dir / name).string();
}

// A file from a header string and data bytes, to build invalid files by hand.
std::vector<uint8_t> make_file(const std::string& header, size_t data_bytes) {
  std::vector<uint8_t> out(8 + header.size() + data_bytes, 0);
  const uint64_t n = header.size();
  for (int i = 0; i < 8; ++i) out[i] = static_cast<uint8_t>(n >> (8 * i));
  std::memcpy(out.data() + 8, header.data(), header.size());
  return out;
}

void check_rejected(const std::vector<uint8_t>& bytes, const std::string& expected) {
  INFO(expected);
  CHECK_THROWS_WITH(io::deserialize_safetensors(bytes.data(), bytes.size()), Catch::Contains(expected));
}
}  // namespace

TEST_CASE("safetensors round trip for every dtype, with metadata", "[io]") {
  nn::NamedTensors tensors;
  for (DType t : {DType::Bool, DType::UInt8, DType::Int32, DType::Int64, DType::Float16, DType::BFloat16, DType::Float32,
                  DType::Float64}) {
    Tensor v = t == DType::Bool ? gt(randn({2, 3}), Scalar(0)) : cast(randn({2, 3}) * 10, t);
    tensors.emplace_back(std::string(dtype_name(t)), v);
  }
  tensors.emplace_back("empty", zeros({0, 4}));
  tensors.emplace_back("scalar", scalar_tensor(2.5));
  tensors.emplace_back("transposed", randn({3, 2}).t());  // non-contiguous input is written contiguous
  auto bytes = io::serialize_safetensors(tensors, {{"author", "ember"}});
  CHECK((8 + (bytes[0] | bytes[1] << 8)) % 8 == 0);  // data aligned to 8 bytes
  io::SafetensorsFile file = io::deserialize_safetensors(bytes.data(), bytes.size());
  CHECK(file.metadata.at("author") == "ember");
  REQUIRE(file.tensors.size() == tensors.size());
  for (size_t i = 0; i < tensors.size(); ++i) {
    INFO(tensors[i].first);
    CHECK(file.tensors[i].first == tensors[i].first);
    CHECK(file.tensors[i].second.dtype() == tensors[i].second.dtype());
    CHECK(equal(file.tensors[i].second, tensors[i].second));
  }
}

TEST_CASE("the safetensors loader enforces every rule of the format", "[io]") {
  const std::string ok = R"({"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]}})";
  CHECK_NOTHROW(io::deserialize_safetensors(make_file(ok, 8).data(), 8 + ok.size() + 8));
  check_rejected(std::vector<uint8_t>{1, 2, 3}, "too short");
  {
    auto f = make_file(ok, 8);
    f[5] = 1;  // header length 2^40
    check_rejected(f, "limit");
  }
  {
    auto f = make_file(ok, 8);
    f[0] = 200;  // header runs past the end
    check_rejected(f, "past the end");
  }
  check_rejected(make_file("[1,2]", 0), "JSON object");
  check_rejected(make_file("{\"a\": ", 0), "not valid JSON");
  check_rejected(make_file("{\"a\":\"\xff\xfe\"}", 0), "not valid JSON");  // invalid UTF-8
  check_rejected(make_file(R"({"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4]},"a":{"dtype":"F32","shape":[1],"data_offsets":[4,8]}})", 8),
                 "twice");
  check_rejected(make_file(R"({"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},"b":{"dtype":"F32","shape":[1],"data_offsets":[12,16]}})", 16),
                 "gap");
  check_rejected(make_file(R"({"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},"b":{"dtype":"F32","shape":[2],"data_offsets":[4,12]}})", 12),
                 "overlap");
  check_rejected(make_file(ok, 12), "trailing bytes");
  check_rejected(make_file(R"({"a":{"dtype":"F32","shape":[4],"data_offsets":[0,16]}})", 8), "missing bytes");
  check_rejected(make_file(R"({"a":{"dtype":"F32","shape":[3],"data_offsets":[0,8]}})", 8), "need 12");
  check_rejected(make_file(R"({"a":{"dtype":"F32","shape":[4294967296,4294967296,4294967296],"data_offsets":[0,8]}})", 8),
                 "overflows");
  check_rejected(make_file(R"({"a":{"dtype":"F32","shape":[-2],"data_offsets":[0,8]}})", 8), "negative");
  check_rejected(make_file(R"({"a":{"dtype":"X9","shape":[2],"data_offsets":[0,8]}})", 8), "not supported");
  check_rejected(make_file(R"({"a":{"dtype":"F32","shape":[2],"data_offsets":[8,0]}})", 8), "backwards");
  check_rejected(make_file(R"({"a":{"dtype":"F32","shape":[2]}})", 8), "exactly dtype, shape and data_offsets");
  check_rejected(make_file(R"({"__metadata__":{"k":1},"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]}})", 8),
                 "not a string");
  {
    auto f = make_file(R"({"a":{"dtype":"BOOL","shape":[1],"data_offsets":[0,1]}})", 1);
    f.back() = 7;
    check_rejected(f, "bool");
  }
}

TEST_CASE("tensor names and metadata must be UTF-8; the error shows the bad bytes as \\xNN", "[io]") {
  const Tensor t = ones({1});
  // These used to escape as nlohmann::json::type_error (316) from writing the header.
  CHECK_THROWS_WITH(io::serialize_safetensors({{"\xff\xfe", t}}),
                    Catch::Contains(R"([safetensors] the tensor name "\xff\xfe" is not valid UTF-8 (byte 0 of 2))"));
  CHECK_THROWS_WITH(io::serialize_safetensors({{"x", t}}, {{"k", "\xff bad"}}),
                    Catch::Contains(R"(the metadata value of "k" "\xff bad" is not valid UTF-8 (byte 0 of 5))"));
  CHECK_THROWS_WITH(io::serialize_safetensors({{"x", t}}, {{"key\xc3", "v"}}),
                    Catch::Contains(R"(the metadata key "key\xc3" is not valid UTF-8 (byte 3 of 4))"));
  // A surrogate, an overlong '/', a sequence cut short, a code point past U+10FFFF; a control
  // character is escaped in the message too.
  for (const std::string bad : {"\xed\xa0\x80", "\xc0\xaf", "a\xe2\x82", "\xf4\x90\x80\x80", "\n\x80"}) {
    INFO(bad.size());
    CHECK_THROWS_WITH(io::serialize_safetensors({{bad, t}}), Catch::Contains("is not valid UTF-8"));
  }
  CHECK_THROWS_WITH(io::serialize_safetensors({{"\n\x80", t}}), Catch::Contains(R"("\x0a\x80")"));
  // Any character of UTF-8, from two to four bytes, is a valid name and round-trips.
  const std::string name = "temp\xc3\xa9rature \xe5\x90\x8d\xe5\x89\x8d \xf0\x9f\x98\x80";
  const auto bytes = io::serialize_safetensors({{name, t}}, {{name, name}});
  const io::SafetensorsFile file = io::deserialize_safetensors(bytes.data(), bytes.size());
  CHECK(file.tensors.at(0).first == name);
  CHECK(file.metadata.at(name) == name);
}

TEST_CASE("a zero-element entry whose other dimensions overflow is refused whatever their order", "[io]") {
  // Its strides overflow an int64 as Tensor::empty computes them. [0, 2^62, 2^62] used to fail in
  // Tensor::empty without naming the file, [2^62, 2^62, 0] as "overflows".
  for (const char* shape : {"[0,4611686018427387904,4611686018427387904]", "[4611686018427387904,4611686018427387904,0]",
                            "[4611686018427387904,0,4611686018427387904]"}) {
    INFO(shape);
    const auto f = make_file(fmt::format(R"({{"a":{{"dtype":"F32","shape":{},"data_offsets":[0,0]}}}})", shape), 0);
    CHECK_THROWS_WITH(io::deserialize_safetensors(f.data(), f.size(), "z.safetensors"),
                      Catch::Contains("[safetensors] z.safetensors: the shape [") && Catch::Contains("of \"a\" overflows"));
  }
  // Zero elements with dimensions ember can stride over load, in any order.
  for (const char* shape : {"[0,1048576,1048576]", "[1048576,1048576,0]"}) {
    INFO(shape);
    const auto f = make_file(fmt::format(R"({{"a":{{"dtype":"F32","shape":{},"data_offsets":[0,0]}}}})", shape), 0);
    const io::SafetensorsFile file = io::deserialize_safetensors(f.data(), f.size());
    CHECK(file.tensors.at(0).second.numel() == 0);
    CHECK(file.tensors.at(0).second.dim() == 3);
  }
}

TEST_CASE("a file PyTorch wrote loads into the matching module, and ember writes it back byte for byte", "[io]") {
  // tests/io/torch_linear.safetensors: torch.nn.Linear(3, 2) with weight = arange(6).view(2, 3) / 10 and
  // bias = [-1, 1], written by tests/io/make_torch_files.py with Debian's python3-torch.
  const std::string dir = std::string(__FILE__).substr(0, std::string(__FILE__).rfind('/'));
  io::SafetensorsFile file = io::load_safetensors(dir + "/torch_linear.safetensors");
  auto lin = nn::Linear(3, 2);
  lin->load_state_dict(file.tensors);
  CHECK(lin->weight.to_vector<float>() == std::vector<float>{0.0f, 0.1f, 0.2f, 0.3f, 0.4f, 0.5f});
  CHECK(lin->bias.to_vector<float>() == std::vector<float>{-1, 1});
  // ember's file of the same module is the one committed beside it, which the script checked loads
  // in PyTorch with the same names and values.
  const std::vector<uint8_t> ours = io::serialize_safetensors(lin->state_dict());
  CHECK(ours == io::read_file(dir + "/ember_linear.safetensors"));
}

TEST_CASE("resuming from a checkpoint gives the same losses bit for bit", "[io]") {
  auto run = [](int steps, const std::string& save_at_half, const std::string& resume_from) {
    manual_seed(7);
    auto model = nn::Sequential({nn::Linear(4, 8), nn::Tanh(), nn::Dropout(0.3), nn::Linear(8, 1)});
    optim::AdamW opt(model->parameters(), {.lr = 0.01});
    optim::StepLR sched(opt, 3, 0.5);
    int64_t start = 0;
    if (!resume_from.empty()) {
      io::Checkpoint ck{.model = model.get(), .optimizer = &opt, .scheduler = &sched};
      start = io::load_checkpoint(resume_from, ck);
    }
    std::vector<float> losses;
    for (int64_t step = start; step < steps; ++step) {
      Tensor x = randn({16, 4});  // from the default generator, whose state the checkpoint holds
      Tensor loss = mse_loss((*model)(x), sum(x, {1}, true));
      opt.zero_grad();
      loss.backward();
      opt.step();
      sched.step();
      losses.push_back(loss.item<float>());
      if (!save_at_half.empty() && step + 1 == steps / 2) {
        io::Checkpoint ck{.model = model.get(), .optimizer = &opt, .scheduler = &sched, .step = step + 1};
        io::save_checkpoint(save_at_half, ck);
      }
    }
    return losses;
  };
  const std::string path = temp_path("resume.safetensors");
  std::vector<float> straight = run(10, path, "");
  std::vector<float> resumed = run(10, "", path);
  REQUIRE(resumed.size() == 5);
  for (int i = 0; i < 5; ++i) CHECK(resumed[i] == straight[5 + i]);  // exact equality, bit for bit
}

TEST_CASE("a checkpoint that cannot be loaded is a clear error", "[io]") {
  auto model = nn::Linear(2, 2);
  io::Checkpoint ck{.model = model.get()};
  CHECK_THROWS_WITH(io::load_checkpoint(temp_path("missing.safetensors"), ck), Catch::Contains("cannot open"));
  const std::string garbage = temp_path("garbage.safetensors");
  io::write_file_atomic(garbage, {1, 2, 3, 4, 5, 6, 7, 8, 9, 10});
  CHECK_THROWS_WITH(io::load_checkpoint(garbage, ck), Catch::Contains("safetensors"));
  const std::string other = temp_path("other.safetensors");
  io::save_safetensors(other, {{"x", zeros({1})}});
  CHECK_THROWS_WITH(io::load_checkpoint(other, ck), Catch::Contains("not an ember checkpoint"));
  const std::string wrong_model = temp_path("wrong.safetensors");
  auto bigger = nn::Linear(3, 2);
  io::save_checkpoint(wrong_model, {.model = bigger.get()});
  CHECK_THROWS_WITH(io::load_checkpoint(wrong_model, ck), Catch::Contains("shape mismatch"));
}

// Found by a red-team review: safetensors checks a file's structure, not its values, so a flipped bit
// in a weight loaded as a different model without a word.
TEST_CASE("a checkpoint whose data was changed after saving is refused as corrupt", "[io]") {
  auto model = nn::Linear(3, 2);
  const std::string path = temp_path("checksummed.safetensors");
  io::save_checkpoint(path, {.model = model.get(), .step = 7});
  auto fresh = nn::Linear(3, 2);
  io::Checkpoint ck{.model = fresh.get()};
  CHECK(io::load_checkpoint(path, ck) == 7);
  std::vector<uint8_t> bytes = io::read_file(path);
  const std::vector<uint8_t> intact = bytes;
  // The data section ends with the step (int64 7): flip one bit of a weight instead, in the middle.
  const uint64_t header_size = bytes[0] | (uint64_t{bytes[1]} << 8);
  bytes[8 + header_size + 2] ^= 0x10;
  io::write_file_atomic(path, bytes);
  CHECK_THROWS_WITH(io::load_checkpoint(path, ck), Catch::Contains("checkpoint") && Catch::Contains("corrupt") &&
                                                       Catch::Contains("CRC-32"));
  // A checksum that was itself tampered with is refused the same way.
  io::SafetensorsFile file = io::deserialize_safetensors(intact.data(), intact.size());
  REQUIRE(file.metadata.count("data_crc32") == 1);
  CHECK(file.metadata["data_crc32"].size() == 8);
  file.metadata["data_crc32"] = "not a crc";
  io::save_safetensors(path, file.tensors, file.metadata);
  CHECK_THROWS_WITH(io::load_checkpoint(path, ck), Catch::Contains("not 8 hex digits") && Catch::Contains("corrupt"));
  file.metadata["data_crc32"] = "0000\n000";  // and a message stays one line
  io::save_safetensors(path, file.tensors, file.metadata);
  CHECK_THROWS_WITH(io::load_checkpoint(path, ck), Catch::Contains("not 8 hex digits"));
  // A checkpoint from before checksums (no key) still loads, with its values.
  file.metadata.erase("data_crc32");
  io::save_safetensors(path, file.tensors, file.metadata);
  auto older = nn::Linear(3, 2);
  io::Checkpoint older_ck{.model = older.get()};
  CHECK(io::load_checkpoint(path, older_ck) == 7);
  CHECK(equal(older->weight, model->weight));
  // An empty tensor whose data pointer is null (zlib's CRC of a null buffer is 0, not the running CRC).
  io::Checkpoint with_empty{.model = model.get(), .step = 3};
  with_empty.extra = {{"nothing", from_blob(nullptr, std::vector<int64_t>{0}, DType::Float32)}, {"after", ones({2})}};
  io::save_checkpoint(path, with_empty);
  io::Checkpoint reload{.model = older.get()};
  CHECK(io::load_checkpoint(path, reload) == 3);
  REQUIRE(reload.extra.size() == 2);
}

TEST_CASE("a writer killed mid-write leaves the previous checkpoint intact", "[io]") {
  const std::string path = temp_path("atomic.safetensors");
  io::save_safetensors(path, {{"x", ones({4})}});
  const auto before = io::read_file(path);
  const pid_t child = fork();
  REQUIRE(child >= 0);
  if (child == 0) {
    // 200 MB takes long enough to be killed in the middle.
    std::vector<uint8_t> big(200u << 20, 0xab);
    io::write_file_atomic(path, big);
    _exit(0);
  }
  usleep(100 * 1000);
  kill(child, SIGKILL);
  int status = 0;
  waitpid(child, &status, 0);
  const auto after = io::read_file(path);
  // Either the old file or (if the child was fast) the complete new one; never a torn file.
  CHECK((after == before || after.size() == (200u << 20)));
  if (after == before) CHECK_NOTHROW(io::load_safetensors(path));
  std::filesystem::remove_all(std::filesystem::path(path).parent_path());  // with the child's temporary file
}
