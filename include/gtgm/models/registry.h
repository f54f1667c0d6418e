#pragma once
/// Builds models from `model:` config: `type:` picks the encoder factory, `decoder:` the decoder,
/// `head:` the output head. Including this header gives every model class.
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "gtgm/config/model_config.h"
#include "gtgm/models/gtgm_model.h"
#include "gtgm/models/resnet3d.h"
#include "gtgm/models/resunet.h"
#include "gtgm/models/resunet_decoder.h"
#include "gtgm/models/swin3d.h"
#include "gtgm/models/swin_decoder.h"
#include "gtgm/models/vit3d.h"

namespace gtgm::models {

/// Builds the image encoder named by cfg.type ("resnet3d", "resunet", "unet", "vit3d", "swin3d"). Checks the
/// model section first (config::model_config_problems); an unknown type throws a ConfigError
/// listing the valid names.
std::shared_ptr<EncoderImpl> build_encoder(const config::ModelConfig& cfg);
/// The registered encoder type names, sorted.
std::vector<std::string> encoder_types();

/// The decoder named by cfg.decoder for `encoder` ("auto": unetr for vit3d, swin_unetr for swin3d, unet otherwise;
/// "resunet": the reference's ResUNet decoder, resnet3d only; "none" throws: segmentation needs a decoder).
std::shared_ptr<DecoderImpl> build_decoder(const config::ModelConfig& cfg, const EncoderImpl& encoder);

/// Pretraining model: encoder + vision_proj (embed_dim -> proj_hidden -> proj_dim) + text_proj
/// (text_embed_dim -> proj_hidden -> proj_dim).
GtgmModel build_gtgm_model(const config::ModelConfig& cfg);
/// Segmentation model: encoder + decoder + head (num_classes logits, or one affinity per axis
/// with `head: affinity`; deep-supervision convs with `deep_supervision: true`).
SegmentationModel build_segmentation_model(const config::ModelConfig& cfg);

/// Trainable parameter count of a module (parameters only, no buffers).
int64_t count_parameters(const torch::nn::Module& module);
/// (child name, parameter count) for each direct submodule, then ("total", count).
std::vector<std::pair<std::string, int64_t>> parameter_breakdown(const torch::nn::Module& module);
/// The text `gtgm info --model CONFIG` prints: encoder type and feature shapes, parameters of the
/// pretraining model and (when cfg.decoder != none) of the segmentation model, per submodule.
/// With `input_size` (spatial sizes, e.g. data.crop_size [D, H, W]) each feature line also gives
/// its size for that input (sizes round up at each stride).
std::string describe_models(const config::ModelConfig& cfg, const std::vector<int>& input_size = {});

}  // namespace gtgm::models
