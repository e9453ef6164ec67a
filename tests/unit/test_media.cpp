// Media decoding and resampling: WAV formats, channel mixing, band-limited resampling.
#include <doctest/doctest.h>

#include <cmath>
#include <cstring>
#include <string>
#include <vector>

#include "io/resample.h"
#include "io/wav.h"

using namespace gemma12b;

namespace {

// A minimal WAV file with the given format and raw sample bytes.
std::string make_wav(uint16_t format, uint16_t channels, uint32_t rate, uint16_t bits, const std::string& data) {
  auto u32 = [](uint32_t v) { return std::string(reinterpret_cast<const char*>(&v), 4); };
  auto u16 = [](uint16_t v) { return std::string(reinterpret_cast<const char*>(&v), 2); };
  std::string fmt = u16(format) + u16(channels) + u32(rate) + u32(rate * channels * bits / 8) +
                    u16(static_cast<uint16_t>(channels * bits / 8)) + u16(bits);
  std::string body = "WAVE" + std::string("fmt ") + u32(16) + fmt + "data" + u32(static_cast<uint32_t>(data.size())) + data;
  return "RIFF" + u32(static_cast<uint32_t>(body.size())) + body;
}

StatusOr<MonoAudio> decode(const std::string& wav) {
  return decode_wav_memory(reinterpret_cast<const uint8_t*>(wav.data()), wav.size());
}

}  // namespace

TEST_CASE("media: WAV PCM16 stereo is averaged to mono and scaled by 1/32768") {
  const int16_t s[4] = {16384, -16384, 32767, 32767};  // two stereo frames
  auto a = decode(make_wav(1, 2, 22050, 16, std::string(reinterpret_cast<const char*>(s), sizeof(s))));
  REQUIRE(a.ok());
  CHECK(a->sample_rate == 22050);
  REQUIRE(a->samples.size() == 2);
  CHECK(a->samples[0] == 0.0f);
  CHECK(a->samples[1] == doctest::Approx(32767.0 / 32768.0));
}

TEST_CASE("media: WAV 8-bit, 24-bit and float formats") {
  auto u8 = decode(make_wav(1, 1, 16000, 8, std::string("\x80\xC0", 2)));
  REQUIRE(u8.ok());
  CHECK(u8->samples[0] == 0.0f);
  CHECK(u8->samples[1] == 0.5f);
  auto s24 = decode(make_wav(1, 1, 16000, 24, std::string("\x00\x00\xC0", 3)));  // -0.5
  REQUIRE(s24.ok());
  CHECK(s24->samples[0] == -0.5f);
  const float f = 0.25f;
  auto f32 = decode(make_wav(3, 1, 16000, 32, std::string(reinterpret_cast<const char*>(&f), 4)));
  REQUIRE(f32.ok());
  CHECK(f32->samples[0] == 0.25f);
}

TEST_CASE("media: malformed WAV files are errors, never crashes") {
  CHECK(!decode(make_wav(2, 1, 16000, 16, std::string(4, '\0'))).ok());   // ADPCM: unsupported
  CHECK(!decode(make_wav(1, 0, 16000, 16, std::string(4, '\0'))).ok());   // no channels
  CHECK(!decode(make_wav(1, 1, 0, 16, std::string(4, '\0'))).ok());       // no rate
  CHECK(!decode(make_wav(1, 1, 16000, 16, "")).ok());                     // empty audio
  const std::string good = make_wav(1, 1, 16000, 16, std::string(64, '\x01'));
  for (size_t cut = 0; cut < good.size(); ++cut) {
    auto r = decode(good.substr(0, cut));
    if (r.ok()) CHECK(!r->samples.empty());
  }
  // Chunk lengths far past the end of the file.
  std::string lying = good;
  lying[16] = '\xff';
  lying[17] = '\xff';
  lying[18] = '\xff';
  lying[19] = '\x7f';
  CHECK(!decode(lying).ok());
}

TEST_CASE("media: resampling keeps a tone's frequency and level") {
  // 1 kHz at 44.1 kHz -> 16 kHz: compare with the analytic tone away from the edges.
  const int in_rate = 44100, out_rate = 16000;
  std::vector<float> tone(in_rate);
  for (size_t i = 0; i < tone.size(); ++i) tone[i] = 0.5f * std::sin(2 * M_PI * 1000.0 * i / in_rate);
  auto out = resample_mono(tone, in_rate, out_rate);
  REQUIRE(out.ok());
  CHECK(std::abs(static_cast<long>(out->size()) - out_rate) <= 2);
  double max_err = 0.0;
  for (size_t i = 1000; i + 1000 < out->size(); ++i) {
    max_err = std::max(max_err, std::fabs((*out)[i] - 0.5 * std::sin(2 * M_PI * 1000.0 * i / out_rate)));
  }
  MESSAGE("1 kHz tone 44.1 -> 16 kHz: max error " << max_err);
  CHECK(max_err < 1e-3);
  // A 12 kHz tone is above the 8 kHz Nyquist limit of 16 kHz audio: it must be filtered out,
  // not folded back to 4 kHz.
  std::vector<float> high(48000);
  for (size_t i = 0; i < high.size(); ++i) high[i] = 0.5f * std::sin(2 * M_PI * 12000.0 * i / 48000);
  auto alias = resample_mono(high, 48000, 16000);
  REQUIRE(alias.ok());
  double peak = 0.0;
  for (size_t i = 1000; i + 1000 < alias->size(); ++i) peak = std::max(peak, std::fabs(static_cast<double>((*alias)[i])));
  MESSAGE("12 kHz tone 48 -> 16 kHz: residual peak " << peak);
  CHECK(peak < 1e-2);  // band-limited: no alias at 4 kHz
  CHECK(!resample_mono({}, 16000, 8000).ok());
  CHECK(!resample_mono(tone, 0, 16000).ok());
}
