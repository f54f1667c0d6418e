#pragma once
/// Seeding: one seed drives every RNG (torch CPU/CUDA, std engines); streams for samplers and
/// workers are derived deterministically from (seed, stream ids...).
#include <cstdint>
#include <initializer_list>
#include <random>

namespace gtgm::core {

/// Seeds torch's CPU and CUDA generators and the process-wide std engine from `seed`.
void seed_everything(uint64_t seed);

/// A 64-bit hash of (seed, ids...) with splitmix64 mixing: the seed of an independent stream,
/// e.g. derive_seed(seed, {epoch, rank, worker, index}). Same inputs -> same output everywhere.
uint64_t derive_seed(uint64_t seed, std::initializer_list<uint64_t> ids);

/// A std engine for one stream.
inline std::mt19937_64 make_engine(uint64_t seed, std::initializer_list<uint64_t> ids) {
  return std::mt19937_64(derive_seed(seed, ids));
}

/// The engine seeded by seed_everything (for code without its own stream).
std::mt19937_64& global_engine();

}  // namespace gtgm::core
