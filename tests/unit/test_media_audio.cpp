// Audio files (io/audio.h): FLAC, MP3, Ogg Vorbis and mu-law WAV written here with libsndfile and
// decoded back, a committed bare-frame MP3, downmix + resampling to 16 kHz against the same
// content made directly at 16 kHz, and the failure modes: empty, truncated, and 2-hour files
// (refused from the header, with the largest allocation measured).
#include <doctest/doctest.h>

#include <sndfile.h>  // writing the test files
#include <unistd.h>   // getpid, truncate

#include <atomic>
#include <cmath>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <new>
#include <sstream>
#include <string>
#include <vector>

#include "alloc_probe.h"
#include "io/audio.h"

using namespace gemma12b;


namespace {

const std::string kMedia = GEMMA12B_TOKENIZER_FIXTURES "/../media/";

std::string tmp_path(const std::string& name) {
  return (std::filesystem::temp_directory_path() / ("gemma12b-test-" + std::to_string(getpid()) + "-" + name))
      .string();
}

std::string read_bytes(const std::string& path) {
  std::ifstream f(path, std::ios::binary);
  std::stringstream s;
  s << f.rdbuf();
  return s.str();
}

// Writes interleaved float samples with libsndfile in `format`; returns the file's bytes.
std::string write_sndfile(const std::string& name, int format, int rate, int channels,
                          const std::vector<float>& data) {
  const std::string path = tmp_path(name);
  SF_INFO info{};
  info.samplerate = rate;
  info.channels = channels;
  info.format = format;
  REQUIRE(sf_format_check(&info));
  SNDFILE* f = sf_open(path.c_str(), SFM_WRITE, &info);
  REQUIRE_MESSAGE(f != nullptr, sf_strerror(nullptr));
  double quality = 0.0;  // lossy codecs: best quality
  sf_command(f, SFC_SET_COMPRESSION_LEVEL, &quality, sizeof(quality));
  CHECK(sf_writef_float(f, data.data(), static_cast<sf_count_t>(data.size() / channels)) ==
        static_cast<sf_count_t>(data.size() / channels));
  sf_close(f);
  std::string bytes = read_bytes(path);
  std::filesystem::remove(path);
  return bytes;
}

StatusOr<MonoAudio> decode(const std::string& bytes, double max_seconds = 0.0) {
  return decode_audio_memory(reinterpret_cast<const uint8_t*>(bytes.data()), bytes.size(), "<test>",
                             max_seconds);
}

// A stereo test signal and its mono average: L = 0.5 sin(440 Hz), R = 0.3 sin(1 kHz).
struct Stereo {
  std::vector<float> interleaved, mono;
};
Stereo stereo_signal(int rate, int frames) {
  Stereo s;
  for (int i = 0; i < frames; ++i) {
    const float l = static_cast<float>(0.5 * std::sin(2 * M_PI * 440.0 * i / rate));
    const float r = static_cast<float>(0.3 * std::sin(2 * M_PI * 1000.0 * i / rate));
    s.interleaved.insert(s.interleaved.end(), {l, r});
    s.mono.push_back(0.5f * (l + r));
  }
  return s;
}

double max_abs_diff(const std::vector<float>& a, const std::vector<float>& b, size_t from, size_t to) {
  double m = 0;
  for (size_t i = from; i < to; ++i) m = std::max(m, std::fabs(static_cast<double>(a[i]) - b[i]));
  return m;
}

double snr_db(const std::vector<float>& ref, const std::vector<float>& got) {
  double sig = 0, err = 0;
  for (size_t i = 0; i < ref.size() && i < got.size(); ++i) {
    sig += static_cast<double>(ref[i]) * ref[i];
    err += (static_cast<double>(got[i]) - ref[i]) * (static_cast<double>(got[i]) - ref[i]);
  }
  return 10 * std::log10(sig / std::max(err, 1e-30));
}

// A PCM16 mono WAV header declaring `data_bytes` of samples.
std::string wav_header(uint32_t rate, uint32_t data_bytes) {
  auto u32 = [](uint32_t v) { return std::string(reinterpret_cast<const char*>(&v), 4); };
  auto u16 = [](uint16_t v) { return std::string(reinterpret_cast<const char*>(&v), 2); };
  return "RIFF" + u32(36 + data_bytes) + "WAVEfmt " + u32(16) + u16(1) + u16(1) + u32(rate) + u32(rate * 2) +
         u16(2) + u16(16) + "data" + u32(data_bytes);
}

}  // namespace

