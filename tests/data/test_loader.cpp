// Prefetcher, epoch schedule, pretraining and segmentation loaders (determinism, resume,
// sharding, bounded queue, worker errors), and the CUDA paths.
#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <map>
#include <set>
#include <thread>

#include "data_fixtures.h"
#include "gtgm/data/loader.h"
#include "gtgm/data/prefetcher.h"
#include "gtgm/data/split.h"
#include "test_util.h"

namespace gtgm {
namespace {

TEST(Prefetcher, DeliversInOrderWithAnyWorkerCount) {
  for (int workers : {0, 1, 3}) {
    data::Prefetcher<int64_t> q([](int64_t i) { return i * i; }, workers, 2);
    for (int64_t i = 0; i < 20; ++i) EXPECT_EQ(q.next(), i * i);
    EXPECT_EQ(q.position(), 20);
  }
}

// Waits (up to a minute, for a loaded machine) until `n` reaches `want`; returns whether it did.
bool wait_until_count(const std::atomic<int64_t>& n, int64_t want) {
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(60);
  while (n < want && std::chrono::steady_clock::now() < deadline)
    std::this_thread::sleep_for(std::chrono::milliseconds(2));
  return n >= want;
}

TEST(Prefetcher, QueueIsBounded) {
  std::atomic<int64_t> built{0};
  data::Prefetcher<int64_t> q(
      [&](int64_t i) {
        ++built;
        return i;
      },
      3, 4);
  // A slow consumer: the workers fill the queue (however long that takes here) and then stop at 4.
  // The waits after each fill only give an overshoot time to show; the bound itself is checked
  // by the prefetcher's own count of outstanding items.
  ASSERT_TRUE(wait_until_count(built, 4));
  std::this_thread::sleep_for(std::chrono::milliseconds(50));
  EXPECT_EQ(built.load(), 4);
  EXPECT_EQ(q.next(), 0);
  ASSERT_TRUE(wait_until_count(built, 5));
  std::this_thread::sleep_for(std::chrono::milliseconds(50));
  EXPECT_EQ(built.load(), 5);
  EXPECT_LE(q.max_outstanding(), 4);
}

TEST(Prefetcher, WorkerErrorsReachTheConsumerWithContext) {
  data::Prefetcher<int64_t> q(
      [](int64_t i) -> int64_t {
        GTGM_CHECK(i != 2, "case 'x' is broken");
        return i;
      },
      2, 3, {}, "test loader");
  EXPECT_EQ(q.next(), 0);
  EXPECT_EQ(q.next(), 1);
  EXPECT_THROW_MSG(q.next(), "test loader: worker");
  EXPECT_EQ(q.next(), 3);  // the stream continues after a bad item
  data::Prefetcher<int64_t> sync([](int64_t) -> int64_t { throw std::runtime_error("boom"); }, 0, 1, {}, "sync");
  EXPECT_THROW_MSG(sync.next(), "sync: building item 0 failed: boom");
  // A failing worker init is reported with the items, not swallowed.
  data::Prefetcher<int64_t> init([](int64_t i) { return i; }, 1, 1, [](int) { throw std::runtime_error("no init"); });
  EXPECT_THROW_MSG(init.next(), "no init");
}

TEST(Prefetcher, ResetRestartsAtAPosition) {
  data::Prefetcher<int64_t> q([](int64_t i) { return 10 * i; }, 2, 2);
  q.next();
  q.next();
  q.reset(7);
  EXPECT_EQ(q.next(), 70);
  EXPECT_EQ(q.position(), 8);
}

TEST(EpochSchedule, RanksGetDisjointShardsCoveringTheEpoch) {
  const int world = 3;
  std::multiset<int64_t> seen;
  for (int r = 0; r < world; ++r) {
    data::EpochSchedule s(12, 0, 2, r, world, 5);
    EXPECT_EQ(s.batches_per_epoch(), 2);
    for (auto c : s.rank_samples(0)) seen.insert(c);
  }
  EXPECT_EQ(seen.size(), 12u);
  EXPECT_EQ(std::set<int64_t>(seen.begin(), seen.end()).size(), 12u);  // every case exactly once
  // Epochs reshuffle; the same seed repeats.
  data::EpochSchedule a(12, 0, 2, 0, 1, 5), b(12, 0, 2, 0, 1, 5);
  EXPECT_EQ(a.rank_samples(3), b.rank_samples(3));
  EXPECT_NE(a.rank_samples(0), a.rank_samples(1));
  // samples_per_epoch rounds up to whole global batches and repeats cases.
  data::EpochSchedule c(5, 13, 2, 1, 2, 5);
  EXPECT_EQ(c.batches_per_epoch(), 4);
  EXPECT_EQ(c.rank_samples(0).size(), 8u);
  EXPECT_THROW_MSG(data::EpochSchedule(5, 0, 2, 2, 2, 5), "rank 2 is not in [0, world_size 2)");
}

class LoaderTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    dir_ = new test::TempDir();
    ds_ = test::make_tiny_cache(dir_->path() / "cache", 5, 10, 14, 12);
  }
  static void TearDownTestSuite() {
    ds_.reset();
    delete dir_;
  }
  static config::DataConfig cfg(int workers) {
    config::DataConfig c;
    c.crop_size = {6, 8, 8};
    c.batch_size = 2;
    c.num_workers = workers;
    c.prefetch = 2;
    return c;
  }
  static test::TempDir* dir_;
  static std::shared_ptr<const data::CacheDataset> ds_;
};
test::TempDir* LoaderTest::dir_ = nullptr;
std::shared_ptr<const data::CacheDataset> LoaderTest::ds_;

