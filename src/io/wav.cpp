// WAV (RIFF/WAVE) reader: walks the chunks bounds-checked, then converts the data chunk to mono
// float (channels averaged). See wav.h for the accepted formats.
#include "io/wav.h"

#include <algorithm>
#include <cstring>

#include "io/mapped_file.h"

namespace gemma12b {
namespace {

uint32_t u32(const uint8_t* p) {
  return p[0] | (p[1] << 8) | (p[2] << 16) | (static_cast<uint32_t>(p[3]) << 24);
}
uint16_t u16(const uint8_t* p) { return static_cast<uint16_t>(p[0] | (p[1] << 8)); }

// The parsed header: where the samples are and how they are laid out.
struct WavLayout {
  uint16_t format = 0, channels = 0, bits = 0;
  uint32_t rate = 0;
  const uint8_t* data = nullptr;
  size_t data_size = 0;        // bytes present
  uint32_t declared_size = 0;  // bytes the data chunk header claims
};

StatusOr<WavLayout> parse_wav(const uint8_t* d, size_t size, const std::string& name) {
  if (d == nullptr || size < 12 || std::memcmp(d, "RIFF", 4) != 0 || std::memcmp(d + 8, "WAVE", 4) != 0) {
    return DataLoss("%s: not a RIFF/WAVE file", name);
  }
  WavLayout w;
  for (size_t pos = 12; pos + 8 <= size;) {
    const uint32_t len = u32(d + pos + 4);
    const uint8_t* body = d + pos + 8;
    const size_t avail = size - pos - 8;
    if (std::memcmp(d + pos, "fmt ", 4) == 0) {
      if (len < 16 || avail < 16) return DataLoss("%s: truncated fmt chunk", name);
      w.format = u16(body);
      w.channels = u16(body + 2);
      w.rate = u32(body + 4);
      w.bits = u16(body + 14);
      if (w.format == 0xFFFE && len >= 26 && avail >= 26)
        w.format = u16(body + 24);  // WAVE_FORMAT_EXTENSIBLE
    } else if (std::memcmp(d + pos, "data", 4) == 0) {
      w.data = body;
      w.declared_size = len;
      w.data_size = std::min<size_t>(len, avail);  // tolerate a header that overstates the length
    }
    if (len > avail) break;
    pos += 8 + len + (len & 1);
  }
  if (w.format == 0) return DataLoss("%s: no fmt chunk", name);
  if (w.data == nullptr) return DataLoss("%s: no data chunk", name);
  if (w.channels == 0 || w.channels > 64) return InvalidArgument("%s: %d channels", name, w.channels);
  if (w.rate == 0 || w.rate > 1000000) return InvalidArgument("%s: sample rate %d", name, w.rate);
  const bool pcm = w.format == 1, flt = w.format == 3;
  if (!(pcm && (w.bits == 8 || w.bits == 16 || w.bits == 24 || w.bits == 32)) &&
      !(flt && (w.bits == 32 || w.bits == 64))) {
    return Unimplemented("%s: WAV format %d with %d bits per sample is not supported", name, w.format,
                         w.bits);
  }
  if (w.data_size / (w.bits / 8 * w.channels) == 0)
    return InvalidArgument("%s: empty audio (0 samples)", name);
  return w;
}

}  // namespace

StatusOr<WavInfo> probe_wav_memory(const uint8_t* d, size_t size, const std::string& name) {
  G12_ASSIGN_OR_RETURN(const WavLayout w, parse_wav(d, size, name));
  WavInfo info;
  info.sample_rate = static_cast<int>(w.rate);
  info.channels = w.channels;
  info.frames = static_cast<int64_t>(w.data_size / (w.bits / 8 * w.channels));
  info.truncated = w.declared_size != 0 && w.declared_size != 0xFFFFFFFFu && w.declared_size > w.data_size;
  return info;
}

StatusOr<MonoAudio> decode_wav_memory(const uint8_t* d, size_t size, const std::string& name) {
  G12_ASSIGN_OR_RETURN(const WavLayout w, parse_wav(d, size, name));
  const bool pcm = w.format == 1, flt = w.format == 3;
  const size_t bits = w.bits, channels = w.channels;
  const size_t bytes = bits / 8, frame = bytes * channels;
  const size_t n = w.data_size / frame;
  MonoAudio out;
  out.sample_rate = static_cast<int>(w.rate);
  out.samples.resize(n);
  for (size_t i = 0; i < n; ++i) {
    double acc = 0.0;
    for (size_t c = 0; c < channels; ++c) {
      const uint8_t* p = w.data + i * frame + c * bytes;
      double v = 0.0;
      if (pcm && bits == 8) v = (static_cast<int>(p[0]) - 128) / 128.0;
      if (pcm && bits == 16) v = static_cast<int16_t>(u16(p)) / 32768.0;
      if (pcm && bits == 24)
        v = (static_cast<int32_t>(p[0] << 8 | p[1] << 16 | static_cast<uint32_t>(p[2]) << 24) >> 8) /
            8388608.0;
      if (pcm && bits == 32) v = static_cast<int32_t>(u32(p)) / 2147483648.0;
      if (flt && bits == 32) {
        float f;
        std::memcpy(&f, p, 4);
        v = f;
      }
      if (flt && bits == 64) std::memcpy(&v, p, 8);
      acc += v;
    }
    out.samples[i] = static_cast<float>(acc / channels);
  }
  return out;
}

StatusOr<MonoAudio> decode_wav_file(const std::string& path) {
  G12_ASSIGN_OR_RETURN(std::shared_ptr<MappedFile> f, MappedFile::open(path));
  return decode_wav_memory(f->data(), f->size(), path);
}

}  // namespace gemma12b
