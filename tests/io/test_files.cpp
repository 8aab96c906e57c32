// What every file reader and writer does with a path that is not an ordinary file: a symbolic link,
// a folder, a pipe, a device, a missing or truncated file, a folder it cannot write into. Each case
// either works as a user expects or is an ember::Error; never a crash, a hang or a replaced node.
#include <catch2/catch.hpp>

#include <fcntl.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <set>

#include <ember/data/fashion_mnist.h>
#include <ember/data/text.h>
#include <ember/io/checkpoint.h>
#include <ember/io/image.h>
#include <ember/io/safetensors.h>
#include <ember/ops/ops.h>

using namespace ember;
namespace fs = std::filesystem;

namespace {

// A fresh, empty folder per test case.
fs::path fresh_folder(const std::string& name) {
  const fs::path dir = fs::temp_directory_path() / fmt::format("ember-files-{}-{}", getpid(), name);
  fs::remove_all(dir);
  fs::create_directories(dir);
  return dir;
}

std::set<std::string> names_in(const fs::path& dir) {
  std::set<std::string> names;
  for (const auto& entry : fs::directory_iterator(dir)) names.insert(entry.path().filename().string());
  return names;
}

float first_value(const std::string& path) { return io::load_safetensors(path).tensors.at(0).second.item<float>(); }

void write_text(const fs::path& path, const std::string& text) { std::ofstream(path) << text; }

std::string read_text(const fs::path& path) {
  std::ifstream in(path);
  return std::string(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
}

// Restores the process's umask when a test that changes it ends, whatever happens.
class UmaskGuard {
 public:
  explicit UmaskGuard(mode_t mask) : previous_(::umask(mask)) {}
  ~UmaskGuard() { ::umask(previous_); }

 private:
  mode_t previous_;
};

}  // namespace

TEST_CASE("saving through a symbolic link writes its target and keeps the link", "[io][files]") {
  const fs::path dir = fresh_folder("symlink");
  const fs::path real = dir / "real.safetensors";
  io::save_safetensors(real.string(), {{"x", full({1}, 1.0)}});

  // A relative link in the same folder.
  const fs::path link = dir / "link.safetensors";
  fs::create_symlink("real.safetensors", link);
  io::save_safetensors(link.string(), {{"x", full({1}, 2.0)}});
  CHECK(fs::is_symlink(link));
  CHECK(fs::read_symlink(link) == "real.safetensors");
  CHECK(first_value(real.string()) == 2.0f);

  // A chain of two links, the second absolute and into another folder: the temporary file is made
  // next to the target (a rename cannot cross file systems), and none is left anywhere.
  const fs::path other = dir / "elsewhere";
  fs::create_directories(other);
  const fs::path far_link = other / "far.safetensors";
  fs::create_symlink(link, far_link);
  io::save_safetensors(far_link.string(), {{"x", full({1}, 3.0)}});
  CHECK(fs::is_symlink(far_link));
  CHECK(fs::is_symlink(link));
  CHECK(first_value(real.string()) == 3.0f);
  CHECK(names_in(other) == std::set<std::string>{"far.safetensors"});
  CHECK(names_in(dir) == std::set<std::string>{"elsewhere", "link.safetensors", "real.safetensors"});

  // A dangling link: the save creates its target.
  const fs::path dangling = dir / "dangling.safetensors";
  fs::create_symlink("created.safetensors", dangling);
  io::save_safetensors(dangling.string(), {{"x", full({1}, 4.0)}});
  CHECK(fs::is_symlink(dangling));
  CHECK(first_value((dir / "created.safetensors").string()) == 4.0f);

  // A checkpoint too (the trainers' --out/checkpoint.safetensors may be a link).
  const fs::path checkpoint_link = dir / "checkpoint.safetensors";
  fs::create_symlink("real.safetensors", checkpoint_link);
  io::save_checkpoint(checkpoint_link.string(), {.step = 7});
  CHECK(fs::is_symlink(checkpoint_link));
  io::Checkpoint loaded;
  CHECK(io::load_checkpoint(real.string(), loaded) == 7);

  // A link loop is an error, not a hang.
  fs::create_symlink("loop_b", dir / "loop_a");
  fs::create_symlink("loop_a", dir / "loop_b");
  CHECK_THROWS_WITH(io::save_safetensors((dir / "loop_a").string(), {{"x", zeros({1})}}),
                    Catch::Contains("symbolic links"));
  fs::remove_all(dir);
}

TEST_CASE("a folder, a pipe or a device at the save path is refused and left as it was", "[io][files]") {
  const fs::path dir = fresh_folder("refuse");
  const nn::NamedTensors tensors = {{"x", ones({3})}};

  const fs::path folder = dir / "a_folder";
  fs::create_directories(folder);
  CHECK_THROWS_AS(io::save_safetensors(folder.string(), tensors), Error);
  CHECK_THROWS_WITH(io::save_safetensors(folder.string(), tensors), Catch::Contains("it is a folder"));
  CHECK(fs::is_directory(folder));

  const fs::path pipe = dir / "a_pipe";
  REQUIRE(::mkfifo(pipe.c_str(), 0644) == 0);
  CHECK_THROWS_WITH(io::save_safetensors(pipe.string(), tensors), Catch::Contains("it is a pipe"));
  CHECK(fs::is_fifo(fs::symlink_status(pipe)));

  // Through a link, the message names both.
  const fs::path link_to_pipe = dir / "link_to_pipe";
  fs::create_symlink("a_pipe", link_to_pipe);
  CHECK_THROWS_WITH(io::save_safetensors(link_to_pipe.string(), tensors),
                    Catch::Contains("link_to_pipe") && Catch::Contains("a link to") && Catch::Contains("it is a pipe"));
  CHECK(fs::is_symlink(link_to_pipe));
  CHECK(fs::is_fifo(fs::symlink_status(pipe)));

  // A device node like /dev/null (1, 3), made here so that a failing test cannot replace the real
  // one. Making device nodes needs CAP_MKNOD; without it this part is skipped.
  const fs::path device = dir / "a_device";
  if (::mknod(device.c_str(), S_IFCHR | 0666, makedev(1, 3)) == 0) {
    CHECK_THROWS_WITH(io::save_safetensors(device.string(), tensors), Catch::Contains("it is a device"));
    CHECK(fs::is_character_file(fs::symlink_status(device)));
    CHECK_THROWS_WITH(io::save_image_grid(zeros({1, 1, 2, 2}), device.string()), Catch::Contains("it is a device"));
  } else {
    WARN("cannot make a device node here (no CAP_MKNOD): the device case is skipped");
  }

  // The PNG writer refuses a folder the same way (it used to say only "could not write").
  CHECK_THROWS_WITH(io::save_image_grid(zeros({1, 1, 2, 2}), folder.string()), Catch::Contains("it is a folder"));

  // Nothing was written: no temporary file is left.
  std::set<std::string> expected = {"a_folder", "a_pipe", "link_to_pipe"};
  if (fs::exists(fs::symlink_status(device))) expected.insert("a_device");
  CHECK(names_in(dir) == expected);
  CHECK(fs::is_empty(folder));
  fs::remove_all(dir);
}

TEST_CASE("saving into a missing or unwritable place is an ember::Error naming the path", "[io][files]") {
  const fs::path dir = fresh_folder("unwritable");
  const std::string missing = (dir / "no_such_folder" / "x.safetensors").string();
  CHECK_THROWS_WITH(io::save_safetensors(missing, {{"x", ones({1})}}),
                    Catch::Contains(missing) && Catch::Contains("No such file or directory"));
  const fs::path file = dir / "a_file";
  write_text(file, "not a folder");
  const std::string under_file = (file / "x.safetensors").string();
  CHECK_THROWS_WITH(io::save_safetensors(under_file, {{"x", ones({1})}}), Catch::Contains("Not a directory"));
  CHECK_THROWS_WITH(io::save_image_grid(zeros({1, 1, 2, 2}), under_file), Catch::Contains("Not a directory"));
  CHECK_THROWS_WITH(io::save_safetensors((dir / "").string(), {{"x", ones({1})}}), Catch::Contains("names a folder"));
  fs::remove_all(dir);
}

TEST_CASE("a new file's permissions follow the umask, a replaced file keeps its own", "[io][files]") {
  const fs::path dir = fresh_folder("permissions");
  auto permissions_of = [](const fs::path& p) { return fs::status(p).permissions() & fs::perms::mask; };
  using P = fs::perms;
  {
    UmaskGuard mask(022);
    io::save_safetensors((dir / "a.safetensors").string(), {{"x", ones({1})}});
    CHECK(permissions_of(dir / "a.safetensors") == (P::owner_read | P::owner_write | P::group_read | P::others_read));
    io::save_image_grid(zeros({1, 1, 2, 2}), (dir / "a.png").string());
    CHECK(permissions_of(dir / "a.png") == (P::owner_read | P::owner_write | P::group_read | P::others_read));
  }
  {
    UmaskGuard mask(027);
    io::save_safetensors((dir / "b.safetensors").string(), {{"x", ones({1})}});
    CHECK(permissions_of(dir / "b.safetensors") == (P::owner_read | P::owner_write | P::group_read));
    // Replacing a file keeps the mode its owner gave it, whatever the umask.
    fs::permissions(dir / "a.safetensors", P::owner_read | P::owner_write | P::others_read);
    io::save_safetensors((dir / "a.safetensors").string(), {{"x", zeros({1})}});
    CHECK(permissions_of(dir / "a.safetensors") == (P::owner_read | P::owner_write | P::others_read));
    CHECK(first_value((dir / "a.safetensors").string()) == 0.0f);
  }
  fs::remove_all(dir);
}

TEST_CASE("a save removes the temporary files killed writers left next to it, and nothing else", "[io][files]") {
  const fs::path dir = fresh_folder("orphans");
  const fs::path target = dir / "ck.safetensors";
  // Left by killed writers (".NAME.ember-tmp-" and 12 letters or digits): removed.
  const std::vector<std::string> orphans = {".ck.safetensors.ember-tmp-AbCdEf123456",
                                            ".ck.safetensors.ember-tmp-000000000000"};
  // Everything else is kept: a user's similar names, another file's temporaries, an old-style name,
  // a folder and a link with the pattern's name, and the file of a writer that is still running.
  const std::vector<std::string> kept_files = {
      ".ck.safetensors.ember-tmp-AbCdEf12345",      // 11 characters
      ".ck.safetensors.ember-tmp-AbCdEf1234567",    // 13
      ".ck.safetensors.ember-tmp-AbCdEf12345!",     // not a letter or digit
      "ck.safetensors.ember-tmp-AbCdEf123456",      // no leading dot
      ".other.safetensors.ember-tmp-AbCdEf123456",  // another target's
      ".ck.safetensors.tmp-Ab12Cd",                 // mkstemp's pattern: a user's name as likely as ember's
      "ck.safetensors.bak",
      "user_file"};
  for (const auto& name : orphans) write_text(dir / name, "orphan");
  for (const auto& name : kept_files) write_text(dir / name, "keep me");
  fs::create_directories(dir / ".ck.safetensors.ember-tmp-FolderName12");
  fs::create_symlink("user_file", dir / ".ck.safetensors.ember-tmp-LinkName1234");
  const fs::path live = dir / ".ck.safetensors.ember-tmp-LiveWriter00";
  write_text(live, "being written");
  const int live_fd = ::open(live.c_str(), O_RDONLY);
  REQUIRE(live_fd >= 0);
  REQUIRE(::flock(live_fd, LOCK_EX) == 0);  // what a running writer holds

  io::save_safetensors(target.string(), {{"x", ones({1})}});

  for (const auto& name : orphans) CHECK_FALSE(fs::exists(fs::symlink_status(dir / name)));
  for (const auto& name : kept_files) CHECK(read_text(dir / name) == "keep me");
  CHECK(fs::is_directory(dir / ".ck.safetensors.ember-tmp-FolderName12"));
  CHECK(fs::is_symlink(dir / ".ck.safetensors.ember-tmp-LinkName1234"));
  CHECK(read_text(live) == "being written");
  CHECK(first_value(target.string()) == 1.0f);
  ::close(live_fd);

  // Once its writer has gone (the lock is released with its last descriptor), the next save takes it.
  io::save_safetensors(target.string(), {{"x", ones({1})}});
  CHECK_FALSE(fs::exists(live));
  fs::remove_all(dir);
}

TEST_CASE("the temporary file of a writer killed mid-write is removed by the next save", "[io][files]") {
  const fs::path dir = fresh_folder("killed");
  const std::string path = (dir / "atomic.safetensors").string();
  io::save_safetensors(path, {{"x", ones({4})}});
  const pid_t child = fork();
  REQUIRE(child >= 0);
  if (child == 0) {
    std::vector<uint8_t> big(200u << 20, 0xab);  // long enough to be killed in the middle
    io::write_file_atomic(path, big);
    _exit(0);
  }
  // Killed as soon as its temporary file appears, in the middle of writing 200 MB.
  auto has_temporary = [&] { return names_in(dir).size() > 1; };
  for (int waited_ms = 0; waited_ms < 10000 && !has_temporary(); ++waited_ms) usleep(1000);
  kill(child, SIGKILL);
  int status = 0;
  waitpid(child, &status, 0);
  if (!has_temporary()) WARN("the writer finished before it was killed: no temporary file to clean up");
  io::save_safetensors(path, {{"x", zeros({1})}});
  CHECK(names_in(dir) == std::set<std::string>{"atomic.safetensors"});
  CHECK(first_value(path) == 0.0f);
  fs::remove_all(dir);
}

TEST_CASE("loading a folder, a pipe, a missing or truncated file is an ember::Error", "[io][files]") {
  const fs::path dir = fresh_folder("load");
  // A folder used to be read as a file of 2^63 bytes: std::bad_alloc.
  CHECK_THROWS_AS(io::load_safetensors(dir.string()), Error);
  CHECK_THROWS_WITH(io::load_safetensors(dir.string()), Catch::Contains(dir.string()) && Catch::Contains("a folder"));
  io::Checkpoint checkpoint;
  CHECK_THROWS_WITH(io::load_checkpoint(dir.string(), checkpoint), Catch::Contains("a folder"));
  // A pipe without a writer used to block the reader forever.
  const fs::path pipe = dir / "pipe";
  REQUIRE(::mkfifo(pipe.c_str(), 0644) == 0);
  CHECK_THROWS_WITH(io::load_safetensors(pipe.string()), Catch::Contains("a pipe"));
  CHECK_THROWS_WITH(io::load_safetensors((dir / "missing").string()), Catch::Contains("cannot open"));
  const std::string whole = (dir / "whole.safetensors").string();
  io::save_safetensors(whole, {{"x", ones({16})}});
  const std::vector<uint8_t> bytes = io::read_file(whole);
  io::write_file_atomic(whole, std::vector<uint8_t>(bytes.begin(), bytes.end() - 5));
  CHECK_THROWS_WITH(io::load_safetensors(whole), Catch::Contains("missing bytes"));
  fs::remove_all(dir);
}

TEST_CASE("the text and Fashion-MNIST readers turn bad paths into ember::Error", "[io][files]") {
  const fs::path dir = fresh_folder("readers");
  // TextFile: a pipe used to hang, a file it cannot read is named.
  const fs::path pipe = dir / "pipe";
  REQUIRE(::mkfifo(pipe.c_str(), 0644) == 0);
  CHECK_THROWS_WITH(data::TextFile::load(pipe.string(), 4), Catch::Contains("a pipe"));
  CHECK_THROWS_WITH(data::TextFile::load((dir / "missing").string(), 4), Catch::Contains("not found"));
  fs::remove(pipe);
  write_text(dir / "a.txt", "hello, world");
  CHECK(data::TextFile::load(dir.string(), 4)->bytes().size() == 12);

  // Fashion-MNIST: an empty folder, a file in place of the folder, a folder in place of a file.
  const fs::path empty = dir / "empty";
  fs::create_directories(empty);
  CHECK_THROWS_WITH(data::fashion_mnist(true, empty.string()),
                    Catch::Contains(empty.string()) && Catch::Contains("has no train-images-idx3-ubyte.gz"));
  CHECK_THROWS_WITH(data::fashion_mnist(true, (dir / "a.txt").string()), Catch::Contains("is not a folder"));
  CHECK_THROWS_WITH(data::fashion_mnist(true, (dir / "nowhere").string()),
                    Catch::Contains("does not exist") && Catch::Contains("dataset-fashion-mnist"));
  CHECK_THROWS_WITH(data::read_idx(empty.string()), Catch::Contains("a folder"));

  // A truncated gzip file (the first half of the real test labels) says so.
  const fs::path labels = fs::path(data::kFashionMnistDir) / "t10k-labels-idx1-ubyte.gz";
  if (fs::exists(labels)) {
    const std::vector<uint8_t> bytes = io::read_file(labels.string());
    const fs::path truncated = dir / "truncated.gz";
    io::write_file_atomic(truncated.string(), std::vector<uint8_t>(bytes.begin(), bytes.begin() + bytes.size() / 2));
    CHECK_THROWS_WITH(data::read_idx(truncated.string()), Catch::Contains("truncated"));
  } else {
    WARN("dataset-fashion-mnist is not installed: the truncated-file case is skipped");
  }
  fs::remove_all(dir);
}