std::vector<data::PretrainBatch> take(data::PretrainLoader& l, int n) {
  std::vector<data::PretrainBatch> out;
  for (int i = 0; i < n; ++i) out.push_back(l.next());
  return out;
}

void expect_same(const std::vector<data::PretrainBatch>& a, const std::vector<data::PretrainBatch>& b) {
  ASSERT_EQ(a.size(), b.size());
  for (size_t i = 0; i < a.size(); ++i) {
    EXPECT_TRUE(torch::equal(a[i].view1, b[i].view1)) << "batch " << i;
    EXPECT_TRUE(torch::equal(a[i].view2, b[i].view2)) << "batch " << i;
    EXPECT_TRUE(torch::equal(a[i].positions, b[i].positions)) << "batch " << i;
    EXPECT_EQ(a[i].case_ids, b[i].case_ids);
  }
}

TEST_F(LoaderTest, PretrainBatchesHaveTheContractShapes) {
  data::PretrainLoader l(ds_, cfg(2), {});
  EXPECT_EQ(l.batches_per_epoch(), 3);  // 5 cases -> 6 samples -> 3 batches of 2
  const auto b = l.next();
  EXPECT_EQ(b.view1.sizes(), torch::IntArrayRef({2, 1, 6, 8, 8}));
  EXPECT_EQ(b.view2.sizes(), torch::IntArrayRef({2, 1, 6, 8, 8}));
  EXPECT_EQ(b.positions.sizes(), torch::IntArrayRef({2, 3}));
  EXPECT_EQ(b.positions.scalar_type(), torch::kLong);
  EXPECT_EQ(b.case_ids.size(), 2u);
  for (const auto& v : {b.view1, b.view2}) {
    EXPECT_GE(v.min().item<float>(), 0.0f);
    EXPECT_LE(v.max().item<float>(), 1.0f);
  }
  // Positions are source voxels: the source is 10 x 14 x 12 with identity geometry.
  EXPECT_GE(b.positions.min().item<int64_t>(), 0);
  EXPECT_LT(b.positions.select(1, 0).max().item<int64_t>(), 10);
  EXPECT_LT(b.positions.select(1, 1).max().item<int64_t>(), 14);
  // Corners (the reference's caption anchor) sit half a crop before the centres (crop 6 x 8 x 8,
  // identity geometry, so centre = corner + (size - 1) / 2 = corner + 2.5 / 3.5, rounded).
  ASSERT_EQ(b.corners.sizes(), torch::IntArrayRef({2, 3}));
  EXPECT_EQ(b.corners.scalar_type(), torch::kLong);
  const auto gap = b.positions - b.corners;
  for (int64_t i = 0; i < 2; ++i) {
    EXPECT_NEAR(gap[i][0].item<int64_t>(), 2.5, 0.5) << i;
    EXPECT_NEAR(gap[i][1].item<int64_t>(), 3.5, 0.5) << i;
    EXPECT_NEAR(gap[i][2].item<int64_t>(), 3.5, 0.5) << i;
  }
}

TEST_F(LoaderTest, PretrainIsDeterministicForAnyWorkerCountAndPlacement) {
  data::PretrainLoader ref(ds_, cfg(0), {});
  const auto expected = take(ref, 7);  // crosses two epoch boundaries
  for (int workers : {1, 3}) {
    data::PretrainLoader l(ds_, cfg(workers), {});
    expect_same(take(l, 7), expected);
  }
  auto on_device = cfg(2);
  on_device.augment_on = config::AugmentOn::Device;  // augmentation in next() instead of the workers: same batches
  data::PretrainLoader d(ds_, on_device, {});
  expect_same(take(d, 7), expected);
  data::LoaderOptions other;
  other.seed = 43;
  data::PretrainLoader o(ds_, cfg(0), other);
  EXPECT_FALSE(torch::equal(o.next().view1, expected[0].view1));
}

