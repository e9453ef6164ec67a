#include "io/resample.h"

#include <samplerate.h>

#include <cmath>

namespace gemma12b {

StatusOr<std::vector<float>> resample_mono(const std::vector<float>& in, int from_rate, int to_rate) {
  if (from_rate <= 0 || to_rate <= 0) return InvalidArgument("sample rates must be positive (%d -> %d)", from_rate, to_rate);
  if (in.empty()) return InvalidArgument("the audio is empty");
  if (from_rate == to_rate) return in;
  const double ratio = static_cast<double>(to_rate) / from_rate;
  if (ratio < 1.0 / 256 || ratio > 256) return InvalidArgument("cannot resample %d Hz to %d Hz", from_rate, to_rate);
  std::vector<float> out(static_cast<size_t>(std::ceil(in.size() * ratio)) + 16);
  SRC_DATA d{};
  d.data_in = in.data();
  d.input_frames = static_cast<long>(in.size());
  d.data_out = out.data();
  d.output_frames = static_cast<long>(out.size());
  d.src_ratio = ratio;
  d.end_of_input = 1;
  if (const int err = src_simple(&d, SRC_SINC_BEST_QUALITY, 1); err != 0) {
    return Internal("resampling %d Hz to %d Hz failed: %s", from_rate, to_rate, src_strerror(err));
  }
  out.resize(d.output_frames_gen);
  return out;
}

}  // namespace gemma12b
