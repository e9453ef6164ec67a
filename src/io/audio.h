// Audio files to mono float samples: WAV through our own reader (wav.h; formats it does not
// handle, such as mu-law or ADPCM, fall through to libsndfile), and FLAC, MP3, Ogg Vorbis / Opus,
// AIFF and the rest of Debian's libsndfile (1.2 reads MP3 through mpg123). Channels are averaged
// to mono; integer samples are scaled as the references do (PCM16 / 32768).
//
// Length limit: with max_seconds > 0, longer audio is refused with InvalidArgument
// ("<name>: audio is 7200.0 s; the limit is 30 s (set max_audio_seconds to raise it)"). The
// declared length is checked before any sample is decoded, and decoding stops as soon as the
// limit is passed, so a long file costs no more memory than the limit. Empty audio (0 samples)
// and truncated files are errors (DataLoss); a WAV header's streaming placeholder lengths (0 or
// 0xFFFFFFFF) are not truncation.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "io/wav.h"  // MonoAudio
#include "util/status.h"

namespace gemma12b {

// Google's audio guide: 30 s is the supported length (750 soft tokens of 40 ms; spec 3).
constexpr double kDefaultMaxAudioSeconds = 30.0;
// Absolute refusal (mono frames), whatever max_seconds says: 2^28 floats is 1 GiB, 4.6 hours at
// 16 kHz, 1.5 hours at 48 kHz.
constexpr int64_t kMaxAudioFrames = int64_t{1} << 28;

// max_seconds <= 0: no limit but kMaxAudioFrames.
StatusOr<MonoAudio> decode_audio_file(const std::string& path, double max_seconds = 0.0);
StatusOr<MonoAudio> decode_audio_memory(const uint8_t* data, size_t size,
                                        const std::string& name = "<memory>", double max_seconds = 0.0);

// The model's audio input: decode, then resample to 16 kHz (libsamplerate, resample.h).
StatusOr<std::vector<float>> load_audio_16k_mono(const std::string& path,
                                                 double max_seconds = kDefaultMaxAudioSeconds);
// The same for audio already decoded (the length limit is checked again here).
StatusOr<std::vector<float>> audio_to_16k_mono(const MonoAudio& audio, const std::string& name = "<memory>",
                                               double max_seconds = kDefaultMaxAudioSeconds);

// The length check above, for other decoders (video.cpp): OK when frames / sample_rate is within
// max_seconds (or max_seconds <= 0) and within kMaxAudioFrames.
Status check_audio_length(int64_t frames, int sample_rate, double max_seconds, const std::string& name);

}  // namespace gemma12b