TEST_F(LoaderTest, PretrainResumesExactlyFromASavedState) {
  data::PretrainLoader a(ds_, cfg(2), {});
  take(a, 4);
  const std::string saved = a.state().to_json();
  const auto rest = take(a, 4);
  data::PretrainLoader b(ds_, cfg(3), {});
  b.restore(data::LoaderState::from_json(saved));
  EXPECT_EQ(b.state().epoch, 1);
  EXPECT_EQ(b.state().position, 1);
  expect_same(take(b, 4), rest);
  // A state from another stream is refused with both sides named.
  data::LoaderOptions o;
  o.seed = 1;
  data::PretrainLoader c(ds_, cfg(0), o);
  EXPECT_THROW_MSG(c.restore(data::LoaderState::from_json(saved)),
                   "cannot resume the pretraining loader: the saved state is for seed 42");
  EXPECT_THROW_MSG(data::LoaderState::from_json("{\"epoch\": 1}"), "loader state has no 'position' key");
}

TEST_F(LoaderTest, RanksSeeDisjointCases) {
  std::multiset<std::string> seen;
  for (int r = 0; r < 2; ++r) {
    data::LoaderOptions o;
    o.rank = r;
    o.world_size = 2;
    auto c = cfg(1);
    c.batch_size = 1;
    c.samples_per_epoch = 4;
    data::PretrainLoader l(ds_, c, o);
    EXPECT_EQ(l.batches_per_epoch(), 2);
    for (int i = 0; i < 2; ++i) seen.insert(l.next().case_ids[0]);
  }
  EXPECT_EQ(std::set<std::string>(seen.begin(), seen.end()).size(), 4u);
}

TEST_F(LoaderTest, WithoutAugmentationViewsAreMinMaxCrops) {
  auto c = cfg(0);
  c.pretrain_augment.view_shift = 0.0;
  data::LoaderOptions o;
  o.augment = false;
  data::PretrainLoader l(ds_, c, o);
  const auto b = l.next();
  EXPECT_TRUE(torch::equal(b.view1, b.view2));  // same crop, no augmentation
  // The crop is a min-max normalised window of the cached case.
  const auto& cc = ds_->at(ds_->index_of(b.case_ids[0]));
  const auto img = cc.image.tensor();
  bool found = false;
  for (int64_t z = 0; z + 6 <= img.size(1) && !found; ++z) {
    for (int64_t y = 0; y + 8 <= img.size(2) && !found; ++y) {
      for (int64_t x = 0; x + 8 <= img.size(3) && !found; ++x) {
        auto w = img.slice(1, z, z + 6).slice(2, y, y + 8).slice(3, x, x + 8).to(torch::kFloat);
        w = (w - w.min()) / (w.max() - w.min());
        found = torch::allclose(w, b.view1[0], 1e-5, 1e-6);
      }
    }
  }
  EXPECT_TRUE(found);
}

config::DataConfig reference_cfg(config::DataConfig c) {
  c.pretrain_augment.views = config::PretrainViews::Reference;
  c.pretrain_augment.view_shift = 0.0;
  c.pretrain_augment.context = 4;  // >= 8 * (1.5 - 1) / 2
  return c;
}

TEST_F(LoaderTest, ReferenceViewsAreDeterministicResumableAndNormalised) {
  const auto c = reference_cfg(cfg(0));
  data::PretrainLoader ref(ds_, c, {});
  const auto expected = take(ref, 5);
  auto c3 = c;
  c3.num_workers = 3;
  data::PretrainLoader l(ds_, c3, {});
  expect_same(take(l, 5), expected);
  data::PretrainLoader a(ds_, c3, {});
  take(a, 2);
  const std::string saved = a.state().to_json();
  data::PretrainLoader b(ds_, c, {});
  b.restore(data::LoaderState::from_json(saved));
  expect_same(take(b, 3), std::vector<data::PretrainBatch>(expected.begin() + 2, expected.end()));
  bool differ = false;
  for (const auto& bt : expected) {
    ASSERT_EQ(bt.view1.sizes(), torch::IntArrayRef({2, 1, 6, 8, 8}));
    ASSERT_EQ(bt.view2.sizes(), torch::IntArrayRef({2, 1, 6, 8, 8}));
    for (int64_t i = 0; i < 2; ++i) {
      for (const auto& v : {bt.view1[i], bt.view2[i]}) {  // the scaler: every view spans [0, 1]
        EXPECT_FLOAT_EQ(v.min().item<float>(), 0.0f);
        EXPECT_FLOAT_EQ(v.max().item<float>(), 1.0f);
      }
    }
    differ = differ || !torch::equal(bt.view1, bt.view2);
  }
  EXPECT_TRUE(differ);  // each view has its own perturbation
}

