#include "gtgm/io/dicom_io.h"

#include <fmt/format.h>

#include "gtgm/core/error.h"

#ifdef GTGM_WITH_ITK
#include <itkGDCMImageIO.h>
#include <itkGDCMSeriesFileNames.h>
#include <itkMetaDataObject.h>

#include <algorithm>
#include <cmath>
#include <numeric>

#include "gtgm/core/error.h"
#include "gtgm/core/logging.h"
#include "gtgm/io/checks.h"
#include "itk_common.h"

namespace gtgm::io {

namespace fs = std::filesystem;

namespace {

// Largest deviation of one slice gap from the mean spacing, as a fraction of it, read as jitter.
constexpr double kMaxSliceJitter = 0.10;

struct Slice {
  std::string file;
  itk::ImageIOBase::Pointer io;
  VolumeHeader header;
  double position = 0;  // origin projected on the slice normal
};

struct SeriesScan {
  VolumeHeader header;
  std::vector<Slice> slices;  // sorted by position
};

std::array<double, 3> column(const Geometry& g, int c) { return {g.dir(0, c), g.dir(1, c), g.dir(2, c)}; }

double dot(const std::array<double, 3>& a, const std::array<double, 3>& b) {
  return a[0] * b[0] + a[1] * b[1] + a[2] * b[2];
}

std::string pick_series(const std::vector<DicomSeries>& series, const std::string& folder, const std::string& uid,
                        std::vector<std::string>& files) {
  GTGM_CHECK(!series.empty(),
             "{}: folder holds no DICOM series (expected DICOM slice files; other formats are "
             "read as single files)",
             folder);
  if (!uid.empty()) {
    for (const auto& s : series) {
      if (s.uid == uid || s.uid.rfind(uid, 0) == 0) {
        files = s.files;
        return s.uid;
      }
    }
  } else if (series.size() == 1) {
    files = series[0].files;
    return series[0].uid;
  }
  std::string listing;
  for (const auto& s : series) listing += fmt::format("\n  {} ({} files)", s.uid, s.files.size());
  GTGM_THROW("{}: {} (expected one series, or a SeriesInstanceUID to pick); series found:{}", folder,
             uid.empty() ? fmt::format("folder holds {} DICOM series", series.size())
                         : fmt::format("no series with uid '{}'", uid),
             listing);
}

SeriesScan scan_series(const fs::path& folder, const ReadOptions& options) {
  const std::string where = folder.string();
  std::vector<std::string> files;
  pick_series(list_dicom_series(folder), where, options.dicom_series_uid, files);
  SeriesScan scan;
  for (const auto& f : files) {
    Slice s;
    s.file = f;
    s.io = detail::open_image_io(f);
    s.header = detail::header_from_io(*s.io, f);
    scan.slices.push_back(std::move(s));
  }
  const auto& first = scan.slices.front().header;
  const auto normal = column(first.geometry, 2);
  for (auto& s : scan.slices) {
    const auto& h = s.header;
    GTGM_CHECK(h.shape[1] == first.shape[1] && h.shape[2] == first.shape[2] && h.channels == first.channels,
               "{}: slice {} has {} rows x {} columns x {} samples, but slice {} has {} x {} x {} (expected one "
               "image size per series)",
               where, s.file, h.shape[1], h.shape[2], h.channels, scan.slices.front().file, first.shape[1],
               first.shape[2], first.channels);
    for (size_t i = 0; i < 9; ++i) {
      GTGM_CHECK(std::abs(h.geometry.direction[i] - first.geometry.direction[i]) <= 1e-4,
                 "{}: slice {} has another Image Orientation (Patient) than slice {} (expected one orientation "
                 "per series)",
                 where, s.file, scan.slices.front().file);
    }
    s.position = dot(h.geometry.origin, normal);
  }
  const size_t n = scan.slices.size();
  GTGM_CHECK(n == 1 || first.shape[0] == 1,
             "{}: {} holds {} frames; a series of multi-frame files is not "
             "supported (expected single-frame slices, or read the multi-frame file alone)",
             where, scan.slices.front().file, first.shape[0]);
  std::stable_sort(scan.slices.begin(), scan.slices.end(),
                   [](const Slice& a, const Slice& b) { return a.position < b.position; });

  VolumeHeader& h = scan.header;
  h = scan.slices.front().header;
  h.path = where;
  h.format = n > 1 ? "DICOM series" : "DICOM";
  for (const auto& s : scan.slices) h.files.push_back(s.file);
  if (n > 1) {
    h.shape[0] = static_cast<int64_t>(n);
    const double gap = (scan.slices.back().position - scan.slices.front().position) / static_cast<double>(n - 1);
    const double in_plane = std::min(h.geometry.spacing[0], h.geometry.spacing[1]);
    // Scanners round ImagePositionPatient, so real series jitter by ~1% of the spacing; ITK,
    // dcm2niix and SimpleITK read them as uniform. A missing slice (a gap of 2x) or a mixed series
    // deviates far more: refuse beyond kMaxSliceJitter of the mean spacing, warn above 0.1%.
    double max_dev = 0;
    size_t worst = 1;
    for (size_t k = 1; k < n; ++k) {
      const auto& a = scan.slices[k - 1];
      const auto& b = scan.slices[k];
      const double g = b.position - a.position;
      GTGM_CHECK(g > 1e-6 * std::max(1.0, std::abs(gap)),
                 "{}: slices {} and {} lie at the same position {:.6g} "
                 "along the slice normal (duplicate slices, or several acquisitions in one series)",
                 where, a.file, b.file, a.position);
      if (std::abs(g - gap) > max_dev) {
        max_dev = std::abs(g - gap);
        worst = k;
      }
      // Slices must be stacked along the normal (no gantry tilt / shear).
      std::array<double, 3> off{};
      for (size_t r = 0; r < 3; ++r) off[r] = b.header.geometry.origin[r] - h.geometry.origin[r];
      const double along = dot(off, normal);
      double residual = 0;
      for (size_t r = 0; r < 3; ++r) residual += std::pow(off[r] - along * normal[r], 2);
      GTGM_CHECK(std::sqrt(residual) <= 0.05 * in_plane,
                 "{}: slice {} is shifted {:.4g} mm sideways from the "
                 "slice normal (gantry tilt or sheared series; expected slices stacked along the normal)",
                 where, b.file, std::sqrt(residual));
    }
    const auto& wa = scan.slices[worst - 1];
    const auto& wb = scan.slices[worst];
    GTGM_CHECK(
        max_dev <= kMaxSliceJitter * std::abs(gap),
        "{}: irregular slice spacing: {} -> {} is {:.6g} mm, the mean spacing is {:.6g} mm: a deviation of {:.4g} "
        "mm ({:.1f}%), above the {:.0f}% tolerated (a slice is missing or the series mixes acquisitions)",
        where, wa.file, wb.file, wb.position - wa.position, gap, max_dev, 100.0 * max_dev / std::abs(gap),
        100.0 * kMaxSliceJitter);
    if (max_dev > 1e-3 * std::abs(gap) + 1e-4) {
      GTGM_WARN(
          "{}: slice positions jitter by up to {:.4g} mm ({:.2f}% of the mean spacing {:.6g} mm, largest at {} "
          "-> {}); read as uniform spacing",
          where, max_dev, 100.0 * max_dev / std::abs(gap), gap, wa.file, wb.file);
    }
    h.geometry.spacing[2] = gap;
    h.geometry.origin = scan.slices.front().header.geometry.origin;
  }
  // Mixed rescale slopes can give slices different pixel types: then the volume is float32.
  for (const auto& s : scan.slices) {
    if (s.header.stored_dtype != h.stored_dtype) {
      h.stored_dtype = "float32";
      h.dtype = torch::kFloat;
      break;
    }
  }
  check_header(h, options);
  return scan;
}

std::string ds(double v) { return fmt::format("{:.10g}", v); }

}  // namespace

std::vector<DicomSeries> list_dicom_series(const fs::path& folder) {
  GTGM_CHECK(fs::is_directory(folder), "{}: not a folder (expected a folder of DICOM files)", folder.string());
  std::vector<DicomSeries> out;
  try {
    auto names = itk::GDCMSeriesFileNames::New();
    names->SetUseSeriesDetails(true);
    names->SetGlobalWarningDisplay(false);
    names->SetDirectory(folder.string());
    for (const auto& uid : names->GetSeriesUIDs()) out.push_back({uid, names->GetFileNames(uid)});
  } catch (const itk::ExceptionObject& e) {
    GTGM_THROW("{}: cannot list DICOM series: {}", folder.string(), detail::itk_message(e));
  }
  return out;
}

VolumeHeader read_dicom_series_header(const fs::path& folder, const ReadOptions& options) {
  return scan_series(folder, options).header;
}

Volume read_dicom_series(const fs::path& folder, const ReadOptions& options) {
  auto scan = scan_series(folder, options);
  const auto& h = scan.header;
  Volume v;
  v.geometry = h.geometry;
  v.source = h.path;
  v.stored_dtype = h.stored_dtype;
  if (scan.slices.size() == 1) {
    v.data = detail::read_io_voxels(*scan.slices.front().io, scan.slices.front().header);
  } else {
    v.data = torch::empty({h.channels, h.shape[0], h.shape[1], h.shape[2]}, torch::TensorOptions().dtype(h.dtype));
    for (size_t k = 0; k < scan.slices.size(); ++k) {
      auto& s = scan.slices[k];
      v.data.select(1, static_cast<int64_t>(k)).copy_(detail::read_io_voxels(*s.io, s.header).select(1, 0));
    }
  }
  apply_non_finite_policy(v, options.non_finite);
  return v;
}

void write_dicom_series(const Volume& volume, const fs::path& folder, const std::vector<int64_t>& file_order) {
  const std::string where = folder.string();
  GTGM_CHECK(volume.data.defined() && volume.data.dim() == 4 && volume.channels() == 1,
             "write_dicom_series {}: expected data [1, D, H, W], found {}", where,
             volume.data.defined() ? fmt::format("{}", volume.data.sizes()) : std::string("an undefined tensor"));
  check_geometry_valid(volume.geometry, "write_dicom_series " + where);
  const auto [d, h, w] = volume.shape();
  GTGM_CHECK(file_order.empty() || static_cast<int64_t>(file_order.size()) == d,
             "write_dicom_series {}: file_order has {} entries, expected {} (one per slice)", where, file_order.size(),
             d);
  auto data = volume.data.detach().to(torch::kCPU).contiguous();
  itk::IOComponentEnum comp;
  std::string modality = "MR";
  if (data.scalar_type() == torch::kShort) {
    comp = itk::IOComponentEnum::SHORT;
    modality = "CT";
  } else if (data.scalar_type() == torch::kByte) {
    comp = itk::IOComponentEnum::UCHAR;
  } else {
    GTGM_CHECK(data.scalar_type() == torch::kInt && volume.stored_dtype == "uint16" &&
                   data.min().item<int64_t>() >= 0 && data.max().item<int64_t>() <= 65535,
               "write_dicom_series {}: voxel type {} not supported (expected uint8, int16, or int32 holding "
               "uint16 values)",
               where, c10::toString(data.scalar_type()));
    comp = itk::IOComponentEnum::USHORT;
    data = torch::where(data > 32767, data - 65536, data).to(torch::kShort).contiguous();
  }
  fs::create_directories(folder);
  const auto& g = volume.geometry;
  const std::string iop = fmt::format("{}\\{}\\{}\\{}\\{}\\{}", ds(g.dir(0, 0)), ds(g.dir(1, 0)), ds(g.dir(2, 0)),
                                      ds(g.dir(0, 1)), ds(g.dir(1, 1)), ds(g.dir(2, 1)));
  // One ImageIO for all slices: it generates the Study/Series UIDs once and reuses them.
  auto io = itk::GDCMImageIO::New();
  auto& dict = io->GetMetaDataDictionary();
  itk::EncapsulateMetaData<std::string>(dict, "0008|0060", modality);
  itk::EncapsulateMetaData<std::string>(dict, "0020|0037", iop);
  itk::EncapsulateMetaData<std::string>(dict, "0028|0030", ds(g.spacing[1]) + "\\" + ds(g.spacing[0]));
  itk::EncapsulateMetaData<std::string>(dict, "0018|0050", ds(g.spacing[2]));
  itk::EncapsulateMetaData<std::string>(dict, "0018|0088", ds(g.spacing[2]));
  io->SetNumberOfDimensions(2);
  io->SetDimensions(0, static_cast<itk::SizeValueType>(w));
  io->SetDimensions(1, static_cast<itk::SizeValueType>(h));
  io->SetSpacing(0, g.spacing[0]);
  io->SetSpacing(1, g.spacing[1]);
  io->SetPixelType(itk::IOPixelEnum::SCALAR);
  io->SetComponentType(comp);
  io->SetNumberOfComponents(1);
  itk::ImageIORegion region(2);
  region.SetSize(0, static_cast<itk::SizeValueType>(w));
  region.SetSize(1, static_cast<itk::SizeValueType>(h));
  io->SetIORegion(region);
  for (int64_t k = 0; k < d; ++k) {
    std::array<double, 3> pos{};
    for (int r = 0; r < 3; ++r)
      pos[static_cast<size_t>(r)] =
          g.origin[static_cast<size_t>(r)] + g.dir(r, 2) * g.spacing[2] * static_cast<double>(k);
    itk::EncapsulateMetaData<std::string>(dict, "0020|0032",
                                          fmt::format("{}\\{}\\{}", ds(pos[0]), ds(pos[1]), ds(pos[2])));
    itk::EncapsulateMetaData<std::string>(dict, "0020|0013", std::to_string(k + 1));
    const int64_t name_index = file_order.empty() ? k : file_order[static_cast<size_t>(k)];
    const auto file = folder / fmt::format("slice_{:04d}.dcm", name_index);
    io->SetFileName(file.string());
    auto slice = data.select(1, k).contiguous();
    try {
      io->Write(slice.data_ptr());
    } catch (const itk::ExceptionObject& e) {
      GTGM_THROW("write_dicom_series {}: cannot write {}: {}", where, file.string(), detail::itk_message(e));
    }
  }
}

}  // namespace gtgm::io

#else  // !GTGM_WITH_ITK: DICOM needs ITK's GDCM I/O.

namespace gtgm::io {

namespace {
[[noreturn]] void no_itk(const std::filesystem::path& p) {
  GTGM_THROW(
      "{}: DICOM needs ITK, but this gtgm was built without it (GTGM_WITH_ITK=OFF); convert the series "
      "to NIfTI (e.g. dcm2niix) or rebuild with ITK",
      p.string());
}
}  // namespace

std::vector<DicomSeries> list_dicom_series(const std::filesystem::path& folder) { no_itk(folder); }
VolumeHeader read_dicom_series_header(const std::filesystem::path& folder, const ReadOptions&) { no_itk(folder); }
Volume read_dicom_series(const std::filesystem::path& folder, const ReadOptions&) { no_itk(folder); }
void write_dicom_series(const Volume&, const std::filesystem::path& folder, const std::vector<int64_t>&) {
  no_itk(folder);
}

}  // namespace gtgm::io

#endif  // GTGM_WITH_ITK
