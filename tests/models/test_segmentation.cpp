// Segmentation and pretraining assemblies: shapes over a table (2D/3D, anisotropic, every encoder
// with its decoder, deep supervision, affinity head), gradients, save -> load -> identical outputs
// for every model, parameter counts by hand, errors for inputs the models cannot take.
#include <torch/torch.h>

#include "gtgm/models/flops.h"
#include "gtgm/models/registry.h"
#include "test_util.h"

namespace gtgm::models {
namespace {

Shape seg_shape_of(const torch::Tensor& t) { return Shape(t.sizes().begin(), t.sizes().end()); }

config::ModelConfig base(const std::string& type) {
  config::ModelConfig c;
  c.type = *config::parse_enum<config::EncoderType>(type);
  c.encoder.base_channels = 2;
  c.encoder.embed_dim = 0;
  c.resnet3d.depth = 10;
  c.unet.stages = 2;
  c.unet.channels = {2, 4};
  c.encoder.norm = config::Norm::Instance;
  c.vit3d.patch_size = {2, 4, 4};
  c.vit3d.input_size = {4, 8, 8};
  c.vit3d.hidden_size = 12;
  c.vit3d.num_heads = 3;
  c.vit3d.mlp_dim = 20;
  c.vit3d.num_layers = 2;
  c.unetr_feature_size = 2;
  c.num_classes = 3;
  c.proj_hidden = 6;
  c.proj_dim = 4;
  c.text_embed_dim = 5;
  return c;
}

struct SegCase {
  std::string name;
  config::ModelConfig cfg;
  Shape input;
  int64_t out_channels;
  std::vector<Shape> deep_spatial;  // spatial sizes of forward_deep outputs
};

std::vector<SegCase> seg_cases() {
  std::vector<SegCase> cases;
  {
    auto c = base("resnet3d");  // decoder adds a final upsample from stride 1x2x2 to full size
    c.encoder.norm = config::Norm::Batch;
    c.deep_supervision = true;
    cases.push_back(
        {"resnet3d_unet_ds", c, {2, 1, 16, 32, 32}, 3, {{16, 32, 32}, {16, 16, 16}, {16, 8, 8}, {8, 4, 4}, {4, 2, 2}}});
  }
  {
    auto c = base("resnet3d");
    c.encoder.spatial_dims = 2;
    c.resnet3d.stem_kernel = {7, 7};
    c.resnet3d.stem_stride = {2, 2};
    c.resnet3d.stem_pool_stride = {2, 2};
    c.upsample = config::Upsample::Interpolate;
    cases.push_back({"resnet2d_unet_interp", c, {1, 1, 32, 64}, 3, {{32, 64}}});
  }
  {
    auto c = base("resunet");  // EM: anisotropic strides, affinity head, deep supervision
    c.unet.stages = 3;
    c.unet.channels = {2, 4, 4};
    c.unet.strides = {"1", "1x2x2", "2"};
    c.unet.kernels = {"1x3x3", "3", "3"};
    c.head = config::HeadType::Affinity;
    c.deep_supervision = true;
    c.decoder_channels = {3, 4};
    cases.push_back({"resunet_aniso_affinity", c, {2, 1, 4, 8, 8}, 3, {{4, 8, 8}, {4, 4, 4}}});
  }
  {
    auto c = base("unet");
    c.encoder.spatial_dims = 2;
    c.encoder.norm = config::Norm::Group;
    c.encoder.norm_groups = 2;
    c.upsample = config::Upsample::Interpolate;
    cases.push_back({"unet2d_group", c, {2, 1, 6, 10}, 3, {{6, 10}}});
  }
  {
    auto c = base("vit3d");  // UNETR over an anisotropic patch, deep supervision
    c.deep_supervision = true;
    cases.push_back({"vit3d_unetr", c, {1, 1, 4, 8, 12}, 3, {{4, 8, 12}, {2, 4, 6}}});
  }
  {
    auto c = base("vit3d");
    c.encoder.spatial_dims = 2;
    c.vit3d.patch_size = {8, 4};
    c.vit3d.input_size = {16, 8};
    c.vit3d.pos_embed = config::PosEmbed::SinCos;
    c.vit3d.num_layers = 3;  // UNETR taps one layer per level: log2(8) = 3
    c.head = config::HeadType::Affinity;
    cases.push_back({"vit2d_unetr_affinity", c, {2, 1, 16, 12}, 2, {{16, 12}}});
  }
  return cases;
}

TEST(ModelsSegmentation, ShapesOverConfigTable) {
  torch::manual_seed(0);
  for (const auto& c : seg_cases()) {
    SCOPED_TRACE(c.name);
    auto model = build_segmentation_model(c.cfg);
    const auto x = torch::randn(c.input);
    const auto y = model->forward(x);
    Shape expect{c.input[0], c.out_channels};
    expect.insert(expect.end(), c.input.begin() + 2, c.input.end());
    EXPECT_EQ(seg_shape_of(y), expect);
    const auto deep = model->forward_deep(x);
    ASSERT_EQ(deep.size(), c.deep_spatial.size());
    for (size_t i = 0; i < deep.size(); ++i) {
      Shape e{c.input[0], c.out_channels};
      e.insert(e.end(), c.deep_spatial[i].begin(), c.deep_spatial[i].end());
      EXPECT_EQ(seg_shape_of(deep[i]), e) << "level " << i;
    }
    EXPECT_TRUE(torch::allclose(deep[0], y));
  }
}

TEST(ModelsSegmentation, GradientsReachEveryParameter) {
  torch::manual_seed(1);
  for (const auto& c : seg_cases()) {
    SCOPED_TRACE(c.name);
    auto model = build_segmentation_model(c.cfg);
    model->train();
    torch::Tensor loss = torch::zeros({});
    for (const auto& y : model->forward_deep(torch::randn(c.input))) loss = loss + y.pow(2).mean();
    loss.backward();
    double total = 0;
    for (const auto& p : model->named_parameters()) {
      // The encoder's global pooling does not feed the segmentation output.
      if (p.key().rfind("encoder.embed.", 0) == 0) continue;
      ASSERT_TRUE(p.value().grad().defined()) << p.key();
      EXPECT_TRUE(torch::isfinite(p.value().grad()).all().item<bool>()) << p.key();
      total += p.value().grad().abs().sum().item<double>();
    }
    EXPECT_GT(total, 0.0);
  }
}

TEST(ModelsSegmentation, SaveLoadGivesIdenticalOutputs) {
  test::TempDir dir;
  torch::manual_seed(2);
  for (const auto& c : seg_cases()) {
    SCOPED_TRACE(c.name);
    auto a = build_segmentation_model(c.cfg);
    a->train();
    a->forward(torch::randn(c.input));  // moves BatchNorm running statistics away from 0/1
    a->eval();
    const auto x = torch::randn(c.input);
    const auto ya = a->forward(x);
    const auto path = (dir / (c.name + ".pt")).string();
    torch::save(a, path);
    auto b = build_segmentation_model(c.cfg);
    b->eval();
    EXPECT_FALSE(torch::equal(b->forward(x), ya));  // a fresh init differs...
    torch::load(b, path);
    EXPECT_TRUE(torch::equal(b->forward(x), ya));  // ...and the loaded one is identical
  }
}

TEST(ModelsGtgm, SubmodulesOutputsAndSaveLoad) {
  test::TempDir dir;
  torch::manual_seed(3);
  for (const std::string type : {"resnet3d", "resunet", "unet", "vit3d"}) {
    SCOPED_TRACE(type);
    auto cfg = base(type);
    auto model = build_gtgm_model(cfg);
    std::vector<std::string> names;
    for (const auto& ch : model->named_children()) names.push_back(ch.key());
    EXPECT_EQ(names, (std::vector<std::string>{"encoder", "vision_proj", "text_proj"}));
    const Shape in = {2, 1, 4, 8, 8};
    model->train();
    const auto out = model->forward(torch::randn(in), torch::randn(in), torch::randn({2, 5}));
    const int64_t e = model->encoder()->embed_dim();
    EXPECT_EQ(seg_shape_of(out.e1), (Shape{2, e}));
    EXPECT_EQ(seg_shape_of(out.e2), (Shape{2, e}));
    EXPECT_EQ(seg_shape_of(out.v1), (Shape{2, 4}));
    EXPECT_EQ(seg_shape_of(out.v2), (Shape{2, 4}));
    EXPECT_EQ(seg_shape_of(out.t), (Shape{2, 4}));
    (out.v1.sum() + out.v2.sum() + out.t.pow(2).sum() + out.e1.pow(2).sum()).backward();
    for (const auto& p : model->named_parameters()) {
      ASSERT_TRUE(p.value().grad().defined()) << p.key();
    }
    model->eval();
    const auto x = torch::randn(in);
    const auto t = torch::randn({2, 5});
    const auto ref = model->forward(x, x, t);
    const auto path = (dir / (type + ".pt")).string();
    torch::save(model, path);
    auto loaded = build_gtgm_model(cfg);
    torch::load(loaded, path);
    loaded->eval();
    const auto got = loaded->forward(x, x, t);
    EXPECT_TRUE(torch::equal(got.e1, ref.e1));
    EXPECT_TRUE(torch::equal(got.v1, ref.v1));
    EXPECT_TRUE(torch::equal(got.t, ref.t));
  }
}

TEST(ModelsGtgm, EncoderKeysAreSharedWithTheSegmentationModel) {
  auto cfg = base("resunet");
  auto pre = build_gtgm_model(cfg);
  auto seg = build_segmentation_model(cfg);
  std::vector<std::string> a, b;
  for (const auto& p : pre->named_parameters()) {
    if (p.key().rfind("encoder.", 0) == 0) a.push_back(p.key());
  }
  for (const auto& p : seg->named_parameters()) {
    if (p.key().rfind("encoder.", 0) == 0) b.push_back(p.key());
  }
  EXPECT_FALSE(a.empty());
  EXPECT_EQ(a, b);
  std::vector<std::string> names;
  for (const auto& ch : seg->named_children()) names.push_back(ch.key());
  EXPECT_EQ(names, (std::vector<std::string>{"encoder", "decoder", "head"}));
}

TEST(ModelsGtgm, ProjectionHeadNeedsTwoSamplesInTraining) {
  ProjectionHead head(8, 6, 4);
  head->train();
  EXPECT_THROW_MSG(head->forward(torch::zeros({1, 8})),
                   "projection head BatchNorm needs >= 2 samples per batch in training, got [1, 8]");
  head->eval();
  EXPECT_EQ(seg_shape_of(head->forward(torch::zeros({1, 8}))), (Shape{1, 4}));
  EXPECT_THROW_MSG(head->forward(torch::zeros({2, 7})), "projection head expects [B, 8], got [2, 7]");
}

TEST(ModelsSegmentation, ParameterCountsByHand) {
  // resunet encoder [2, 4], batch norm: 962 (see test_encoders.cpp). UNet decoder, one level:
  //   up: transposed conv 4 -> 2, kernel 2^3: 64 + bias 2 = 66
  //   block: double conv (2 + 2) -> 2: 216 + 4 + 108 + 4 = 332
  // head: 1^3 conv 2 -> 3 classes: 6 + 3 = 9
  auto c = base("resunet");
  c.encoder.norm = config::Norm::Batch;
  auto seg = build_segmentation_model(c);
  EXPECT_EQ(count_parameters(*seg->encoder()), 962);
  EXPECT_EQ(count_parameters(*seg->decoder()), 66 + 332);
  EXPECT_EQ(count_parameters(*seg->head()), 9);
  // interpolate + 1^3 conv 4 -> 2 (8 + 2) instead of the transposed conv
  c.upsample = config::Upsample::Interpolate;
  EXPECT_EQ(count_parameters(*build_segmentation_model(c)->decoder()), 10 + 332);
  // deep supervision adds nothing here (one decoder level); affinity: 3 outputs = 9 too
  const auto rows = parameter_breakdown(*seg);
  ASSERT_EQ(rows.size(), 4u);
  EXPECT_EQ(rows.back(), (std::pair<std::string, int64_t>{"total", 962 + 398 + 9}));
}

TEST(ModelsSegmentation, PadsInputSizesNotDivisibleByTheStrideAndCropsTheLogitsBack) {
  auto c = base("resunet");
  c.unet.stages = 3;
  c.unet.channels = {2, 2, 2};
  c.unet.strides = {"1", "1x2x2", "2"};
  c.deep_supervision = true;
  auto seg = build_segmentation_model(c);
  seg->eval();
  EXPECT_EQ(seg->size_divisor(), (Shape{2, 4, 4}));
  torch::manual_seed(3);
  const torch::Tensor x = torch::randn({1, 1, 3, 8, 10});
  torch::NoGradGuard no_grad;
  const torch::Tensor y = seg->forward(x);
  const int64_t k = c.num_classes;
  EXPECT_EQ(y.sizes(), (torch::IntArrayRef{1, k, 3, 8, 10}));
  // The same as running the zero-padded input and cropping by hand.
  const torch::Tensor padded = torch::constant_pad_nd(x, {0, 2, 0, 0, 0, 1}, 0.0);
  const torch::Tensor ref = seg->forward(padded).narrow(2, 0, 3).narrow(4, 0, 10);
  EXPECT_TRUE(torch::allclose(y, ref, 1e-6, 1e-6));
  // Deep supervision levels cover ceil(S / stride) (level 1: stride 1x2x2).
  const auto deep = seg->forward_deep(x);
  ASSERT_EQ(deep.size(), 2u);
  EXPECT_TRUE(torch::equal(deep[0], y));
  EXPECT_EQ(deep[1].sizes(), (torch::IntArrayRef{1, k, 3, 4, 5}));
  // The paper's resnet3d (stride 8x32x32) at an off-stride size like 24x224x224, scaled down.
  auto r = build_segmentation_model(base("resnet3d"));
  r->eval();
  EXPECT_EQ(r->size_divisor(), (Shape{8, 32, 32}));
  EXPECT_EQ(r->forward(torch::randn({1, 1, 20, 40, 36})).sizes(), (torch::IntArrayRef{1, k, 20, 40, 36}));
  auto v = build_segmentation_model(base("vit3d"));
  v->eval();
  EXPECT_EQ(v->forward(torch::randn({1, 1, 4, 8, 6})).sizes(), (torch::IntArrayRef{1, k, 4, 8, 6}));
  // Channels are still checked.
  EXPECT_THROW_MSG(seg->forward(torch::zeros({1, 3, 4, 8, 8})), "segmentation model (resunet) expects input [B, 1,");
}

TEST(ModelsSegmentation, DecoderChoiceErrors) {
  auto c = base("resnet3d");
  c.decoder = config::DecoderType::None;
  EXPECT_THROW_MSG(build_segmentation_model(c), "model.decoder is none: a segmentation model needs a decoder");
  c = base("vit3d");
  c.decoder = config::DecoderType::UNet;
  EXPECT_THROW_MSG(build_segmentation_model(c), "use decoder: unetr with vit3d");
  c = base("resunet");
  c.decoder = config::DecoderType::UNETR;
  EXPECT_THROW_MSG(build_segmentation_model(c), "model.decoder: unetr needs model.type: vit3d (got resunet)");
  c = base("resunet");
  c.decoder_channels = {4, 4, 4};
  EXPECT_THROW_MSG(build_segmentation_model(c),
                   "model.decoder_channels has 3 entries but the encoder has 1 skip levels");
}

TEST(ModelsSegmentation, ChannelsLastGivesTheSameOutputs) {
  torch::manual_seed(4);
  for (const auto& c : seg_cases()) {
    SCOPED_TRACE(c.name);
    auto model = build_segmentation_model(c.cfg);
    model->eval();
    const auto x = torch::randn(c.input);
    const auto ref = model->forward(x);
    to_channels_last(*model);
    const auto cl = to_channels_last(x);
    const auto fmt = c.input.size() == 5 ? at::MemoryFormat::ChannelsLast3d : at::MemoryFormat::ChannelsLast;
    EXPECT_TRUE(cl.is_contiguous(fmt));
    for (const auto& p : model->parameters()) {
      if (p.dim() == static_cast<int64_t>(c.input.size())) EXPECT_TRUE(p.is_contiguous(fmt));
    }
    const auto y = model->forward(cl);
    // Other conv kernels run in channels-last: equal up to float rounding (~1e-5 relative).
    EXPECT_TRUE(torch::allclose(y, ref, 1e-4, 1e-4))
        << (y - ref).abs().max().item<double>() << " of " << ref.abs().max().item<double>();
  }
}

TEST(ModelsFlops, ModelCountsScaleWithBatchAndMatchHandForAResUNet) {
  // resunet [2, 4] on [B, 1, 4, 4, 4], no embed:
  //   stem conv 1->2 at 64 voxels: 64*2*27 = 3456 MACs
  //   stage0: 2 convs 2->2 at 64: 2 * 64*2*2*27 = 13824
  //   stage1 (8 voxels): conv 2->4: 8*4*2*27 = 1728, conv 4->4: 8*4*4*27 = 3456, skip 2->4: 8*4*2 = 64
  //   -> 22528 MACs = 45056 FLOPs per sample
  auto c = base("resunet");
  auto enc = build_encoder(c);
  enc->train();
  EXPECT_EQ(count_flops(*enc, {1, 1, 4, 4, 4}).total, 45056);
  EXPECT_EQ(count_flops(*enc, {3, 1, 4, 4, 4}).total, 3 * 45056);
  EXPECT_TRUE(enc->is_training());  // mode restored
  // decoder: up transposed 4->2 k8 on 8 voxels: 8*4*2*8 = 512; block conv 4->2 at 64: 64*2*4*27 =
  // 13824, conv 2->2: 6912; head 2->3 at 64: 384 -> 21632 MACs
  auto seg = build_segmentation_model(c);
  const auto f = count_flops(*seg, {2, 1, 4, 4, 4});
  EXPECT_EQ(f.total, 2 * 2 * (22528 + 21632));
  EXPECT_EQ(f.by_kind.at("conv_transpose"), 2 * 2 * 512);
  // pretraining: 2 views (encoder + vision_proj 4->6->4) + text_proj 5->6->4, per sample:
  //   2 * (22528 + 24 + 24) + (30 + 24) = 45206 MACs
  auto g = build_gtgm_model(c);
  EXPECT_EQ(count_flops(*g, {2, 1, 4, 4, 4}).total, 2 * 2 * 45206);
  // attention matmuls are counted for vit3d: 2 layers, 3 heads, 8 tokens, head dim 4:
  //   per layer 2 * 3 * 8 * 8 * 4 = 1536 MACs
  auto vit = build_encoder(base("vit3d"));
  EXPECT_EQ(count_flops(*vit, {1, 1, 4, 8, 8}).by_kind.at("attention"), 2 * 2 * 1536);
}

}  // namespace
}  // namespace gtgm::models
