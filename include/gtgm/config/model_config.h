#pragma once
#include <string>
#include <vector>

#include "gtgm/config/schema.h"

namespace gtgm::config {

/// `model:` image encoder, decoder and projection heads; `type:` picks a registry factory.
struct ModelConfig {
  std::string type = "resnet3d";
  int depth = 50;
  int in_channels = 1;
  int base_channels = 64;
  std::string norm = "batch";
  int embed_dim = 2048;
  int proj_hidden = 2048;
  int proj_dim = 512;
  std::string decoder = "unet";
  int num_classes = 2;
  bool deep_supervision = false;

  template <class V>
  void visit(V& v) {
    v.field("type", type, "Image encoder.", one_of({"resnet3d", "resunet", "unet", "vit3d"}));
    v.field("depth", depth, "ResNet depth (18, 34, 50) or transformer depth for vit3d.", ge(1));
    v.field("in_channels", in_channels, "Input channels (4 for BrainTumour's multi-modal MRI).", ge(1));
    v.field("base_channels", base_channels, "Channels of the first stage.", ge(1));
    v.field("norm", norm, "Normalisation layers.", one_of({"batch", "instance", "group"}));
    v.field("embed_dim", embed_dim, "Pooled image embedding size E (paper: 2048).", ge(1));
    v.field("proj_hidden", proj_hidden, "Projection MLP hidden size (paper: 2048).", ge(1));
    v.field("proj_dim", proj_dim, "Shared image-text projection size (paper: 512).", ge(1));
    v.field("decoder", decoder, "Segmentation decoder.", one_of({"unet", "unetr", "none"}));
    v.field("num_classes", num_classes, "Segmentation classes including background.", ge(1));
    v.field("deep_supervision", deep_supervision, "Extra outputs at lower decoder scales.");
  }
};

}  // namespace gtgm::config