TEST_CASE("media/audio: FLAC stereo decodes to the averaged source within 16-bit quantisation") {
  const Stereo s = stereo_signal(44100, 22050);
  const std::string flac =
      write_sndfile("a.flac", SF_FORMAT_FLAC | SF_FORMAT_PCM_16, 44100, 2, s.interleaved);
  auto a = decode(flac);
  REQUIRE(a.ok());
  CHECK(a->sample_rate == 44100);
  REQUIRE(a->samples.size() == s.mono.size());
  const double err = max_abs_diff(a->samples, s.mono, 0, s.mono.size());
  MESSAGE("FLAC 16-bit stereo -> mono: max abs diff vs source " << err);
  // Each channel is off by at most half a step of 1/32767 plus the 32767 vs 32768 scale
  // (|x| / 32768 <= 0.5 / 32768); the average of two such errors is within 1 / 32768 = 3.1e-5.
  CHECK(err <= 1.0 / 32768);
}

TEST_CASE("media/audio: MP3 and Ogg Vorbis written by libsndfile decode close to the source") {
  const Stereo s = stereo_signal(44100, 44100);
  struct Case {
    std::string name;
    int format;
  };
  for (const Case& c : {Case{"a.mp3", SF_FORMAT_MPEG | SF_FORMAT_MPEG_LAYER_III},
                        Case{"a.ogg", SF_FORMAT_OGG | SF_FORMAT_VORBIS}}) {
    CAPTURE(c.name);
    const std::string bytes = write_sndfile(c.name, c.format, 44100, 2, s.interleaved);
    auto a = decode(bytes);
    REQUIRE(a.ok());
    CHECK(a->sample_rate == 44100);
    const double snr = snr_db(s.mono, a->samples);
    MESSAGE(c.name << ": " << a->samples.size() << " samples (source " << s.mono.size() << "), SNR vs source "
                   << snr << " dB");
    // Gapless decoding: the encoder's delay and padding are removed (LAME tag / Ogg granule).
    CHECK(std::abs(static_cast<long>(a->samples.size()) - static_cast<long>(s.mono.size())) <= 1152);
    // A high-quality lossy encode of two pure tones; a misaligned, mis-scaled or wrongly mixed
    // decode is near 0 dB.
    CHECK(snr > 20.0);
  }
}

TEST_CASE("media/audio: a bare-frame MP3 (no ID3 tag) is recognised and decoded") {
  auto a = decode_audio_file(kMedia + "sine-1s.mp3");
  REQUIRE(a.ok());
  CHECK(a->sample_rate == 44100);
  // 1 s of 440 Hz at amplitude 1/8 (scripts/media_fixtures/make_av_fixtures.sh).
  CHECK(std::abs(static_cast<long>(a->samples.size()) - 44100) <= 1152);
  double energy = 0;
  int crossings = 0;
  for (size_t i = 0; i < a->samples.size(); ++i) {
    energy += static_cast<double>(a->samples[i]) * a->samples[i];
    if (i > 0 && (a->samples[i - 1] < 0) != (a->samples[i] < 0)) ++crossings;
  }
  const double rms = std::sqrt(energy / a->samples.size());
  MESSAGE("sine-1s.mp3: " << a->samples.size() << " samples, RMS " << rms << " (sine 1/8: 0.0884), "
                          << crossings << " zero crossings (440 Hz: ~880)");
  CHECK(rms == doctest::Approx(0.125 / std::sqrt(2.0)).epsilon(0.1));
  CHECK(std::abs(crossings - 880) <= 10);
}

TEST_CASE("media/audio: mu-law WAV (not handled by our WAV reader) goes through libsndfile") {
  const Stereo s = stereo_signal(8000, 4000);
  const std::string wav = write_sndfile("ulaw.wav", SF_FORMAT_WAV | SF_FORMAT_ULAW, 8000, 2, s.interleaved);
  auto a = decode(wav);
  REQUIRE(a.ok());
  REQUIRE(a->samples.size() == s.mono.size());
  const double err = max_abs_diff(a->samples, s.mono, 0, s.mono.size());
  MESSAGE("mu-law stereo -> mono: max abs diff " << err);
  CHECK(err <= 1024.0 / 32768);  // mu-law's largest quantisation step (the top segment)
}