TEST_F(LoaderTest, ReferenceViewsWithoutAugmentationAreOneMinMaxCrop) {
  data::LoaderOptions o;
  o.augment = false;
  data::PretrainLoader l(ds_, reference_cfg(cfg(0)), o);
  const auto b = l.next();
  EXPECT_TRUE(torch::equal(b.view1, b.view2));
  const auto& cc = ds_->at(ds_->index_of(b.case_ids[0]));
  const auto img = cc.image.tensor();
  bool found = false;
  for (int64_t z = 0; z + 6 <= img.size(1) && !found; ++z) {
    for (int64_t y = 0; y + 8 <= img.size(2) && !found; ++y) {
      for (int64_t x = 0; x + 8 <= img.size(3) && !found; ++x) {
        auto w = img.slice(1, z, z + 6).slice(2, y, y + 8).slice(3, x, x + 8).to(torch::kFloat);
        w = (w - w.min()) / (w.max() - w.min());
        found = torch::allclose(w, b.view1[0], 1e-5, 1e-6);
      }
    }
  }
  EXPECT_TRUE(found);
}

TEST_F(LoaderTest, ReferenceViewsRefuseANonSquareCrop) {
  auto c = reference_cfg(cfg(0));
  c.crop_size = {6, 8, 6};
  EXPECT_THROW_MSG(data::PretrainLoader bad(ds_, c, {}), "needs a square in-plane crop (data.crop_size H == W");
  c.crop_size = {6, 8, 8};
  c.pretrain_augment.context = 1;
  EXPECT_THROW_MSG(data::PretrainLoader small(ds_, c, {}), "data.pretrain_augment.context must be >= 2");
}

TEST_F(LoaderTest, SegmentationOversamplesForeground) {
  auto c = cfg(2);
  c.crop_size = {2, 2, 2};
  c.batch_size = 4;
  c.samples_per_epoch = 40;
  c.foreground_oversample = 1.0;
  data::LoaderOptions o;
  o.augment = false;
  data::SegLoader all_fg(ds_, c, o);
  int with_fg = 0;
  for (int i = 0; i < 10; ++i) {
    const auto b = all_fg.next();
    EXPECT_EQ(b.image.sizes(), torch::IntArrayRef({4, 1, 2, 2, 2}));
    EXPECT_EQ(b.label.scalar_type(), torch::kLong);
    for (int64_t j = 0; j < 4; ++j) with_fg += (b.label[j] > 0).any().item<bool>() ? 1 : 0;
  }
  EXPECT_EQ(with_fg, 40);
  c.foreground_oversample = 0.0;
  data::SegLoader random(ds_, c, o);
  int random_fg = 0;
  for (int i = 0; i < 10; ++i) {
    const auto b = random.next();
    for (int64_t j = 0; j < 4; ++j) random_fg += (b.label[j] > 0).any().item<bool>() ? 1 : 0;
  }
  EXPECT_LT(random_fg, 40);
}

TEST_F(LoaderTest, SegmentationIsDeterministicAndResumable) {
  auto c = cfg(0);
  data::SegLoader a(ds_, c, {});
  std::vector<data::SegBatch> ref;
  for (int i = 0; i < 5; ++i) ref.push_back(a.next());
  c.num_workers = 3;
  data::SegLoader b(ds_, c, {});
  b.next();
  b.next();
  const auto st = b.state();
  data::SegLoader r(ds_, c, {});
  r.restore(st);
  for (int i = 2; i < 5; ++i) {
    const auto x = r.next();
    EXPECT_TRUE(torch::equal(x.image, ref[static_cast<size_t>(i)].image));
    EXPECT_TRUE(torch::equal(x.label, ref[static_cast<size_t>(i)].label));
  }
}

TEST_F(LoaderTest, BadCacheCasesFailWithTheirName) {
  EXPECT_THROW_MSG(data::CacheDataset::open(dir_->path() / "cache", {"case0", "nope"}),
                   "case 'nope' is not in the cache");
  EXPECT_THROW_MSG(data::CacheDataset::open(dir_->path() / "nothing"), "no plan; run `gtgm plan`");
  test::TempDir t;
  auto unlabeled = test::make_tiny_cache(t.path(), 1, 4, 4, 4, /*labels=*/false);
  EXPECT_THROW_MSG(data::SegLoader(unlabeled, cfg(0), {}), "case 'case0' has no label");
}

