#include "gtgm/data/samplers.h"

#include <algorithm>
#include <cmath>
#include <cstring>

#include "gtgm/core/error.h"

namespace gtgm::data {

namespace {

template <class S, class D>
void copy_rows(const S* src, const Index3& shape, int64_t channels, int64_t c_offset, const Index3& start,
               const Index3& size, D pad, D* dst) {
  const int64_t sd = shape[0], sh = shape[1], sw = shape[2];
  const int64_t w0 = std::max<int64_t>(start[2], 0), w1 = std::min<int64_t>(start[2] + size[2], sw);
  for (int64_t c = 0; c < channels; ++c) {
    const S* src_c = src + (c + c_offset) * sd * sh * sw;
    for (int64_t z = 0; z < size[0]; ++z) {
      const int64_t sz = start[0] + z;
      for (int64_t y = 0; y < size[1]; ++y) {
        const int64_t sy = start[1] + y;
        D* row = dst + ((c * size[0] + z) * size[1] + y) * size[2];
        if (sz < 0 || sz >= sd || sy < 0 || sy >= sh || w0 >= w1) {
          std::fill(row, row + size[2], pad);
          continue;
        }
        const S* srow = src_c + (sz * sh + sy) * sw;
        const int64_t lead = w0 - start[2];
        std::fill(row, row + lead, pad);
        if constexpr (std::is_same_v<S, D>) {
          std::memcpy(row + lead, srow + w0, static_cast<size_t>(w1 - w0) * sizeof(D));
        } else {
          for (int64_t x = w0; x < w1; ++x) {
            if constexpr (std::is_same_v<S, at::Half>)
              row[lead + x - w0] = static_cast<D>(static_cast<float>(srow[x]));
            else
              row[lead + x - w0] = static_cast<D>(srow[x]);
          }
        }
        std::fill(row + lead + (w1 - w0), row + size[2], pad);
      }
    }
  }
}

template <class D>
void copy_any(const torch::Tensor& src, const Index3& shape, int64_t channels, int64_t c_offset, const Index3& start,
              const Index3& size, D pad, D* dst) {
  switch (src.scalar_type()) {
    case torch::kFloat:
      copy_rows(src.data_ptr<float>(), shape, channels, c_offset, start, size, pad, dst);
      break;
    case torch::kHalf:
      copy_rows(src.data_ptr<at::Half>(), shape, channels, c_offset, start, size, pad, dst);
      break;
    case torch::kUInt8:
      copy_rows(src.data_ptr<uint8_t>(), shape, channels, c_offset, start, size, pad, dst);
      break;
    case torch::kShort:
      copy_rows(src.data_ptr<int16_t>(), shape, channels, c_offset, start, size, pad, dst);
      break;
    case torch::kInt:
      copy_rows(src.data_ptr<int32_t>(), shape, channels, c_offset, start, size, pad, dst);
      break;
    case torch::kLong:
      copy_rows(src.data_ptr<int64_t>(), shape, channels, c_offset, start, size, pad, dst);
      break;
    default:
      GTGM_THROW("copy_crop: unsupported source dtype {}", src.scalar_type());
  }
}

}  // namespace

Index3 random_crop_start(const Index3& shape, const Index3& size, Rng& rng) {
  Index3 s{};
  for (int a = 0; a < 3; ++a) {
    s[a] = shape[a] >= size[a] ? rng.randint(0, shape[a] - size[a]) : -((size[a] - shape[a]) / 2);
  }
  return s;
}

ViewPair sample_view_pair(const Index3& shape, const Index3& size, double max_shift, Rng& rng) {
  ViewPair p;
  p.start1 = random_crop_start(shape, size, rng);
  for (int a = 0; a < 3; ++a) {
    const auto m = static_cast<int64_t>(std::floor(max_shift * static_cast<double>(size[a])));
    int64_t s = p.start1[a] + rng.randint(-m, m);
    if (shape[a] >= size[a])
      s = std::clamp<int64_t>(s, 0, shape[a] - size[a]);
    else
      s = p.start1[a];
    p.start2[a] = s;
    p.centre[a] = 0.5 * static_cast<double>(p.start1[a] + p.start2[a]) + 0.5 * static_cast<double>(size[a] - 1);
  }
  return p;
}

Index3 crop_start_around(const Index3& shape, const Index3& size, const Index3& location, Rng& rng) {
  Index3 s{};
  for (int a = 0; a < 3; ++a) {
    if (shape[a] <= size[a]) {
      s[a] = -((size[a] - shape[a]) / 2);
      continue;
    }
    const int64_t lo = std::max<int64_t>(0, location[a] - size[a] + 1);
    const int64_t hi = std::min<int64_t>(shape[a] - size[a], location[a]);
    s[a] = lo <= hi ? rng.randint(lo, hi) : std::clamp<int64_t>(location[a] - size[a] / 2, 0, shape[a] - size[a]);
  }
  return s;
}

void copy_crop(const torch::Tensor& src, const Index3& start, const Index3& size, double pad, torch::Tensor dst,
               int64_t channel) {
  GTGM_CHECK(src.dim() == 4 && src.is_contiguous() && src.device().is_cpu(),
             "copy_crop: source must be a contiguous CPU tensor [C, D, H, W], got {}", src.sizes());
  const int64_t channels = channel >= 0 ? 1 : src.size(0);
  GTGM_CHECK(channel < src.size(0), "copy_crop: channel {} of a {}-channel array", channel, src.size(0));
  GTGM_CHECK(dst.is_contiguous() && dst.dim() == 4 && dst.size(0) == channels && dst.size(1) == size[0] &&
                 dst.size(2) == size[1] && dst.size(3) == size[2],
             "copy_crop: destination must be contiguous [{}, {}, {}, {}], got {}", channels, size[0], size[1], size[2],
             dst.sizes());
  const Index3 shape{src.size(1), src.size(2), src.size(3)};
  const int64_t c0 = std::max<int64_t>(channel, 0);
  if (dst.scalar_type() == torch::kFloat) {
    copy_any(src, shape, channels, c0, start, size, static_cast<float>(pad), dst.data_ptr<float>());
  } else if (dst.scalar_type() == torch::kLong) {
    copy_any(src, shape, channels, c0, start, size, static_cast<int64_t>(pad), dst.data_ptr<int64_t>());
  } else {
    GTGM_THROW("copy_crop: destination dtype must be float32 or int64, got {}", dst.scalar_type());
  }
}

}  // namespace gtgm::data
