#include "model/multimodal/preprocess.h"

#include <algorithm>
#include <cmath>
#include <system_error>
#include <thread>
#include <vector>

namespace gemma12b {

bool valid_image_budget(int b) { return b == 70 || b == 140 || b == 280 || b == 560 || b == 1120; }

StatusOr<std::pair<int, int>> image_target_size(int width, int height, int budget) {
  if (!valid_image_budget(budget)) return InvalidArgument("image token budget %d is not one of 70, 140, 280, 560, 1120", budget);
  if (width <= 0 || height <= 0) return InvalidArgument("image of %dx%d pixels", width, height);
  // factor = sqrt(max_patches * 16^2 / (H * W)), max_patches = budget * 9 (16-px patches).
  const double max_patches = budget * 9.0;
  const double factor = std::sqrt(max_patches * 256.0 / (static_cast<double>(height) * width));
  int64_t th = static_cast<int64_t>(std::floor(factor * height / kPatchPixels)) * kPatchPixels;
  int64_t tw = static_cast<int64_t>(std::floor(factor * width / kPatchPixels)) * kPatchPixels;
  const int64_t max_side = static_cast<int64_t>(max_patches / 9) * kPatchPixels;
  if (th == 0 && tw == 0) return InvalidArgument("image of %dx%d pixels cannot be resized for %d tokens", width, height, budget);
  if (th == 0) {
    th = kPatchPixels;
    tw = std::min<int64_t>(static_cast<int64_t>(width / height) * kPatchPixels, max_side);
  } else if (tw == 0) {
    tw = kPatchPixels;
    th = std::min<int64_t>(static_cast<int64_t>(height / width) * kPatchPixels, max_side);
  }
  return std::pair<int, int>(static_cast<int>(tw), static_cast<int>(th));
}

namespace {

double cubic(double x) {
  constexpr double a = -0.5;
  x = std::fabs(x);
  if (x < 1.0) return ((a + 2.0) * x - (a + 3.0)) * x * x + 1.0;
  if (x < 2.0) return (((x - 5.0) * x + 8.0) * x - 4.0) * a;
  return 0.0;
}

// Per output index: first input index and normalised weights (separable, antialiased).
struct Taps {
  std::vector<int> first;
  std::vector<std::vector<double>> w;
};

Taps make_taps(int in, int out) {
  Taps t;
  const double scale = static_cast<double>(in) / out;
  const double support = 2.0 * std::max(scale, 1.0);
  const double inv = 1.0 / std::max(scale, 1.0);
  for (int i = 0; i < out; ++i) {
    const double center = scale * (i + 0.5);
    const int lo = std::max(static_cast<int>(center - support + 0.5), 0);
    const int hi = std::min(static_cast<int>(center + support + 0.5), in);
    std::vector<double> w;
    double sum = 0.0;
    for (int j = lo; j < hi; ++j) {
      w.push_back(cubic((j - center + 0.5) * inv));
      sum += w.back();
    }
    for (double& x : w) x = sum != 0.0 ? x / sum : 0.0;
    t.first.push_back(lo);
    t.w.push_back(std::move(w));
  }
  return t;
}

}  // namespace

namespace {

// fn(begin, end) over [0, n) in `threads` contiguous parts, the calling thread taking the first.
// Each output row is computed the same way whatever the split, so the result does not depend on
// the thread count.
template <class F>
void split_rows(int n, int threads, const F& fn) {
  threads = std::clamp(threads, 1, std::max(1, n / 16));  // at least 16 rows a part
  std::vector<std::thread> extra;
  int t = 1;
  try {
    for (; t < threads; ++t) extra.emplace_back([&, t] { fn(n * t / threads, n * (t + 1) / threads); });
  } catch (const std::system_error&) {
    // No thread to be had: the parts not handed out run here.
  }
  fn(0, n / threads);
  for (; t < threads; ++t) fn(n * t / threads, n * (t + 1) / threads);
  for (std::thread& th : extra) th.join();
}

}  // namespace

RgbImage resize_bicubic_aa(const RgbImage& in, int ow, int oh, int threads) {
  // Horizontal pass, then vertical pass, each rounded and clipped to 8 bits: the intermediate is
  // an 8-bit image in PIL's ImagingResample and torchvision's uint8 antialias kernel (a float
  // intermediate would carry bicubic overshoot at hard edges into the second pass).
  const Taps tx = make_taps(in.width, ow), ty = make_taps(in.height, oh);
  // Both passes sum each output's taps in ascending order (the order the reference's loops use),
  // but walk memory contiguously: the horizontal pass over one input row converted to double once,
  // the vertical pass over whole rows of the intermediate (a loop the compiler vectorises).
  const size_t in_row = static_cast<size_t>(in.width) * 3, mid_row = static_cast<size_t>(ow) * 3;
  std::vector<float> tmp(static_cast<size_t>(in.height) * mid_row);
  split_rows(in.height, threads, [&](int y0, int y1) {
    std::vector<double> row(in_row);
    for (int y = y0; y < y1; ++y) {
      const uint8_t* src = &in.pixels[y * in_row];
      for (size_t i = 0; i < in_row; ++i) row[i] = src[i];
      float* dst = &tmp[y * mid_row];
      for (int x = 0; x < ow; ++x) {
        const double* w = tx.w[x].data();
        const double* p = &row[static_cast<size_t>(tx.first[x]) * 3];
        double a0 = 0.0, a1 = 0.0, a2 = 0.0;
        for (size_t k = 0; k < tx.w[x].size(); ++k) {
          a0 += w[k] * p[3 * k];
          a1 += w[k] * p[3 * k + 1];
          a2 += w[k] * p[3 * k + 2];
        }
        dst[3 * x] = static_cast<float>(std::clamp(std::floor(a0 + 0.5), 0.0, 255.0));
        dst[3 * x + 1] = static_cast<float>(std::clamp(std::floor(a1 + 0.5), 0.0, 255.0));
        dst[3 * x + 2] = static_cast<float>(std::clamp(std::floor(a2 + 0.5), 0.0, 255.0));
      }
    }
  });
  RgbImage out;
  out.width = ow;
  out.height = oh;
  out.pixels.resize(static_cast<size_t>(oh) * mid_row);
  split_rows(oh, threads, [&](int y0, int y1) {
    std::vector<double> acc(mid_row);
    for (int y = y0; y < y1; ++y) {
      std::fill(acc.begin(), acc.end(), 0.0);
      for (size_t k = 0; k < ty.w[y].size(); ++k) {
        const double w = ty.w[y][k];
        const float* src = &tmp[(ty.first[y] + k) * mid_row];
        for (size_t i = 0; i < mid_row; ++i) acc[i] += w * src[i];
      }
      uint8_t* dst = &out.pixels[y * mid_row];
      for (size_t i = 0; i < mid_row; ++i) {
        dst[i] = static_cast<uint8_t>(std::clamp(std::nearbyint(acc[i]), 0.0, 255.0));
      }
    }
  });
  return out;
}

StatusOr<ImagePatches> image_to_patches(const RgbImage& image, int budget, int threads) {
  if (image.width <= 0 || image.height <= 0) {
    return InvalidArgument("image is empty (%dx%d pixels)", image.width, image.height);
  }
  if (image.pixels.size() != static_cast<size_t>(image.width) * image.height * 3) {
    return InvalidArgument("image buffer of %d bytes does not match its %dx%d size", image.pixels.size(), image.width,
                           image.height);
  }
  G12_ASSIGN_OR_RETURN(auto size, image_target_size(image.width, image.height, budget));
  const RgbImage resized = (size.first == image.width && size.second == image.height)
                               ? image
                               : resize_bicubic_aa(image, size.first, size.second, threads);
  ImagePatches p;
  p.grid_w = resized.width / kPatchPixels;
  p.grid_h = resized.height / kPatchPixels;
  p.n = static_cast<int64_t>(p.grid_w) * p.grid_h;
  p.pixels.resize(p.n * kPatchDim);
  for (int gy = 0; gy < p.grid_h; ++gy) {
    for (int gx = 0; gx < p.grid_w; ++gx) {
      float* dst = &p.pixels[(static_cast<size_t>(gy) * p.grid_w + gx) * kPatchDim];
      for (int r = 0; r < kPatchPixels; ++r) {
        const uint8_t* src = &resized.pixels[((static_cast<size_t>(gy) * kPatchPixels + r) * resized.width + gx * kPatchPixels) * 3];
        for (int i = 0; i < kPatchPixels * 3; ++i) dst[r * kPatchPixels * 3 + i] = src[i] / 255.0f;
      }
      p.pos_x.push_back(gx);
      p.pos_y.push_back(gy);
    }
  }
  return p;
}

StatusOr<std::vector<float>> audio_to_frames(const std::vector<float>& samples, int64_t* n_frames) {
  if (samples.empty()) return InvalidArgument("the audio is empty");
  const int64_t n = (static_cast<int64_t>(samples.size()) + kAudioFrame - 1) / kAudioFrame;
  std::vector<float> frames(n * kAudioFrame, 0.0f);
  std::copy(samples.begin(), samples.end(), frames.begin());
  *n_frames = n;
  return frames;
}

}  // namespace gemma12b
