// Band-limited sample-rate conversion of mono audio (libsamplerate's best sinc converter, from
// Debian's libsamplerate0-dev): the audio path needs 16 kHz.
#pragma once

#include <vector>

#include "util/status.h"

namespace gemma12b {

StatusOr<std::vector<float>> resample_mono(const std::vector<float>& in, int from_rate, int to_rate);

}  // namespace gemma12b
