// Audio decoding: WAV through wav.cpp, everything else through libsndfile reading the bytes in
// memory (its virtual I/O), in chunks, downmixed as it goes, so that the length limit is
// enforced without holding more than the limit in memory.
#include "io/audio.h"

#include <sndfile.h>  // sf_open_virtual, sf_readf_float

#include <algorithm>
#include <cmath>
#include <cstring>
#include <memory>

#include "io/mapped_file.h"
#include "io/resample.h"

namespace gemma12b {
namespace {

// libsndfile's virtual I/O over a byte buffer (read only).
struct MemoryReader {
  const uint8_t* data;
  sf_count_t size;
  sf_count_t pos = 0;
};

sf_count_t vio_length(void* u) { return static_cast<MemoryReader*>(u)->size; }
sf_count_t vio_tell(void* u) { return static_cast<MemoryReader*>(u)->pos; }
sf_count_t vio_seek(sf_count_t offset, int whence, void* u) {
  auto* r = static_cast<MemoryReader*>(u);
  const sf_count_t base = whence == SEEK_CUR ? r->pos : whence == SEEK_END ? r->size : 0;
  if ((offset < 0 && -offset > base) || (offset > 0 && offset > r->size - base)) return -1;
  r->pos = base + offset;
  return r->pos;
}
sf_count_t vio_read(void* ptr, sf_count_t count, void* u) {
  auto* r = static_cast<MemoryReader*>(u);
  const sf_count_t n = std::clamp<sf_count_t>(r->size - r->pos, 0, std::max<sf_count_t>(count, 0));
  if (n > 0) std::memcpy(ptr, r->data + r->pos, static_cast<size_t>(n));
  r->pos += n;
  return n;
}
sf_count_t vio_write(const void*, sf_count_t, void*) { return 0; }

bool is_wav(const uint8_t* d, size_t size) {
  return size >= 12 && std::memcmp(d, "RIFF", 4) == 0 && std::memcmp(d + 8, "WAVE", 4) == 0;
}

// The mono frame count allowed for a sample rate and limit.
int64_t frame_cap(int sample_rate, double max_seconds) {
  if (max_seconds <= 0) return kMaxAudioFrames;
  return std::min<int64_t>(kMaxAudioFrames, static_cast<int64_t>(std::floor(max_seconds * sample_rate)));
}

StatusOr<MonoAudio> decode_with_sndfile(const uint8_t* data, size_t size, const std::string& name,
                                        double max_seconds) {
  MemoryReader reader{data, static_cast<sf_count_t>(size)};
  SF_VIRTUAL_IO vio{vio_length, vio_seek, vio_read, vio_write, vio_tell};
  SF_INFO info{};
  std::unique_ptr<SNDFILE, int (*)(SNDFILE*)> sf(sf_open_virtual(&vio, SFM_READ, &info, &reader), sf_close);
  if (!sf) return DataLoss("%s: not a readable audio file (libsndfile: %s)", name, sf_strerror(nullptr));
  if (info.channels <= 0 || info.channels > 1024)
    return InvalidArgument("%s: %d channels", name, info.channels);
  if (info.samplerate <= 0 || info.samplerate > 1000000) {
    return InvalidArgument("%s: sample rate %d", name, info.samplerate);
  }
  // The declared length is known for every format libsndfile reads except raw streams; check it
  // before decoding anything.
  const bool length_known = info.frames > 0 && info.frames != SF_COUNT_MAX;
  if (length_known) G12_RETURN_IF_ERROR(check_audio_length(info.frames, info.samplerate, max_seconds, name));
  const int64_t cap = frame_cap(info.samplerate, max_seconds);
  MonoAudio out;
  out.sample_rate = info.samplerate;
  // Reserve what the header declares, but no more than 2^22 frames on its word alone (a header
  // can lie; past that the vector grows with the data actually decoded).
  if (length_known)
    out.samples.reserve(static_cast<size_t>(std::min<int64_t>({info.frames, cap, int64_t{1} << 22})));
  const int channels = info.channels;
  constexpr sf_count_t kChunk = 4096;
  std::vector<float> buf(static_cast<size_t>(kChunk) * channels);
  for (;;) {
    const sf_count_t got = sf_readf_float(sf.get(), buf.data(), kChunk);
    if (got <= 0) break;
    for (sf_count_t i = 0; i < got; ++i) {
      double acc = 0.0;
      for (int c = 0; c < channels; ++c) acc += buf[static_cast<size_t>(i) * channels + c];
      out.samples.push_back(static_cast<float>(acc / channels));
    }
    if (static_cast<int64_t>(out.samples.size()) > cap) {
      // Only reached when the header understated the length: report what is known.
      return InvalidArgument(
          "%s: audio is longer than %.1f s; the limit is %g s (set max_audio_seconds to raise it)", name,
          static_cast<double>(cap) / info.samplerate, max_seconds);
    }
  }
  if (const int err = sf_error(sf.get()); err != SF_ERR_NO_ERROR) {
    return DataLoss("%s: audio decoding failed after %zu frames (libsndfile: %s)", name, out.samples.size(),
                    sf_error_number(err));
  }
  if (out.samples.empty()) return InvalidArgument("%s: empty audio (0 samples)", name);
  // MP3 lengths without a Xing/LAME header are estimates; other formats state them exactly.
  const int major = info.format & SF_FORMAT_TYPEMASK;
  const int64_t slack = major == SF_FORMAT_MPEG ? std::max<int64_t>(info.frames / 20, 1152 * 2) : 0;
  if (length_known && static_cast<int64_t>(out.samples.size()) + slack < info.frames) {
    return DataLoss("%s: truncated audio: decoded %zu of the %lld frames the header declares", name,
                    out.samples.size(), static_cast<long long>(info.frames));
  }
  return out;
}

}  // namespace

Status check_audio_length(int64_t frames, int sample_rate, double max_seconds, const std::string& name) {
  if (sample_rate <= 0) return InvalidArgument("%s: sample rate %d", name, sample_rate);
  const double seconds = static_cast<double>(frames) / sample_rate;
  if (max_seconds > 0 && frames > frame_cap(sample_rate, max_seconds) && frames <= kMaxAudioFrames) {
    return InvalidArgument("%s: audio is %.1f s; the limit is %g s (set max_audio_seconds to raise it)", name,
                           seconds, max_seconds);
  }
  if (frames > kMaxAudioFrames) {
    return InvalidArgument(
        "%s: audio is %.1f s (%lld samples at %d Hz); more than %lld samples are never decoded", name,
        seconds, static_cast<long long>(frames), sample_rate, static_cast<long long>(kMaxAudioFrames));
  }
  return OkStatus();
}

StatusOr<MonoAudio> decode_audio_memory(const uint8_t* data, size_t size, const std::string& name,
                                        double max_seconds) {
  if (data == nullptr || size == 0) return InvalidArgument("%s: empty audio file", name);
  if (is_wav(data, size)) {
    StatusOr<WavInfo> info = probe_wav_memory(data, size, name);
    if (info.ok()) {
      if (info->truncated) return DataLoss("%s: truncated WAV file: the data chunk is cut short", name);
      G12_RETURN_IF_ERROR(check_audio_length(info->frames, info->sample_rate, max_seconds, name));
      return decode_wav_memory(data, size, name);
    }
    if (info.status().code() != absl::StatusCode::kUnimplemented) return info.status();
    // A WAV encoding our reader does not handle (mu-law, A-law, ADPCM...): libsndfile's turn.
  }
  return decode_with_sndfile(data, size, name, max_seconds);
}

StatusOr<MonoAudio> decode_audio_file(const std::string& path, double max_seconds) {
  G12_ASSIGN_OR_RETURN(std::shared_ptr<MappedFile> f, MappedFile::open(path));
  return decode_audio_memory(f->data(), f->size(), path, max_seconds);
}

StatusOr<std::vector<float>> audio_to_16k_mono(const MonoAudio& audio, const std::string& name,
                                               double max_seconds) {
  if (audio.samples.empty()) return InvalidArgument("%s: empty audio (0 samples)", name);
  G12_RETURN_IF_ERROR(
      check_audio_length(static_cast<int64_t>(audio.samples.size()), audio.sample_rate, max_seconds, name));
  constexpr int kRate = 16000;
  if (audio.sample_rate == kRate) return audio.samples;
  StatusOr<std::vector<float>> out = resample_mono(audio.samples, audio.sample_rate, kRate);
  if (!out.ok()) return Status(out.status().code(), name + ": " + std::string(out.status().message()));
  if (out->empty()) return InvalidArgument("%s: empty audio (0 samples at 16 kHz)", name);
  return out;
}

StatusOr<std::vector<float>> load_audio_16k_mono(const std::string& path, double max_seconds) {
  G12_ASSIGN_OR_RETURN(MonoAudio audio, decode_audio_file(path, max_seconds));
  return audio_to_16k_mono(audio, path, max_seconds);
}

}  // namespace gemma12b
