#include "gtgm/text/caption_run.h"

#include <algorithm>
#include <atomic>
#include <map>
#include <mutex>
#include <thread>

#include "gtgm/core/error.h"
#include "gtgm/core/logging.h"
#include "gtgm/core/progress.h"
#include "gtgm/core/strings.h"
#include "gtgm/io/slice_render.h"
#include "gtgm/io/volume_io.h"

namespace fs = std::filesystem;

namespace gtgm::text {
namespace {

const char* kImageExtensions[] = {".nii.gz", ".nii", ".nrrd", ".nhdr", ".mha", ".mhd",
                                  ".tiff",   ".tif", ".h5",   ".hdf5", ".hdf"};

/// The image extension `name` ends with, or "".
std::string image_extension(const std::string& name) {
  const auto l = core::lower(name);
  for (const char* e : kImageExtensions) {
    const std::string ext = e;
    if (l.size() > ext.size() && l.compare(l.size() - ext.size(), ext.size(), ext) == 0) return ext;
  }
  return "";
}

bool hidden(const fs::path& p) {
  const auto n = p.filename().string();
  return !n.empty() && n[0] == '.';  // also macOS "._x" resource forks shipped in MSD tarballs
}

}  // namespace

std::string volume_id_from_path(const fs::path& path) {
  std::string name = path.filename().string();
  if (name.empty()) name = path.parent_path().filename().string();  // "dir/"
  const auto ext = image_extension(name);
  return ext.empty() ? name : name.substr(0, name.size() - ext.size());
}

std::vector<fs::path> list_volume_inputs(const std::vector<fs::path>& inputs) {
  std::vector<fs::path> out;
  for (const auto& in : inputs) {
    std::error_code ec;
    if (fs::is_regular_file(in, ec)) {
      out.push_back(in);
      continue;
    }
    GTGM_CHECK(fs::is_directory(in, ec), "caption input {} does not exist", in.string());
    std::vector<fs::path> images;
    bool any_file = false;
    for (const auto& e : fs::directory_iterator(in)) {
      if (!e.is_regular_file() || hidden(e.path())) continue;
      any_file = true;
      if (!image_extension(e.path().filename().string()).empty()) images.push_back(e.path());
    }
    std::sort(images.begin(), images.end());
    if (images.empty() && any_file) {
      out.push_back(in);  // a DICOM series folder
    } else {
      GTGM_CHECK(!images.empty(), "caption input folder {} holds no volume files", in.string());
      out.insert(out.end(), images.begin(), images.end());
    }
  }
  std::map<std::string, fs::path> ids;
  for (const auto& p : out) {
    const auto id = volume_id_from_path(p);
    const auto [it, fresh] = ids.emplace(id, p);
    GTGM_CHECK(fresh, "volume id '{}' is used by {} and {}; captions are keyed by volume id", id, it->second.string(),
               p.string());
  }
  return out;
}

CaptionRunResult run_caption(const config::CaptionerConfig& cfg, Captioner& captioner, const CaptionRunOptions& opt) {
  GTGM_CHECK(cfg.step.size() == 3, "text.captioner.step must be [z, y, x], got {} values", cfg.step.size());
  GTGM_CHECK(!opt.out.empty(), "caption output path is empty (set text.caption_cache or --out)");
  const auto files = list_volume_inputs(opt.inputs);
  CaptionWriter writer(opt.out);
  CaptionRunResult res;
  io::RenderOptions ro;
  ro.size = cfg.slice_size;
  ro.patch = cfg.patch;
  ro.window = cfg.window;
  ro.low = cfg.window_low;
  ro.high = cfg.window_high;
  const std::array<int64_t, 3> step = {cfg.step[0], cfg.step[1], cfg.step[2]};
  const std::string generator = captioner.generator(), prompt_hash = captioner.prompt_hash();
  std::mutex error_mutex, progress_mutex;

  for (const auto& file : files) {
    const std::string id = volume_id_from_path(file);
    const io::Volume vol = io::read_volume(file);
    const torch::Tensor data = vol.data.select(0, 0);  // [D, H, W], channel 0
    auto positions = io::grid_positions(vol.shape(), step);
    if (opt.max_positions >= 0 && static_cast<int64_t>(positions.size()) > opt.max_positions)
      positions.resize(opt.max_positions);
    ++res.volumes;
    res.positions += static_cast<int64_t>(positions.size());
    std::vector<VoxelPosition> pending;
    for (const auto& p : positions)
      if (!writer.done().count(CaptionWriter::key(id, p))) pending.push_back(p);
    res.skipped += static_cast<int64_t>(positions.size() - pending.size());
    if (pending.empty()) {
      GTGM_INFO("caption: {} already complete ({} positions)", id, positions.size());
      continue;
    }
    const torch::Tensor values = data.to(torch::kFloat);
    const VolumeInfo info = describe_volume(data, vol.geometry, cfg.modality);
    const auto window = io::window_range(values, ro);
    GTGM_INFO("caption: {} ({} {}x{}x{}), {} of {} positions to do", id, config::to_string(info.modality),
              info.shape[0], info.shape[1], info.shape[2], pending.size(), positions.size());
    core::Progress progress("caption " + id, static_cast<int64_t>(pending.size()), "view");
    std::atomic<size_t> next{0};
    std::atomic<int64_t> done{0}, failed{0};
    auto worker = [&] {
      for (size_t i = next++; i < pending.size(); i = next++) {
        try {
          SliceView view;
          view.volume_id = id;
          view.position = pending[i];
          view.volume = &values;
          view.info = &info;
          view.patch = io::patch_bounds(info.shape[1], info.shape[2], pending[i][1], pending[i][2], cfg.patch);
          view.image = io::render_slice(values, pending[i], ro, window);
          const std::string text = captioner.caption(view);
          GTGM_CHECK(!text.empty(), "empty caption");
          writer.append({id, pending[i], text, generator, prompt_hash});
          ++done;
        } catch (const std::exception& e) {
          ++failed;
          const std::string msg = dynamic_cast<const Error*>(&e) ? static_cast<const Error&>(e).message() : e.what();
          GTGM_WARN("caption: {} at ({}, {}, {}) failed: {}", id, pending[i][0], pending[i][1], pending[i][2], msg);
          std::lock_guard<std::mutex> lock(error_mutex);
          if (res.first_error.empty()) res.first_error = msg;
        }
        std::lock_guard<std::mutex> lock(progress_mutex);
        progress.update(done + failed);
      }
    };
    const int threads = std::max(1, std::min<int>(captioner.concurrency(), static_cast<int>(pending.size())));
    std::vector<std::thread> pool;
    for (int t = 1; t < threads; ++t) pool.emplace_back(worker);
    worker();
    for (auto& t : pool) t.join();
    progress.finish();
    res.written += done;
    res.failed += failed;
  }
  GTGM_INFO("caption: {} volumes, {} positions: {} written, {} already done, {} failed -> {}", res.volumes,
            res.positions, res.written, res.skipped, res.failed, opt.out.string());
  return res;
}

}  // namespace gtgm::text