TEST_CASE("media/audio: 44.1 kHz stereo and the same content at 16 kHz mono agree after resampling") {
  // s(t) = tones at 250, 1000, 3300 and 6000 Hz (below the 8 kHz Nyquist limit of 16 kHz audio);
  // the stereo file holds L = s + d, R = s - d, so its average is s.
  auto s_at = [](double t) {
    return 0.2 * std::sin(2 * M_PI * 250 * t) + 0.15 * std::sin(2 * M_PI * 1000 * t + 0.3) +
           0.1 * std::sin(2 * M_PI * 3300 * t + 1.1) + 0.05 * std::sin(2 * M_PI * 6000 * t + 2.0);
  };
  auto d_at = [](double t) { return 0.2 * std::sin(2 * M_PI * 700 * t); };
  const double seconds = 2.0;
  std::vector<float> stereo, mono16;
  for (int i = 0; i < 44100 * seconds; ++i) {
    const double t = i / 44100.0;
    stereo.push_back(static_cast<float>(s_at(t) + d_at(t)));
    stereo.push_back(static_cast<float>(s_at(t) - d_at(t)));
  }
  for (int i = 0; i < 16000 * seconds; ++i) mono16.push_back(static_cast<float>(s_at(i / 16000.0)));
  const std::string p44 = tmp_path("s44.flac"), p16 = tmp_path("s16.flac");
  {
    std::ofstream(p44, std::ios::binary)
        << write_sndfile("w44.flac", SF_FORMAT_FLAC | SF_FORMAT_PCM_24, 44100, 2, stereo);
    std::ofstream(p16, std::ios::binary)
        << write_sndfile("w16.flac", SF_FORMAT_FLAC | SF_FORMAT_PCM_24, 16000, 1, mono16);
  }
  auto a = load_audio_16k_mono(p44, 30.0);
  auto b = load_audio_16k_mono(p16, 30.0);
  std::filesystem::remove(p44);
  std::filesystem::remove(p16);
  REQUIRE(a.ok());
  REQUIRE(b.ok());
  CHECK(b->size() == mono16.size());
  REQUIRE(std::abs(static_cast<long>(a->size()) - static_cast<long>(b->size())) <= 1);
  // Interior only: the resampler's filter (a few hundred taps at 16 kHz) rings at the edges where
  // the signal starts and stops abruptly.
  const size_t edge = 400, n = std::min(a->size(), b->size());
  double sq = 0, edge_max = max_abs_diff(*a, *b, 0, edge);
  for (size_t i = edge; i + edge < n; ++i) sq += ((*a)[i] - (*b)[i]) * static_cast<double>((*a)[i] - (*b)[i]);
  const double rms = std::sqrt(sq / (n - 2 * edge)), interior_max = max_abs_diff(*a, *b, edge, n - edge);
  MESSAGE("44.1 kHz stereo -> 16 kHz mono vs 16 kHz source: interior RMS diff "
          << rms << ", max " << interior_max << "; first 400 samples max " << edge_max);
  // libsamplerate's best sinc converter is specified at 97 dB SNR; 24-bit storage adds ~1e-7.
  // -80 dB re full scale leaves room for the passband ripple near 6 kHz.
  CHECK(rms < 1e-4);
  CHECK(interior_max < 1e-3);
}

TEST_CASE("media/audio: empty audio is an error") {
  const std::string empty_wav = wav_header(16000, 0);
  auto a = decode(empty_wav);
  CHECK(a.status().code() == absl::StatusCode::kInvalidArgument);
  CHECK(a.status().message().find("empty audio") != std::string::npos);
  const std::string path = tmp_path("empty.wav");
  std::ofstream(path, std::ios::binary) << empty_wav;
  auto b = load_audio_16k_mono(path);
  std::filesystem::remove(path);
  CHECK(!b.ok());
  CHECK(b.status().message().find(path) != std::string::npos);
  CHECK(b.status().message().find("empty audio") != std::string::npos);
  auto c = decode(write_sndfile("empty.flac", SF_FORMAT_FLAC | SF_FORMAT_PCM_16, 16000, 1, {}));
  CHECK(!c.ok());
  CHECK(!decode("").ok());
  CHECK(!audio_to_16k_mono(MonoAudio{16000, {}}).ok());
}

