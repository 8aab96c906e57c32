#include <ember/io/file.h>

#include <dirent.h>
#include <fcntl.h>
#include <sys/file.h>
#include <linux/magic.h>
#include <sys/stat.h>
#include <sys/vfs.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <climits>
#include <cstring>
#include <filesystem>
#include <new>
#include <random>

#include <ember/core/error.h>

namespace ember::io {
namespace {

namespace fs = std::filesystem;

// A temporary file is ".NAME" + kTempMarker + kTempSuffixLength letters or digits. The marker is
// specific to ember so that cleaning up can never take a user's file.
constexpr const char* kTempMarker = ".ember-tmp-";
constexpr size_t kTempSuffixLength = 12;
constexpr int kMaxSymlinkHops = 40;  // Linux's own limit (ELOOP)
// A file whose size is not known up front (see size_known_up_front) is read until its end, up to this:
// such files are small, and one that never ends must not take all memory.
constexpr size_t kMaxUnsizedRead = size_t{1} << 30;

class FileDescriptor {
 public:
  explicit FileDescriptor(int fd) : fd_(fd) {}
  FileDescriptor(const FileDescriptor&) = delete;
  FileDescriptor& operator=(const FileDescriptor&) = delete;
  ~FileDescriptor() {
    if (fd_ >= 0) ::close(fd_);
  }
  int get() const { return fd_; }

