#include "gtgm/core/seed.h"

#include <torch/torch.h>

namespace gtgm::core {
namespace {
uint64_t splitmix64(uint64_t x) {
  x += 0x9e3779b97f4a7c15ULL;
  x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ULL;
  x = (x ^ (x >> 27)) * 0x94d049bb133111ebULL;
  return x ^ (x >> 31);
}
}  // namespace

uint64_t derive_seed(uint64_t seed, std::initializer_list<uint64_t> ids) {
  uint64_t h = splitmix64(seed);
  for (uint64_t id : ids) h = splitmix64(h ^ splitmix64(id + 0x632be59bd9b4e019ULL));
  return h;
}

std::mt19937_64& global_engine() {
  static std::mt19937_64 engine(0);
  return engine;
}

void seed_everything(uint64_t seed) {
  // torch::manual_seed seeds the CPU generator and, when GPUs are visible, every CUDA generator.
  torch::manual_seed(seed);
  global_engine().seed(derive_seed(seed, {0x5eed}));
}

}  // namespace gtgm::core
