// The reference's offline caption files, read as they are: per-volume CSVs written by pandas
// to_csv (unnamed index column, `location` = "[z, y, x]", `description`) in
// <caption_path>/<dataset>/<volume>.csv, and the text the reference feeds BioBERT,
// "<volume>, <description>" of the caption nearest to the crop corner. The CSVs under
// tests/data/captions/ and the expected captions were written / printed by /usr/bin/python3
// scripts/reference/captions_reference.py (the reference's lookup ported as it is).
#include <gtest/gtest.h>

#include "gtgm/core/atomic_file.h"
#include "gtgm/text/caption_cache.h"
#include "test_util.h"

namespace gtgm {
namespace {

namespace fs = std::filesystem;

fs::path offline_captions() { return fs::path(GTGM_TEST_DATA_DIR) / "captions" / "offline_caption"; }

TEST(CaptionReference, ImportsPandasCsvFoldersAndMatchesTheReferenceLookup) {
  test::TempDir dir;
  EXPECT_EQ(text::import_reference_csv(offline_captions(), dir / "c.jsonl"), 14);  // 12 + 2 rows, two datasets
  const auto cache = text::load_caption_inputs(dir / "c.jsonl", config::CaptionPrefix::Volume);
  EXPECT_EQ(cache.volumes(), (std::vector<std::string>{"liver_3", "lung_007"}));
  struct Query {
    const char* volume;
    text::VoxelPosition corner;
    const char* caption;  // printed by captions_reference.py
  };
  for (const auto& q : std::vector<Query>{
           {"liver_3", {0, 0, 0}, "liver_3, a ct scan of the abdomen"},
           {"liver_3", {12, 50, 30}, "liver_3, a slice with the kidneys, the aorta, and the spine"},
           {"liver_3", {25, 79, 81}, "liver_3, last slice"},
           {"liver_3", {5, 40, 40}, "liver_3, a ct scan of the abdomen"},  // an 8-way tie: the first row
           {"liver_3", {14, 120, 10}, "liver_3, a slice with the kidneys, the aorta, and the spine"},
           {"liver_3", {9, 200, 200}, "liver_3, liver segment"},
           {"lung_007", {6, 60, 60}, "lung_007, mediastinum"},
       }) {
    EXPECT_EQ(cache.text(cache.nearest(q.volume, q.corner)), q.caption) << q.volume << " " << q.corner[1];
  }
  // The CSV's quoting survives: doubled quotes and a newline inside a quoted description.
  EXPECT_EQ(cache.text(cache.nearest("liver_3", {0, 80, 0})), "liver_3, the \"hypodense\" lesion of the right lobe");
  EXPECT_EQ(cache.text(cache.nearest("liver_3", {10, 0, 0})), "liver_3, two lines\nof text");
  // The cache stores the description alone; text.caption_prefix: none uses it as it is.
  const auto raw = text::load_caption_inputs(dir / "c.jsonl", config::CaptionPrefix::None);
  EXPECT_EQ(raw.text(raw.nearest("lung_007", {0, 0, 0})), "lungs, with a nodule");
  EXPECT_EQ(raw.record(raw.nearest("lung_007", {9, 70, 90})).position, (text::VoxelPosition{10, 80, 80}));
  // One dataset folder, or one file, imports alone.
  EXPECT_EQ(text::import_reference_csv(offline_captions() / "Task06_Lung", dir / "lung.jsonl"), 2);
  EXPECT_EQ(text::import_reference_csv(offline_captions() / "Task03_Liver" / "liver_3.csv", dir / "l.jsonl"), 12);
}

TEST(CaptionReference, LocationColumnFormsAndErrors) {
  test::TempDir dir;
  // str() of a list, numpy's array print, a tuple, numpy-2 scalars, integral floats.
  test::write_file(dir / "ok/vol.csv",
                   ",location,description\n0,\"[1, 2, 3]\",a\n1,[ 4  5 6],b\n2,\"(7, 8, 9)\",c\n"
                   "3,\"[np.int64(10), np.int64(11), np.int64(12)]\",d\n4,\"[13.0, 14.0, 15.0]\",e\n");
  EXPECT_EQ(text::import_reference_csv(dir / "ok", dir / "ok.jsonl"), 5);
  const auto c = text::CaptionCache::load(dir / "ok.jsonl");
  const std::vector<text::VoxelPosition> want = {{1, 2, 3}, {4, 5, 6}, {7, 8, 9}, {10, 11, 12}, {13, 14, 15}};
  for (size_t i = 0; i < want.size(); ++i) EXPECT_EQ(c.record(static_cast<int64_t>(i)).position, want[i]) << i;

  test::write_file(dir / "bad1/v.csv", ",location,description\n0,\"[1, 2]\",a\n");
  EXPECT_THROW_MSG(text::import_reference_csv(dir / "bad1", dir / "o.jsonl"),
                   "v.csv:2: column location must hold 3 values [z, y, x], got '[1, 2]'");
  test::write_file(dir / "bad2/v.csv", ",location,description\n0,1 2 3,a\n");
  EXPECT_THROW_MSG(text::import_reference_csv(dir / "bad2", dir / "o.jsonl"),
                   "v.csv:2: column location must be a stringified [z, y, x], got '1 2 3'");
  test::write_file(dir / "bad3/v.csv", ",location,description\n0,\"[1, -2, 3]\",a\n");
  EXPECT_THROW_MSG(text::import_reference_csv(dir / "bad3", dir / "o.jsonl"),
                   "column location[1] (y) must be a non-negative integer voxel index, got '-2'");
  test::write_file(dir / "bad4/v.csv", ",where,description\n0,\"[1, 2, 3]\",a\n");
  EXPECT_THROW_MSG(text::import_reference_csv(dir / "bad4", dir / "o.jsonl"),
                   "must name the columns location and description (the reference's CSV) or z, y, x and caption");
  EXPECT_FALSE(fs::exists(dir / "o.jsonl"));
}

}  // namespace
}  // namespace gtgm