 private:
  int fd_;
};

const char* kind_of(mode_t mode) {
  if (S_ISDIR(mode)) return "a folder";
  if (S_ISCHR(mode) || S_ISBLK(mode)) return "a device";
  if (S_ISFIFO(mode)) return "a pipe";
  if (S_ISSOCK(mode)) return "a socket";
  // GCOVR_EXCL_START: stat never reports a link, and every other file type is named above.
  return "not a regular file";
  // GCOVR_EXCL_STOP
}

// The file a write to `path` must change: symbolic links are followed, so that saving through a link
// updates its target and keeps the link. Only the last component needs it: rename() already works
// through linked folders.
fs::path resolve_final_symlinks(const std::string& path) {
  fs::path p(path);
  for (int hops = 0;; ++hops) {
    struct stat st;
    if (::lstat(p.c_str(), &st) != 0 || !S_ISLNK(st.st_mode)) return p;
    EMBER_CHECK(hops < kMaxSymlinkHops, "io", "cannot save to \"{}\": too many levels of symbolic links", path);
    std::error_code error;
    const fs::path target = fs::read_symlink(p, error);
    EMBER_CHECK(!error, "io", "cannot save to \"{}\": reading the link \"{}\" failed: {}", path, p.string(),
                error.message());
    p = target.is_absolute() ? target : p.parent_path() / target;
  }
}

std::string random_suffix() {
  static constexpr char kAlphabet[] = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";
  std::random_device device;
  std::string suffix(kTempSuffixLength, '0');
  for (char& c : suffix) c = kAlphabet[device() % (sizeof kAlphabet - 1)];
  return suffix;
}

// FNV-1a: a hash that is the same in every process and build, as the names of temporary files must be.
uint64_t stable_hash(const std::string& text) {
  uint64_t h = 14695981039346656037ull;
  for (unsigned char c : text) h = (h ^ c) * 1099511628211ull;
  return h;
}

// The start of the temporary files' names next to the file `name`: ".NAME" + kTempMarker. Where that
// would make them longer than the folder allows (`name_max` bytes), NAME is cut short (at a character
// boundary of UTF-8) and followed by "~" and a hash of the whole name: long names that start alike
// still get prefixes of their own, so a cleanup never takes another file's temporaries.
std::string temporary_prefix(const std::string& name, size_t name_max) {
  std::string prefix = fmt::format(".{}{}", name, kTempMarker);
  if (prefix.size() + kTempSuffixLength <= name_max) return prefix;
  const std::string hash = fmt::format("~{:016x}", stable_hash(name));
  const size_t overhead = 1 + hash.size() + std::strlen(kTempMarker) + kTempSuffixLength;
  size_t keep = std::min(name.size(), name_max > overhead ? name_max - overhead : 0);
  while (keep > 0 && keep < name.size() && (static_cast<unsigned char>(name[keep]) & 0xC0) == 0x80) --keep;
  return fmt::format(".{}{}{}", name.substr(0, keep), hash, kTempMarker);
}

bool is_temporary_name(const std::string& name, const std::string& prefix) {
  if (name.size() != prefix.size() + kTempSuffixLength || name.compare(0, prefix.size(), prefix) != 0) return false;
  for (size_t i = prefix.size(); i < name.size(); ++i)
    if (!std::isalnum(static_cast<unsigned char>(name[i]))) return false;
  return true;
}

bool same_file(const struct stat& a, const struct stat& b) { return a.st_dev == b.st_dev && a.st_ino == b.st_ino; }

// Creates and locks a new temporary file next to the target. The lock tells a concurrent cleanup that
// this writer is alive; the check after locking catches a cleanup that removed the name in between.
int create_locked_temporary(const fs::path& dir, const std::string& prefix, const std::string& path,
                            std::string& name) {
  for (int attempt = 0; attempt < 100; ++attempt) {
    name = (dir / (prefix + random_suffix())).string();
    const int fd = ::open(name.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0666);  // the umask applies
    if (fd < 0 && errno == EEXIST) continue;
    EMBER_CHECK(fd >= 0, "io", "cannot save \"{}\": creating a temporary file in \"{}\" failed: {}", path, dir.string(),
                std::strerror(errno));
    struct stat opened, named;
    if (::flock(fd, LOCK_EX) == 0 && ::fstat(fd, &opened) == 0 && ::lstat(name.c_str(), &named) == 0 &&
        same_file(opened, named))
      return fd;
    // GCOVR_EXCL_START: only a concurrent cleanup taking the new name, or 100 collisions of random
    // 12-character names, get here; neither can be arranged in a test.
    ::close(fd);
  }
  EMBER_FAIL("io", "cannot save \"{}\": no free temporary file name in \"{}\"", path, dir.string());
  // GCOVR_EXCL_STOP
}

// Removes the temporary files that killed writers left next to the target: only names of ember's own
// pattern, only regular files of this user, and only when no writer holds their lock. Best effort: the
// save has already succeeded, so a failure here is ignored.
void remove_orphaned_temporaries(const fs::path& dir, const std::string& prefix) noexcept {
  DIR* folder = ::opendir(dir.c_str());
  if (folder == nullptr) return;
  const int dir_fd = ::dirfd(folder);
  while (const dirent* entry = ::readdir(folder)) {
    const std::string name = entry->d_name;
    if (!is_temporary_name(name, prefix)) continue;
    const int fd = ::openat(dir_fd, name.c_str(), O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC);
    if (fd < 0) continue;
    struct stat opened, named;
    if (::fstat(fd, &opened) == 0 && S_ISREG(opened.st_mode) && opened.st_uid == ::geteuid() &&
        ::flock(fd, LOCK_EX | LOCK_NB) == 0 && ::fstatat(dir_fd, name.c_str(), &named, AT_SYMLINK_NOFOLLOW) == 0 &&
        same_file(opened, named))
      ::unlinkat(dir_fd, name.c_str(), 0);
    ::close(fd);
  }
  ::closedir(folder);
}

// Whether st_size is the number of bytes a read will return. Files of procfs, sysfs and their kin are
// generated when read: the kernel reports a size of 0 (/proc) or a page (/sys) whatever they hold.
// An empty regular file is read until its end as well, in case it grew after fstat.
bool size_known_up_front(int fd, const struct stat& st) {
  if (st.st_size == 0) return false;
  struct statfs fs_info;
  if (::fstatfs(fd, &fs_info) != 0) return true;  // GCOVR_EXCL_LINE: fstatfs fails only on a bad descriptor
  switch (static_cast<unsigned long>(fs_info.f_type)) {
    case PROC_SUPER_MAGIC:
    case SYSFS_MAGIC:
    case DEBUGFS_MAGIC:
    case TRACEFS_MAGIC:
    case SECURITYFS_MAGIC:
    case CGROUP_SUPER_MAGIC:
    case CGROUP2_SUPER_MAGIC:
      return false;
    default:
      return true;
  }
}

std::vector<uint8_t> read_until_end(int fd, const std::string& path) {
  std::vector<uint8_t> bytes;
  uint8_t chunk[65536];
  for (;;) {
    const ssize_t n = ::read(fd, chunk, sizeof chunk);
    if (n < 0 && errno == EINTR) continue;
    EMBER_CHECK(n >= 0, "io", "reading \"{}\" failed after {} bytes: {}", path, bytes.size(), std::strerror(errno));
    if (n == 0) return bytes;
    EMBER_CHECK(bytes.size() + static_cast<size_t>(n) <= kMaxUnsizedRead, "io",
                "cannot read \"{}\": its size is not known up front, and it goes on past {} bytes", path,
                kMaxUnsizedRead);
    try {
      bytes.insert(bytes.end(), chunk, chunk + n);
    } catch (const std::bad_alloc&) {  // GCOVR_EXCL_LINE: under kMaxUnsizedRead, only when memory is nearly full
      EMBER_FAIL("io", "cannot read \"{}\": its first {} bytes do not fit in memory", path, bytes.size() + n);
    }
  }
}

}  // namespace

std::vector<uint8_t> read_file(const std::string& path) {
  // O_NONBLOCK: opening a pipe must not wait for a writer (it is refused below).
  FileDescriptor fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NONBLOCK));
  EMBER_CHECK(fd.get() >= 0, "io", "cannot open \"{}\": {}", path, std::strerror(errno));
  struct stat st;
  EMBER_CHECK(::fstat(fd.get(), &st) == 0, "io", "cannot read \"{}\": {}", path, std::strerror(errno));
  EMBER_CHECK(S_ISREG(st.st_mode), "io", "cannot read \"{}\": it is {}, not a file", path, kind_of(st.st_mode));
  if (!size_known_up_front(fd.get(), st)) return read_until_end(fd.get(), path);
  const size_t size = static_cast<size_t>(st.st_size);
  std::vector<uint8_t> bytes;
  try {
    bytes.resize(size);
  } catch (const std::bad_alloc&) {
    EMBER_FAIL("io", "cannot read \"{}\": its {} bytes do not fit in memory", path, size);
  }
  size_t done = 0;
  while (done < size) {
    const ssize_t n = ::read(fd.get(), bytes.data() + done, size - done);
    if (n < 0 && errno == EINTR) continue;
    EMBER_CHECK(n >= 0, "io", "reading \"{}\" failed after {} of {} bytes: {}", path, done, size, std::strerror(errno));
    EMBER_CHECK(n > 0, "io", "\"{}\" ended after {} of its {} bytes (it was truncated while being read)", path, done,
                size);
    done += static_cast<size_t>(n);
  }
  return bytes;
}