TEST_CASE("media/audio: truncated and corrupt files are errors, never crashes") {
  const Stereo s = stereo_signal(16000, 16000);
  const std::string flac =
      write_sndfile("t.flac", SF_FORMAT_FLAC | SF_FORMAT_PCM_16, 16000, 2, s.interleaved);
  for (double keep : {0.5, 0.9}) {
    auto r = decode(flac.substr(0, static_cast<size_t>(flac.size() * keep)));
    CHECK(r.status().code() == absl::StatusCode::kDataLoss);
    MESSAGE("FLAC cut to " << keep * 100 << "%: " << r.status().message());
  }
  for (size_t cut = 0; cut < flac.size(); cut += 97) {  // every kind of cut: error or shorter audio, no crash
    auto r = decode(flac.substr(0, cut));
    if (r.ok()) CHECK(!r->samples.empty());
  }
  for (int format : {SF_FORMAT_MPEG | SF_FORMAT_MPEG_LAYER_III, SF_FORMAT_OGG | SF_FORMAT_VORBIS}) {
    const std::string bytes = write_sndfile("t.lossy", format, 16000, 2, s.interleaved);
    auto r = decode(bytes.substr(0, bytes.size() / 2));
    CHECK(!r.ok());
    MESSAGE("lossy file cut in half: " << r.status().message());
  }
  // A WAV whose data chunk declares 2000 bytes but holds 1000.
  auto w = decode(wav_header(16000, 2000) + std::string(1000, '\x01'));
  CHECK(w.status().code() == absl::StatusCode::kDataLoss);
  CHECK(w.status().message().find("truncated") != std::string::npos);
  // Noise with a FLAC signature.
  std::string junk = "fLaC" + std::string(4000, '\0');
  for (size_t i = 4; i < junk.size(); ++i) junk[i] = static_cast<char>((i * 2654435761u) >> 13);
  CHECK(!decode(junk).ok());
  CHECK(decode_audio_file("/nonexistent.flac").status().code() == absl::StatusCode::kNotFound);
}

TEST_CASE("media/audio: 2 hours of audio is refused from the header, before decoding") {
  const std::string want = "audio is 7200.0 s; the limit is 30 s (set max_audio_seconds to raise it)";
  // A real 2-hour PCM16 WAV (a sparse file: 230 MB that take no disk space).
  const std::string path = tmp_path("2h.wav");
  const uint32_t bytes = 7200u * 16000 * 2;
  std::ofstream(path, std::ios::binary) << wav_header(16000, bytes);
  REQUIRE(truncate(path.c_str(), 44 + static_cast<off_t>(bytes)) == 0);
  test::alloc_probe_start();
  auto r = load_audio_16k_mono(path, 30.0);
  const size_t largest_wav = test::alloc_probe_stop().largest;
  REQUIRE(!r.ok());
  CHECK(r.status().code() == absl::StatusCode::kInvalidArgument);
  CHECK(r.status().message() == path + ": " + want);
  MESSAGE("2-hour WAV refused; largest allocation " << largest_wav << " bytes");
  CHECK(largest_wav < (1u << 20));
  // Unlimited, 2 h at 16 kHz would decode; 5 h is past kMaxAudioFrames and is refused anyway.
  const uint32_t five_hours = 5u * 3600 * 16000 * 2;
  std::ofstream(path, std::ios::binary) << wav_header(16000, five_hours);
  REQUIRE(truncate(path.c_str(), 44 + static_cast<off_t>(five_hours)) == 0);
  auto big = decode_audio_file(path, 0.0);
  CHECK(big.status().code() == absl::StatusCode::kInvalidArgument);
  std::filesystem::remove(path);

  // A FLAC whose STREAMINFO declares 2 hours (the stream holds 1 s): refused from the header.
  std::vector<float> one_second(16000, 0.1f);
  std::string flac = write_sndfile("2h.flac", SF_FORMAT_FLAC | SF_FORMAT_PCM_16, 16000, 1, one_second);
  REQUIRE(flac.compare(0, 4, "fLaC") == 0);
  // STREAMINFO's 36-bit total-samples field: the low 36 bits of the big-endian 64 bits at byte 18.
  uint64_t field = 0;
  for (int i = 0; i < 8; ++i) field = field << 8 | static_cast<uint8_t>(flac[18 + i]);
  field = (field & ~((uint64_t{1} << 36) - 1)) | uint64_t{7200} * 16000;
  for (int i = 7; i >= 0; --i, field >>= 8) flac[18 + i] = static_cast<char>(field & 0xff);
  test::alloc_probe_start();
  auto f = decode(flac, 30.0);
  const size_t largest_flac = test::alloc_probe_stop().largest;
  CHECK(f.status().code() == absl::StatusCode::kInvalidArgument);
  CHECK(f.status().message() == "<test>: " + want);
  MESSAGE("2-hour FLAC header refused; largest allocation " << largest_flac << " bytes");
  CHECK(largest_flac < (1u << 20));
  // Within the limit it decodes (and is then short of its declared length: truncated).
  CHECK(decode(flac, 8000.0).status().code() == absl::StatusCode::kDataLoss);
}
