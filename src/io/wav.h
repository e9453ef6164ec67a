// WAV (RIFF) decoding to mono float samples: PCM 8/16/24/32-bit and IEEE float 32/64, any
// channel count (averaged to mono). Samples are scaled as the references do: PCM16 / 32768.
// probe_wav_memory reads only the header, so callers can refuse long audio before decoding it.
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

// What a WAV header says, checked against the bytes present.
struct WavInfo {
  int sample_rate = 0;
  int channels = 0;
  int64_t frames = 0;      // whole frames present in the file (what decode_wav_* returns)
  bool truncated = false;  // the data chunk declares more bytes than the file holds (a
                           // streaming writer's 0 or 0xFFFFFFFF placeholder does not count)
};

// Errors as decode_wav_memory's (not a WAV, unsupported format, empty audio), without decoding.
StatusOr<WavInfo> probe_wav_memory(const uint8_t* data, size_t size, const std::string& name = "<memory>");

// A header that overstates the data length is tolerated: the samples present are returned.
StatusOr<MonoAudio> decode_wav_file(const std::string& path);
StatusOr<MonoAudio> decode_wav_memory(const uint8_t* data, size_t size, const std::string& name = "<memory>");

}  // namespace gemma12b