void write_file_atomic(const std::string& path, const std::vector<uint8_t>& bytes) {
  const fs::path target = resolve_final_symlinks(path);
  const std::string shown = target.string() == path ? fmt::format("\"{}\"", path)
                                                    : fmt::format("\"{}\" (a link to \"{}\")", path, target.string());
  EMBER_CHECK(!target.filename().empty(), "io", "cannot save to {}: the path names a folder, not a file", shown);
  struct stat existing;
  const bool replacing = ::stat(target.c_str(), &existing) == 0;
  if (replacing)  // a rename would put a regular file in place of a folder, device, pipe or socket
    EMBER_CHECK(S_ISREG(existing.st_mode), "io", "cannot save to {}: it is {}, not a file", shown,
                kind_of(existing.st_mode));

  const fs::path dir = target.has_parent_path() ? target.parent_path() : fs::path(".");
  const std::string name = target.filename().string();
  const long limit = ::pathconf(dir.c_str(), _PC_NAME_MAX);  // -1 where the folder is missing: open() says so
  const size_t name_max = limit > 0 ? static_cast<size_t>(limit) : NAME_MAX;
  EMBER_CHECK(name.size() <= name_max, "io",
              "cannot save to {}: the file name is {} bytes long, more than the {} its folder allows", shown,
              name.size(), name_max);
  const std::string prefix = temporary_prefix(name, name_max);
  std::string temporary;
  const int fd = create_locked_temporary(dir, prefix, path, temporary);
  auto fail = [&](const char* what) {
    const int err = errno;
    ::close(fd);
    ::unlink(temporary.c_str());
    EMBER_FAIL("io", "cannot save to {}: {} failed: {}", shown, what, std::strerror(err));
  };
  if (replacing && ::fchmod(fd, existing.st_mode & 07777) != 0) fail("keeping the file's permissions");
  size_t written = 0;
  while (written < bytes.size()) {
    const ssize_t w = ::write(fd, bytes.data() + written, bytes.size() - written);
    if (w < 0 && errno == EINTR) continue;
    if (w <= 0) fail("writing");
    written += static_cast<size_t>(w);
  }
  if (::fsync(fd) != 0) fail("flushing");
  if (::rename(temporary.c_str(), target.c_str()) != 0) fail("renaming the temporary file");
  ::close(fd);  // only now: the lock marks the temporary file as live until it has been renamed
  const int dir_fd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (dir_fd >= 0) {  // make the rename itself durable
    ::fsync(dir_fd);
    ::close(dir_fd);
  }
  remove_orphaned_temporaries(dir, prefix);
}

}  // namespace ember::io