TEST(LoaderThreads, WorkerThreadsRunSingleThreaded) {
  int n = -1;
  std::thread t([&] {
    data::limit_intraop_threads_of_this_thread();
    n = at::get_num_threads();
  });
  t.join();
  EXPECT_EQ(n, 1);
}

TEST_F(LoaderTest, DeviceCopyAndAugmentation_CUDA) {
  GTGM_REQUIRE_CUDA();
  data::LoaderOptions o;
  o.device = torch::Device(torch::kCUDA, 0);
  auto c = cfg(2);  // augment_on auto -> on the GPU; pinned host buffers, non-blocking copies
  data::PretrainLoader a(ds_, c, o), b(ds_, c, o);
  for (int i = 0; i < 4; ++i) {
    const auto x = a.next(), y = b.next();
    EXPECT_TRUE(x.view1.is_cuda());
    EXPECT_TRUE(torch::equal(x.view1, y.view1));  // deterministic on the device too
    EXPECT_TRUE(torch::equal(x.view2, y.view2));
    EXPECT_GE(x.view1.min().item<float>(), 0.0f);
    EXPECT_LE(x.view1.max().item<float>(), 1.0f);
  }
  // Device-side augmentation matches the CPU for every op except noise (different RNG).
  config::PretrainAugmentConfig pc;
  const auto mask = data::transpose_mask({6, 8, 8}, {1, 1, 1});
  const auto x = torch::rand({5, 1, 6, 8, 8});
  std::vector<data::PretrainViewParams> ps;
  for (int i = 0; i < 5; ++i) {
    data::Rng rng(3, {static_cast<uint64_t>(i)});
    auto p = data::draw_pretrain_view(rng, pc, mask, {1, 1, 1});
    p.op =
        std::array<data::PretrainOp, 5>{data::PretrainOp::Rescale, data::PretrainOp::Flip, data::PretrainOp::Intensity,
                                        data::PretrainOp::Blur, data::PretrainOp::None}[static_cast<size_t>(i)];
    ps.push_back(p);
  }
  const auto cpu = data::augment_pretrain(x, ps);
  const auto gpu = data::augment_pretrain(x.to(o.device), ps).cpu();
  EXPECT_TRUE(torch::allclose(cpu, gpu, 1e-4, 1e-5));
  // Segmentation on the device.
  auto sc = cfg(1);
  data::SegLoader s(ds_, sc, o);
  const auto sb = s.next();
  EXPECT_TRUE(sb.image.is_cuda());
  EXPECT_TRUE(sb.label.is_cuda());
  EXPECT_EQ(sb.label.scalar_type(), torch::kLong);
}

TEST_F(LoaderTest, CremiPretrainingCropsStayInTheTrainingSlices) {
  // data.em_pretrain_z 0.4 of a 10-slice volume leaves slices [0, 4): a crop 4 deep can only start
  // at 0, so every crop of a case has the same z centre; with the whole volume they spread out.
  auto centre_z = [&](double em_pretrain_z) {
    config::DataConfig c = cfg(1);
    c.format = config::DataFormat::CREMI;
    c.crop_size = {4, 8, 8};
    c.pretrain_augment.view_shift = 0;
    c.em_pretrain_z = em_pretrain_z;
    data::LoaderOptions o;
    data::PretrainLoader l(ds_, c, o);
    std::map<std::string, std::set<int64_t>> z;
    for (const auto& b : take(l, 12))
      for (size_t i = 0; i < b.case_ids.size(); ++i) z[b.case_ids[i]].insert(b.positions[static_cast<int64_t>(i)][0].item<int64_t>());
    return z;
  };
  for (const auto& [id, zs] : centre_z(0.4)) EXPECT_EQ(zs.size(), 1u) << id;
  size_t spread = 0;
  for (const auto& [id, zs] : centre_z(1.0)) spread += zs.size() > 1;
  EXPECT_GT(spread, 0u);
  // The split rule itself, as finetune's (round, at least 1, at most depth - 1; 1 = the whole depth).
  EXPECT_EQ(data::em_train_depth(10, 0.4), 4);
  EXPECT_EQ(data::em_train_depth(125, 0.6), 75);
  EXPECT_EQ(data::em_train_depth(10, 0.01), 1);
  EXPECT_EQ(data::em_train_depth(10, 0.99), 9);
  EXPECT_EQ(data::em_train_depth(10, 1.0), 10);
  EXPECT_THROW_MSG(data::em_train_depth(1, 0.6), "at least 2 slices");
}

}  // namespace
}  // namespace gtgm
