#include <gtest/gtest.h>

#include <set>

#include "gtgm/config/enum_names.h"
#include "gtgm/config/load.h"
#include "test_util.h"

namespace gtgm {
namespace {

// Every value of a names table has one spelling, and every spelling parses back to its value.
template <class E>
void expect_table_round_trips() {
  std::set<std::string> seen;
  for (const auto& [value, name] : config::EnumNames<E>::items) {
    EXPECT_TRUE(seen.insert(name).second) << "spelling '" << name << "' listed twice";
    EXPECT_EQ(config::to_string(value), name);
    const auto parsed = config::parse_enum<E>(name);
    ASSERT_TRUE(parsed.has_value()) << name;
    EXPECT_EQ(*parsed, value) << name;
  }
  EXPECT_FALSE(config::parse_enum<E>("no-such-value").has_value());
}

}  // namespace

TEST(ConfigTyped, NamesTablesRoundTrip) {
  expect_table_round_trips<config::EncoderType>();
  expect_table_round_trips<config::Norm>();
  expect_table_round_trips<config::Activation>();
  expect_table_round_trips<config::DecoderType>();
  expect_table_round_trips<config::HeadType>();
  expect_table_round_trips<config::FinetuneTask>();
  expect_table_round_trips<config::ViewTerm>();
  expect_table_round_trips<config::Schedule>();
  expect_table_round_trips<config::DistBackend>();
  expect_table_round_trips<config::Blend>();
  expect_table_round_trips<config::DataFormat>();
  expect_table_round_trips<config::Modality>();
  expect_table_round_trips<config::Orientation>();
  expect_table_round_trips<config::Compression>();
  expect_table_round_trips<config::Pooling>();
  expect_table_round_trips<config::AutoBool>();
  expect_table_round_trips<core::PrecisionRequest>();
  EXPECT_EQ(config::enum_spellings<config::Schedule>(),
            (std::vector<std::string>{"cosine_restarts", "cosine", "poly", "constant"}));
  EXPECT_EQ(config::one_of<config::EncoderType>().describe(), "one of: resnet3d, resunet, unet, vit3d, swin3d");
  EXPECT_FALSE(config::parse_enum<config::Modality>("ct").has_value());  // spellings are case-sensitive
}

TEST(ConfigTyped, EnumFieldsReadFromYamlAndSet) {
  const config::Config c = config::load_config_string(
      "model: {type: vit3d, decoder: unetr, norm: instance}\ntext: {lower_case: 'false'}\n", "cfg.yaml",
      {"optim.schedule=poly", "data.modality=EM", "run.precision=bf16", "data.preprocess.orientation=none"});
  EXPECT_EQ(c.model.type, config::EncoderType::ViT3d);
  EXPECT_EQ(c.model.decoder, config::DecoderType::UNETR);
  EXPECT_EQ(c.model.encoder.norm, config::Norm::Instance);
  EXPECT_EQ(c.text.lower_case, config::AutoBool::False);
  EXPECT_EQ(c.optim.schedule, config::Schedule::Poly);
  EXPECT_EQ(c.data.modality, config::Modality::EM);
  EXPECT_EQ(c.run.precision, core::PrecisionRequest::BF16);
  EXPECT_EQ(c.data.preprocess.orientation, config::Orientation::None);
  EXPECT_EQ(c.model.encoder.activation, config::Activation::ReLU);  // default kept
}

TEST(ConfigTyped, EnumFieldsWriteFlattenAndDiffAsSpellings) {
  config::Config a = config::default_config();
  config::Config b = a;
  b.optim.schedule = config::Schedule::Cosine;
  b.text.strip_accents = config::AutoBool::True;
  const auto d = config::diff(a, b);
  ASSERT_EQ(d.size(), 2u);
  EXPECT_EQ(d[0].rfind("text.strip_accents: auto -> ", 0), 0u) << d[0];
  EXPECT_EQ(d[1], "optim.schedule: cosine_restarts -> cosine");
  const std::string yaml = config::to_yaml(b);
  EXPECT_NE(yaml.find("schedule: cosine\n"), std::string::npos) << yaml;
  EXPECT_NE(yaml.find("strip_accents: \"true\""), std::string::npos) << yaml;  // quoted: YAML would read a bool
  EXPECT_EQ(config::load_config_string(yaml), b);
  bool found = false;
  for (const auto& [key, value] : config::flatten(b)) {
    if (key == "model.type") {
      EXPECT_EQ(value, "resnet3d");
      found = true;
    }
  }
  EXPECT_TRUE(found);
}

TEST(ConfigTyped, UnknownSpellingIsRejectedAtTheBoundary) {
  try {
    config::load_config_string("", "cfg.yaml", {"model.type=swin"});
    ADD_FAILURE() << "no error";
  } catch (const ConfigError& e) {
    EXPECT_EQ(e.message(),
              "--set model.type=swin: model.type: 'swin' is not valid; expected one of: resnet3d, resunet, unet, "
              "vit3d, swin3d");
  }
}

}  // namespace gtgm
