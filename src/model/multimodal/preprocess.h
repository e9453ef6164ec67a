// Media preprocessing exactly as the HF Gemma 4 processors (spec MODEL.md 2.2 and 3):
// images -> aspect-preserving size (floor to multiples of 48, small images upscaled), bicubic
// antialiased resize, /255, 48x48 patches flattened HWC in row-major order with (x, y)
// positions; audio -> 16 kHz mono frames of 640 samples, the tail zero-padded.
#pragma once

#include <cstdint>
#include <vector>

#include "io/image.h"
#include "util/status.h"

namespace gemma12b {

constexpr int kPatchPixels = 48;
constexpr int kPatchDim = kPatchPixels * kPatchPixels * 3;  // 6912
constexpr int kAudioFrame = 640;                            // 40 ms at 16 kHz
constexpr int kAudioSampleRate = 16000;

// The soft-token budgets the model was trained with.
bool valid_image_budget(int budget);  // 70, 140, 280, 560, 1120

// Target (width, height) for an image under `budget` soft tokens (multiples of 48).
StatusOr<std::pair<int, int>> image_target_size(int width, int height, int budget);

// Bicubic (a = -0.5) resize with antialiasing when downscaling (torchvision's
// antialias=True), rounding to 8 bits like a uint8 tensor. Rows are split between `threads`
// threads (started for the call; the same bytes for any count): 1920x1344 -> 960x672 takes ~30
// ms on one Zen 5 core.
RgbImage resize_bicubic_aa(const RgbImage& in, int out_width, int out_height, int threads = 1);

struct ImagePatches {
  int64_t n = 0;                 // soft tokens = (W/48) * (H/48)
  int grid_w = 0, grid_h = 0;
  std::vector<float> pixels;     // [n, 6912] in [0, 1], HWC within each patch
  std::vector<int32_t> pos_x, pos_y;  // [n]
};

// Resizes (when needed, with `threads` threads) and patchifies `image` for `budget` soft tokens.
StatusOr<ImagePatches> image_to_patches(const RgbImage& image, int budget, int threads = 1);

// Frames [n, 640] of 16 kHz mono audio (n = ceil(samples / 640), tail zero-padded).
StatusOr<std::vector<float>> audio_to_frames(const std::vector<float>& samples_16k, int64_t* n_frames);

}  // namespace gemma12b
