// The file layer where the system says no: a socket at the save path, a write the file size limit
// cuts short (the previous file must survive and no temporary file may be left), and a file larger
// than memory could ever hold; files whose size is not known up front, and names near the length limit.
#include <fcntl.h>
#include <signal.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include <catch2/catch.hpp>
#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <set>

#include <ember/core/error.h>
#include <ember/io/file.h>

using namespace ember;
namespace fs = std::filesystem;
using Catch::Contains;

namespace {

fs::path fresh_folder(const std::string& name) {
  const fs::path dir =
      fs::temp_directory_path() / fmt::format("ember-limits-{}-{}", getpid(), name);
  fs::remove_all(dir);
  fs::create_directories(dir);
  return dir;
}

std::set<std::string> names_in(const fs::path& dir) {
  std::set<std::string> names;
  for (const auto& entry : fs::directory_iterator(dir))
    names.insert(entry.path().filename().string());
  return names;
}

std::vector<uint8_t> bytes_of(const std::string& text) {
  return std::vector<uint8_t>(text.begin(), text.end());
}

}  // namespace

TEST_CASE("a socket at the save path is refused and left in place", "[io][files]") {
  const fs::path dir = fresh_folder("socket");
  const fs::path path = dir / "a_socket";
  const int fd = ::socket(AF_UNIX, SOCK_STREAM, 0);
  REQUIRE(fd >= 0);
  sockaddr_un address{};
  address.sun_family = AF_UNIX;
  REQUIRE(path.string().size() < sizeof address.sun_path);
  std::strcpy(address.sun_path, path.c_str());
  REQUIRE(::bind(fd, reinterpret_cast<const sockaddr*>(&address), sizeof address) == 0);
  CHECK_THROWS_WITH(io::write_file_atomic(path.string(), bytes_of("x")),
                    Contains("[io]") && Contains(path.string()) && Contains("it is a socket"));
  CHECK(fs::is_socket(fs::symlink_status(path)));
  // Reading one is an error too (open refuses a socket).
  CHECK_THROWS_WITH(io::read_file(path.string()), Contains("[io]") && Contains(path.string()));
  ::close(fd);
  fs::remove_all(dir);
}

TEST_CASE("a write cut short by the file size limit is an error; the old file survives",
          "[io][files]") {
  const fs::path dir = fresh_folder("fsize");
  const std::string path = (dir / "data.bin").string();
  io::write_file_atomic(path, bytes_of("the previous contents"));
  // Writes beyond 4096 bytes fail with EFBIG while the soft limit is lowered (SIGXFSZ, which would
  // end the process, is ignored meanwhile). Both are restored before anything else runs.
  rlimit saved{};
  REQUIRE(getrlimit(RLIMIT_FSIZE, &saved) == 0);
  if (saved.rlim_max != RLIM_INFINITY && saved.rlim_max < 4096) {
    WARN("the file size limit is already below 4096 bytes: skipped");
    return;
  }
  struct sigaction ignore {
  }, previous{};
  ignore.sa_handler = SIG_IGN;
  REQUIRE(sigaction(SIGXFSZ, &ignore, &previous) == 0);
  const rlimit lowered{4096, saved.rlim_max};
  REQUIRE(setrlimit(RLIMIT_FSIZE, &lowered) == 0);
  std::string message;
  try {
    io::write_file_atomic(path, std::vector<uint8_t>(100000, 7));
  } catch (const Error& e) {
    message = e.what();
  }
  setrlimit(RLIMIT_FSIZE, &saved);
  sigaction(SIGXFSZ, &previous, nullptr);
  CHECK_THAT(message, Contains("[io] cannot save to") && Contains(path) &&
                          Contains("writing failed") && Contains(std::strerror(EFBIG)));
  CHECK(io::read_file(path) == bytes_of("the previous contents"));
  CHECK(names_in(dir) == std::set<std::string>{"data.bin"});  // the temporary file was removed
  fs::remove_all(dir);
}

TEST_CASE("reading a file larger than memory is an error, not std::bad_alloc", "[io][files]") {
#if defined(__SANITIZE_ADDRESS__)
  // AddressSanitizer's operator new aborts on a request it cannot serve instead of throwing
  // std::bad_alloc, so what this test checks cannot happen under it.
  WARN("built with AddressSanitizer: skipped");
  return;
#endif
  std::ifstream overcommit("/proc/sys/vm/overcommit_memory");
  int mode = -1;
  overcommit >> mode;
  if (mode == 1) {  // the kernel would grant the allocation, and zeroing it would exhaust memory
    WARN("vm.overcommit_memory is 1: skipped");
    return;
  }
  const fs::path dir = fresh_folder("huge");
  const std::string path = (dir / "sparse.bin").string();
  // A sparse file of 8 TiB takes no disk space.
  const int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
  REQUIRE(fd >= 0);
  const bool sized = ::ftruncate(fd, off_t{1} << 43) == 0;
  ::close(fd);
  if (!sized) {
    WARN("this file system cannot hold an 8 TiB sparse file: skipped");
  } else {
    CHECK_THROWS_WITH(io::read_file(path),
                      Contains("[io]") && Contains(path) && Contains("do not fit in memory"));
  }
  fs::remove_all(dir);
}

