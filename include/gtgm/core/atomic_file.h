#pragma once
/// Atomic file and directory writes: write to a temporary name in the same folder, fsync, rename.
/// A crash or exception midway leaves the previous file untouched and no partial file behind.
#include <filesystem>
#include <functional>
#include <ostream>
#include <string>

namespace gtgm::core {

/// Calls `writer` on a stream to `path.tmp.<pid>.<n>`; on success fsyncs and renames over `path`.
/// If `writer` throws, the temp file is removed and the exception propagates.
void atomic_write(const std::filesystem::path& path, const std::function<void(std::ostream&)>& writer);
/// atomic_write of a string.
void atomic_write_text(const std::filesystem::path& path, const std::string& text);
/// Fills a fresh temp directory beside `dir` through `writer(temp_dir)`, fsyncs its files, then
/// swaps it into place (the old `dir`, if any, is removed only after the new one is complete).
void atomic_write_dir(const std::filesystem::path& dir,
                      const std::function<void(const std::filesystem::path&)>& writer);
/// fsync a file or directory by path (throws on failure).
void fsync_path(const std::filesystem::path& path);
/// Reads a whole file; throws gtgm::Error naming the path when it cannot.
std::string read_text_file(const std::filesystem::path& path);

}  // namespace gtgm::core
