// WAV (RIFF) decoding to mono float samples: PCM 8/16/24/32-bit and IEEE float 32/64, any
// channel count (averaged to mono). Samples are scaled as the references do: PCM16 / 32768.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "util/status.h"

namespace gemma12b {

struct MonoAudio {
  int sample_rate = 0;
  std::vector<float> samples;
};

StatusOr<MonoAudio> decode_wav_file(const std::string& path);
StatusOr<MonoAudio> decode_wav_memory(const uint8_t* data, size_t size, const std::string& name = "<memory>");

}  // namespace gemma12b