TEST_CASE("files of /proc and /sys, whose size the kernel does not report, are read to their end",
          "[io][files]") {
  // /proc reports a size of 0: its files used to be read as empty.
  const std::vector<uint8_t> status = io::read_file("/proc/self/status");
  const std::string text(status.begin(), status.end());
  CHECK(text.rfind("Name:", 0) == 0);
  CHECK(text.find("\nPid:") != std::string::npos);
  // /sys reports a page (4096 bytes), and holds less: this used to be blamed on truncation.
  const std::string online = "/sys/devices/system/cpu/online";
  if (fs::exists(online)) {
    std::ifstream in(online);
    const std::string expected((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    REQUIRE_FALSE(expected.empty());
    CHECK(io::read_file(online) == bytes_of(expected));
  } else {
    WARN(online << " does not exist: the /sys case is skipped");
  }
  // An empty ordinary file is still read as empty.
  const fs::path dir = fresh_folder("empty");
  std::ofstream(dir / "empty.bin").close();
  CHECK(io::read_file((dir / "empty.bin").string()).empty());
  fs::remove_all(dir);
}

TEST_CASE("file names up to the folder's limit are saved; a longer one is an error naming it",
          "[io][files]") {
  const fs::path dir = fresh_folder("long-names");
  // The temporary file's name adds 24 characters: names from 232 bytes used to fail, blaming the
  // folder ("creating a temporary file in ... failed: File name too long").
  for (size_t length : {231, 232, 240, 255}) {
    const std::string name(length, 'n');
    io::write_file_atomic((dir / name).string(), bytes_of("long"));
    CHECK(io::read_file((dir / name).string()) == bytes_of("long"));
    CHECK(names_in(dir) == std::set<std::string>{name});  // no temporary file left
    fs::remove(dir / name);
  }
  // Multi-byte UTF-8 characters are not cut in half in the temporary name (85 x 3 bytes = 255).
  std::string accented;
  for (int i = 0; i < 85; ++i) accented += "\xe2\x82\xac";  // the euro sign
  io::write_file_atomic((dir / accented).string(), bytes_of("euro"));
  CHECK(names_in(dir) == std::set<std::string>{accented});
  fs::remove(dir / accented);
  const std::string too_long = (dir / std::string(256, 'n')).string();
  CHECK_THROWS_WITH(io::write_file_atomic(too_long, bytes_of("x")),
                    Contains("[io] cannot save to") && Contains(too_long) &&
                        Contains("the file name is 256 bytes long, more than the 255"));
  CHECK(names_in(dir).empty());
  fs::remove_all(dir);
}

TEST_CASE("a killed writer's temporary file of a long name is removed only by a save of that name",
          "[io][files]") {
  const fs::path dir = fresh_folder("long-orphan");
  const std::string name(250, 'a'), sibling = std::string(249, 'a') + "b";  // the same 249-byte start
  const std::string path = (dir / name).string();
  io::write_file_atomic(path, bytes_of("first"));
  const pid_t child = fork();
  REQUIRE(child >= 0);
  if (child == 0) {
    io::write_file_atomic(path, std::vector<uint8_t>(200u << 20, 0xab));  // long enough to be killed
    _exit(0);
  }
  auto temporaries = [&] {
    std::set<std::string> names = names_in(dir);
    names.erase(name);
    names.erase(sibling);
    return names;
  };
  for (int waited_ms = 0; waited_ms < 10000 && temporaries().empty(); ++waited_ms) usleep(1000);
  kill(child, SIGKILL);
  waitpid(child, nullptr, 0);
  const std::set<std::string> left = temporaries();
  if (left.empty()) {
    WARN("the writer finished before it was killed: no temporary file to check");
  } else {
    REQUIRE(left.size() == 1);
    const std::string temporary = *left.begin();
    CHECK(temporary.size() <= 255);
    CHECK(temporary.rfind("." + name.substr(0, 100), 0) == 0);  // recognisable as this file's
    CHECK(temporary.find(".ember-tmp-") != std::string::npos);
    // Another long name with the same start is another file: its save leaves the temporary alone.
    io::write_file_atomic((dir / sibling).string(), bytes_of("sibling"));
    CHECK(temporaries() == left);
  }
  io::write_file_atomic(path, bytes_of("second"));
  CHECK(temporaries().empty());
  CHECK(io::read_file(path) == bytes_of("second"));
  fs::remove_all(dir);
}
