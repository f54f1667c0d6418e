// Importer for the GTGM reference code's per-volume caption CSV files.
#include <algorithm>
#include <cctype>
#include <set>

#include "gtgm/core/atomic_file.h"
#include "gtgm/core/error.h"
#include "gtgm/core/logging.h"
#include "gtgm/core/strings.h"
#include "gtgm/text/caption_cache.h"

namespace fs = std::filesystem;

namespace gtgm::text {
namespace {

/// RFC 4180 rows: quoted fields may hold commas, doubled quotes and newlines. Returns the rows
/// and, per row, the 1-based line where it starts.
std::vector<std::vector<std::string>> parse_csv(const std::string& data, const std::string& where,
                                                std::vector<int>* row_lines) {
  std::vector<std::vector<std::string>> rows;
  std::vector<std::string> row;
  std::string field;
  bool quoted = false, field_started = false;
  int line = 1, row_line = 1;
  auto end_field = [&] {
    row.push_back(field);
    field.clear();
    field_started = false;
  };
  auto end_row = [&] {
    end_field();
    const bool empty = row.size() == 1 && row[0].empty();
    if (!empty) {
      rows.push_back(std::move(row));
      row_lines->push_back(row_line);
    }
    row.clear();
  };
  size_t i = data.compare(0, 3, "\xEF\xBB\xBF") == 0 ? 3 : 0;  // UTF-8 BOM (spreadsheet exports)
  for (; i < data.size(); ++i) {
    const char c = data[i];
    if (quoted) {
      if (c == '"' && i + 1 < data.size() && data[i + 1] == '"') {
        field.push_back('"');
        ++i;
      } else if (c == '"') {
        quoted = false;
      } else {
        if (c == '\n') ++line;
        field.push_back(c);
      }
      continue;
    }
    if (c == '"' && !field_started) {
      quoted = field_started = true;
    } else if (c == ',') {
      end_field();
    } else if (c == '\n' || c == '\r') {
      if (c == '\r' && i + 1 < data.size() && data[i + 1] == '\n') ++i;
      end_row();
      row_line = ++line;
    } else {
      field.push_back(c);
      field_started = true;
    }
  }
  GTGM_CHECK(!quoted, "{}: unterminated quoted field starting on line {}", where, row_line);
  if (!field.empty() || !row.empty()) end_row();
  return rows;
}

std::string trim(const std::string& s) {
  const auto b = s.find_first_not_of(" \t");
  if (b == std::string::npos) return "";
  return s.substr(b, s.find_last_not_of(" \t") - b + 1);
}

/// "liver_3.nii.gz.csv" -> "liver_3"; "case01.csv" -> "case01".
std::string volume_id_of(const fs::path& csv) {
  std::string name = csv.filename().string();
  name = name.substr(0, name.size() - 4);  // ".csv"
  for (const char* ext : {".nii.gz", ".nii", ".nrrd", ".nhdr", ".mha", ".mhd", ".tif", ".tiff", ".h5", ".hdf5"}) {
    const std::string e = ext;
    if (name.size() > e.size() && core::lower(name.substr(name.size() - e.size())) == e) {
      name = name.substr(0, name.size() - e.size());
      break;
    }
  }
  return name;
}

int64_t parse_coord(const std::string& text, const std::string& where, const char* axis) {
  const std::string t = trim(text);
  // The reference writes positions from numpy, sometimes as floats ("40.0").
  try {
    size_t used = 0;
    const double v = std::stod(t, &used);
    GTGM_CHECK(used == t.size() && v >= 0 && v == static_cast<double>(static_cast<int64_t>(v)),
               "{}: column {} must be a non-negative integer voxel index, got '{}'", where, axis, text);
    return static_cast<int64_t>(v);
  } catch (const std::invalid_argument&) {
    GTGM_THROW("{}: column {} must be a non-negative integer voxel index, got '{}'", where, axis, text);
  } catch (const std::out_of_range&) {
    GTGM_THROW("{}: column {} is out of range: '{}'", where, axis, text);
  }
}

/// The reference's `location` column: a stringified `[z, y, x]` (pandas writes the Python list
/// str(): "[10, 80, 160]"); numpy's "[ 10  80 160]", a tuple "(10, 80, 160)" and numpy-2 scalars
/// "np.int64(10)" read too.
VoxelPosition parse_location(const std::string& text, const std::string& where) {
  std::string t = trim(text);
  const bool bracketed = t.size() >= 2 && ((t.front() == '[' && t.back() == ']') || (t.front() == '(' && t.back() == ')'));
  GTGM_CHECK(bracketed, "{}: column location must be a stringified [z, y, x], got '{}'", where, text);
  t = t.substr(1, t.size() - 2);
  std::vector<std::string> parts;
  std::string cur;
  int depth = 0;
  for (const char c : t) {
    if (c == '(') ++depth;
    if (c == ')') --depth;
    if (depth == 0 && (c == ',' || c == ' ' || c == '\t')) {
      if (!cur.empty()) parts.push_back(cur);
      cur.clear();
    } else {
      cur.push_back(c);
    }
  }
  if (!cur.empty()) parts.push_back(cur);
  GTGM_CHECK(parts.size() == 3, "{}: column location must hold 3 values [z, y, x], got '{}'", where, text);
  VoxelPosition p{};
  const char* axes[3] = {"location[0] (z)", "location[1] (y)", "location[2] (x)"};
  for (int a = 0; a < 3; ++a) {
    std::string v = parts[static_cast<size_t>(a)];
    const auto open = v.find('(');
    if (open != std::string::npos && v.back() == ')') v = v.substr(open + 1, v.size() - open - 2);  // np.int64(10)
    p[static_cast<size_t>(a)] = parse_coord(v, where, axes[a]);
  }
  return p;
}

/// The *.csv files to import: `path` itself, the CSVs in it, and those one folder down (the
/// reference's `<caption_path>/<dataset>/<volume>.csv` layout), sorted.
std::vector<fs::path> caption_csv_files(const fs::path& path) {
  std::vector<fs::path> files;
  std::error_code ec;
  if (fs::is_regular_file(path, ec)) return {path};
  GTGM_CHECK(fs::is_directory(path, ec), "caption CSV import: {} is neither a .csv file nor a folder", path.string());
  auto add_csvs = [&files](const fs::path& dir) {
    for (const auto& e : fs::directory_iterator(dir))
      if (e.is_regular_file() && core::lower(e.path().extension().string()) == ".csv") files.push_back(e.path());
  };
  add_csvs(path);
  for (const auto& e : fs::directory_iterator(path))
    if (e.is_directory()) add_csvs(e.path());
  std::sort(files.begin(), files.end());
  return files;
}

}  // namespace

int64_t import_reference_csv(const fs::path& folder, const fs::path& out, const std::string& generator) {
  const std::vector<fs::path> files = caption_csv_files(folder);
  GTGM_CHECK(!files.empty(), "caption CSV import: no *.csv files in {} (nor in its subfolders)", folder.string());
  std::vector<CaptionRecord> records;
  int64_t empty = 0;
  std::set<std::string> volumes;
  for (const auto& f : files) {
    const std::string volume = volume_id_of(f);
    GTGM_CHECK(volumes.insert(volume).second, "caption CSV import: two files map to volume id '{}' (e.g. {})", volume,
               f.string());
    std::vector<int> lines;
    const auto rows = parse_csv(core::read_text_file(f), f.string(), &lines);
    GTGM_CHECK(!rows.empty(), "{}: empty CSV (expected a header with location, description or z, y, x, caption)",
               f.string());
    // The reference's files (pandas to_csv: an unnamed index column, `location`, `description`)
    // or gtgm's own z, y, x, caption columns; any order, case-insensitive.
    int col[4] = {-1, -1, -1, -1};  // z, y, x, caption
    int location = -1;
    for (size_t c = 0; c < rows[0].size(); ++c) {
      const auto name = core::lower(trim(rows[0][c]));
      if (name == "z") col[0] = static_cast<int>(c);
      if (name == "y") col[1] = static_cast<int>(c);
      if (name == "x") col[2] = static_cast<int>(c);
      if (name == "location") location = static_cast<int>(c);
      if (name == "caption" || name == "text" || name == "description") col[3] = static_cast<int>(c);
    }
    if (location >= 0) col[0] = col[1] = col[2] = location;
    std::string header;
    for (size_t c = 0; c < rows[0].size(); ++c) header += (c ? "," : "") + rows[0][c];
    GTGM_CHECK(std::all_of(std::begin(col), std::end(col), [](int c) { return c >= 0; }),
               "{}:1: header '{}' must name the columns location and description (the reference's CSV) or z, y, x "
               "and caption (or text)",
               f.string(), header);
    const int needed = *std::max_element(std::begin(col), std::end(col)) + 1;
    for (size_t r = 1; r < rows.size(); ++r) {
      const std::string where = fmt::format("{}:{}", f.string(), lines[r]);
      GTGM_CHECK(static_cast<int>(rows[r].size()) >= needed, "{}: row has {} fields, the header needs {}", where,
                 rows[r].size(), needed);
      CaptionRecord rec;
      rec.volume = volume;
      if (location >= 0) {
        rec.position = parse_location(rows[r][location], where);
      } else {
        rec.position = {parse_coord(rows[r][col[0]], where, "z"), parse_coord(rows[r][col[1]], where, "y"),
                        parse_coord(rows[r][col[2]], where, "x")};
      }
      rec.text = trim(rows[r][col[3]]);
      rec.generator = generator;
      if (rec.text.empty()) {
        ++empty;
        continue;
      }
      records.push_back(std::move(rec));
    }
  }
  if (empty > 0) GTGM_WARN("caption CSV import: skipped {} rows with an empty caption", empty);
  // Validate (duplicates are reported) before writing.
  const auto cache = CaptionCache::from_records(records, folder.string());
  core::atomic_write(out, [&](std::ostream& os) {
    os << "{\"format\":\"gtgm-captions\",\"version\":1}\n";
    for (const auto& r : cache.records()) os << caption_record_json(r) << "\n";
  });
  GTGM_INFO("imported {} captions of {} volumes from {} into {}", cache.size(), volumes.size(), folder.string(),
            out.string());
  return cache.size();
}

}  // namespace gtgm::text
