#pragma once
// Whole-file reads and atomic writes. Every failure (a missing file, a folder, a device, a truncated
// read, an unwritable place) is an ember::Error naming the path and the reason.
#include <cstdint>
#include <string>
#include <vector>

namespace ember::io {

// Reads a regular file whole. A folder, a device, a pipe or a socket is refused (reading one would
// hang or never end), and a file that shrinks while it is read is an error, not a short result.
// Files whose size the kernel does not report (those of /proc and /sys, which it generates when they
// are read) are read until their end, up to 1 GiB.
std::vector<uint8_t> read_file(const std::string& path);

// Writes `bytes` to path atomically: a temporary file in the same folder, fsync, rename, fsync of the
// folder. A crash at any point leaves either the old file or the new one, never a torn one.
//  - A symbolic link is followed: its target gets the new bytes and the link stays a link.
//  - A folder, device, pipe or socket at the path is refused; nothing is written.
//  - A new file gets the permissions open(2) gives 0666 under the umask; a replaced file keeps its own.
//  - Temporary files are named ".NAME.ember-tmp-" followed by 12 letters or digits (for a NAME too long
//    for that, its start, "~" and a hash of it stand for NAME). Those that a killed writer left next to
//    NAME are removed after a successful write; a writer's file is locked while it is written, so a live
//    writer's file is never taken, and no other name is touched.
//  - A file name longer than its folder allows (255 bytes on most file systems) is an error naming it.
void write_file_atomic(const std::string& path, const std::vector<uint8_t>& bytes);

}  // namespace ember::io
