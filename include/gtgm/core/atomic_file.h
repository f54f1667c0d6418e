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
/// create_directories with errors that say what went wrong: `dir` (or a parent) is a file, a
/// symlink loop, no permission. `what` names the option or purpose ("export --out").
void create_dirs(const std::filesystem::path& dir, const std::string& what = "output folder");
/// Refuses (gtgm::Error naming `what` and the path) an output file path that is an existing folder.
void check_file_target(const std::filesystem::path& path, const std::string& what = "output file");
/// Removes the temp files and folders that atomic_write / atomic_write_dir leave in `dir` (not
/// recursive) when a process is killed midway (".NAME.tmp.PID.N", ".NAME.tmpdir.PID.N",
/// ".NAME.old.PID.N", and io::write_volume's ".gtgm-tmp-PID-NAME"), where process PID no longer runs
/// on this host; a ".NAME.old.PID.N" whose NAME is missing (killed between the two renames of
/// atomic_write_dir) is renamed back to NAME instead. Called by the owner of a folder
/// (the run-dir holder, preprocess for its cache) when it starts; returns the number removed.
int remove_stale_temp_files(const std::filesystem::path& dir);
/// Reads a whole file; throws gtgm::Error naming the path when it cannot.
std::string read_text_file(const std::filesystem::path& path);

}  // namespace gtgm::core
