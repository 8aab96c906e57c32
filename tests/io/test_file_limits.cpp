// The file layer where the system says no: a socket at the save path, a write the file size limit
// cuts short (the previous file must survive and no temporary file may be left), and a file larger
// than memory could ever hold.
#include <fcntl.h>
#include <signal.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/un.h>
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
