// Video decoding with FFmpeg: one pass over the packets (plus a demux-only pass first when the
// stream states no duration), decoding the video stream until the frame nearest to the last
// sampling target is seen (holding a reference to the current best frame per target, not a
// copy), the audio stream to the end when asked for, and reading to the end to notice
// truncation; then the picked frames are converted to RGB24 with swscale and the audio is
// averaged to mono and resampled to 16 kHz with libsamplerate (as for audio files, audio.h).
#include "io/video.h"

extern "C" {
#include <libavcodec/avcodec.h>        // avcodec_send_packet, avcodec_receive_frame
#include <libavformat/avformat.h>      // avformat_open_input, av_read_frame
#include <libavutil/imgutils.h>        // av_image_check_size
#include <libswresample/swresample.h>  // swr_convert (any sample format -> planar float)
#include <libswscale/swscale.h>        // sws_scale (any pixel format -> RGB24)
}

#include <algorithm>
#include <cerrno>
#include <cmath>
#include <cstring>
#include <limits>
#include <memory>

#include "io/resample.h"

namespace gemma12b {
namespace {

std::string av_error(int err) {
  char buf[AV_ERROR_MAX_STRING_SIZE] = {};
  av_strerror(err, buf, sizeof(buf));
  return buf;
}

struct FormatClose {
  void operator()(AVFormatContext* f) const { avformat_close_input(&f); }
};
struct CodecFree {
  void operator()(AVCodecContext* c) const { avcodec_free_context(&c); }
};
struct FrameFree {
  void operator()(AVFrame* f) const { av_frame_free(&f); }
};
struct PacketFree {
  void operator()(AVPacket* p) const { av_packet_free(&p); }
};
struct SwsFree {
  void operator()(SwsContext* s) const { sws_freeContext(s); }
};
struct SwrFree {
  void operator()(SwrContext* s) const { swr_free(&s); }
};
using FormatPtr = std::unique_ptr<AVFormatContext, FormatClose>;
using CodecPtr = std::unique_ptr<AVCodecContext, CodecFree>;
using FramePtr = std::unique_ptr<AVFrame, FrameFree>;
using PacketPtr = std::unique_ptr<AVPacket, PacketFree>;

StatusOr<FormatPtr> open_input(const std::string& path) {
  AVFormatContext* raw = nullptr;
  int err = avformat_open_input(&raw, path.c_str(), nullptr, nullptr);
  if (err == AVERROR(ENOENT)) return NotFound("%s: no such file", path);
  if (err < 0) return DataLoss("%s: not a readable video file (%s)", path, av_error(err));
  FormatPtr fmt(raw);
  if ((err = avformat_find_stream_info(raw, nullptr)) < 0) {
    return DataLoss("%s: cannot read the stream parameters (%s)", path, av_error(err));
  }
  return fmt;
}

std::string codec_label(const AVCodecParameters* par) {
  if (par->codec_id != AV_CODEC_ID_NONE) return avcodec_get_name(par->codec_id);
  char tag[AV_FOURCC_MAX_STRING_SIZE] = {};
  av_fourcc_make_string(tag, par->codec_tag);
  return std::string("unknown, tag ") + tag;
}

StatusOr<CodecPtr> open_decoder(const AVStream* st, const std::string& path, const char* what) {
  if (st->codecpar->codec_id == AV_CODEC_ID_NONE && st->codecpar->codec_tag == 0) {
    return DataLoss("%s: the %s stream's description is missing (truncated or corrupt file)", path, what);
  }
  const AVCodec* codec = avcodec_find_decoder(st->codecpar->codec_id);
  if (codec == nullptr) {
    return Unimplemented("%s: unsupported %s codec (%s): this FFmpeg build has no decoder for it", path, what,
                         codec_label(st->codecpar));
  }
  CodecPtr ctx(avcodec_alloc_context3(codec));
  if (!ctx) return Internal("%s: out of memory for the %s decoder", path, what);
  int err = avcodec_parameters_to_context(ctx.get(), st->codecpar);
  if (err >= 0) {
    ctx->pkt_timebase = st->time_base;
    err = avcodec_open2(ctx.get(), codec, nullptr);
  }
  if (err < 0)
    return Unimplemented("%s: cannot open the %s %s decoder (%s)", path, codec->name, what, av_error(err));
  return ctx;
}

// The frame picked for one sampling target so far.
struct Pick {
  FramePtr frame;
  double t = 0.0;
  double dist = std::numeric_limits<double>::infinity();
};

// Accumulates the audio track as mono float at its own rate.
struct AudioSink {
  std::unique_ptr<SwrContext, SwrFree> swr;
  int format = -1, rate = 0, channels = 0;
  std::vector<std::vector<float>> planes;
  std::vector<float> mono;
  int64_t cap = 0;  // mono frames allowed

  Status add(AVFrame* f, const std::string& path) {
    if (f->nb_samples <= 0) return OkStatus();
    const int ch = f->ch_layout.nb_channels;
    if (!swr) {
      if (ch <= 0 || ch > 64) return InvalidArgument("%s: audio track with %d channels", path, ch);
      if (f->sample_rate <= 0) return InvalidArgument("%s: audio track at %d Hz", path, f->sample_rate);
      SwrContext* s = nullptr;
      int err = swr_alloc_set_opts2(&s, &f->ch_layout, AV_SAMPLE_FMT_FLTP, f->sample_rate, &f->ch_layout,
                                    static_cast<AVSampleFormat>(f->format), f->sample_rate, 0, nullptr);
      swr.reset(s);
      if (err >= 0) err = swr_init(s);
      if (err < 0)
        return Unimplemented("%s: cannot convert the audio track's samples (%s)", path, av_error(err));
      format = f->format;
      rate = f->sample_rate;
      channels = ch;
      planes.resize(ch);
    } else if (f->format != format || f->sample_rate != rate || ch != channels) {
      return Unimplemented("%s: the audio track changes format mid-stream", path);
    }
    const int room = swr_get_out_samples(swr.get(), f->nb_samples);
    if (room < 0) return Internal("%s: audio conversion failed (%s)", path, av_error(room));
    std::vector<uint8_t*> out(channels);
    for (int c = 0; c < channels; ++c) {
      planes[c].resize(static_cast<size_t>(room));
      out[c] = reinterpret_cast<uint8_t*>(planes[c].data());
    }
    const int got = swr_convert(swr.get(), out.data(), room, const_cast<const uint8_t**>(f->extended_data),
                                f->nb_samples);
    if (got < 0) return DataLoss("%s: audio conversion failed (%s)", path, av_error(got));
    for (int i = 0; i < got; ++i) {
      double acc = 0.0;
      for (int c = 0; c < channels; ++c) acc += planes[c][i];
      mono.push_back(static_cast<float>(acc / channels));
    }
    if (static_cast<int64_t>(mono.size()) > cap) {
      return InvalidArgument(
          "%s: the audio track is longer than %.1f s (set max_audio_seconds to raise the limit)", path,
          static_cast<double>(cap) / rate);
    }
    return OkStatus();
  }
};

// Sends one packet (nullptr: flush) and hands every frame that comes out to `on_frame`.
// Corrupt packets are counted in *rejected and skipped, as FFmpeg's own tools do.
template <typename OnFrame>
Status decode_packet(AVCodecContext* ctx, const AVPacket* pkt, AVFrame* frame, int* rejected,
                     const std::string& path, OnFrame&& on_frame) {
  int err = avcodec_send_packet(ctx, pkt);
  if (err == AVERROR_INVALIDDATA) {
    ++*rejected;
    return OkStatus();
  }
  if (err < 0 && err != AVERROR_EOF) return DataLoss("%s: decoding failed (%s)", path, av_error(err));
  for (;;) {
    err = avcodec_receive_frame(ctx, frame);
    if (err == AVERROR(EAGAIN) || err == AVERROR_EOF) return OkStatus();
    if (err == AVERROR_INVALIDDATA) {
      ++*rejected;
      continue;
    }
    if (err < 0) return DataLoss("%s: decoding failed (%s)", path, av_error(err));
    Status s = on_frame(frame);
    av_frame_unref(frame);
    G12_RETURN_IF_ERROR(s);
  }
}

// swscale wants the deprecated full-range "J" formats as their plain twins plus a range flag.
AVPixelFormat plain_pix_fmt(AVPixelFormat f, bool* full_range) {
  switch (f) {
    case AV_PIX_FMT_YUVJ420P:
      *full_range = true;
      return AV_PIX_FMT_YUV420P;
    case AV_PIX_FMT_YUVJ422P:
      *full_range = true;
      return AV_PIX_FMT_YUV422P;
    case AV_PIX_FMT_YUVJ444P:
      *full_range = true;
      return AV_PIX_FMT_YUV444P;
    case AV_PIX_FMT_YUVJ440P:
      *full_range = true;
      return AV_PIX_FMT_YUV440P;
    case AV_PIX_FMT_YUVJ411P:
      *full_range = true;
      return AV_PIX_FMT_YUV411P;
    default:
      return f;
  }
}

// swscale's colour matrix for the frame's colour space (BT.601 when unspecified, as players do).
int sws_colorspace(AVColorSpace cs) {
  switch (cs) {
    case AVCOL_SPC_BT709:
      return SWS_CS_ITU709;
    case AVCOL_SPC_FCC:
      return SWS_CS_FCC;
    case AVCOL_SPC_SMPTE240M:
      return SWS_CS_SMPTE240M;
    case AVCOL_SPC_BT2020_NCL:
    case AVCOL_SPC_BT2020_CL:
      return SWS_CS_BT2020;
    default:
      return SWS_CS_DEFAULT;
  }
}

StatusOr<RgbImage> frame_to_rgb(const AVFrame* f, const std::string& path) {
  const int w = f->width, h = f->height;
  if (w <= 0 || h <= 0 || static_cast<int64_t>(w) * h > kMaxImagePixels) {
    return InvalidArgument("%s: video frame of %dx%d pixels is outside the accepted size", path, w, h);
  }
  bool full_range = f->color_range == AVCOL_RANGE_JPEG;
  const AVPixelFormat src_fmt = plain_pix_fmt(static_cast<AVPixelFormat>(f->format), &full_range);
  std::unique_ptr<SwsContext, SwsFree> sws(sws_getContext(w, h, src_fmt, w, h, AV_PIX_FMT_RGB24,
                                                          SWS_BICUBIC | SWS_ACCURATE_RND | SWS_FULL_CHR_H_INT,
                                                          nullptr, nullptr, nullptr));
  if (!sws) {
    return Unimplemented("%s: cannot convert video frames of pixel format %s to RGB", path,
                         av_get_pix_fmt_name(static_cast<AVPixelFormat>(f->format)));
  }
  // Honour the stream's YUV matrix and range (swscale assumes BT.601 limited range otherwise);
  // RGB output is full range. Returns an error for RGB sources, where there is nothing to set.
  int *inv_table = nullptr, *table = nullptr;
  int src_range = 0, dst_range = 0, brightness = 0, contrast = 0, saturation = 0;
  if (sws_getColorspaceDetails(sws.get(), &inv_table, &src_range, &table, &dst_range, &brightness, &contrast,
                               &saturation) >= 0) {
    sws_setColorspaceDetails(sws.get(), sws_getCoefficients(sws_colorspace(f->colorspace)), full_range, table,
                             1, brightness, contrast, saturation);
  }
  const int stride = (w * 3 + 63) & ~63;  // aligned rows for swscale's SIMD paths
  std::vector<uint8_t> buf(static_cast<size_t>(stride) * h);
  uint8_t* dst[4] = {buf.data(), nullptr, nullptr, nullptr};
  const int dst_stride[4] = {stride, 0, 0, 0};
  if (sws_scale(sws.get(), f->data, f->linesize, 0, h, dst, dst_stride) != h) {
    return Internal("%s: RGB conversion of a video frame failed", path);
  }
  RgbImage img;
  img.width = w;
  img.height = h;
  img.pixels.resize(static_cast<size_t>(w) * h * 3);
  for (int y = 0; y < h; ++y)
    std::memcpy(&img.pixels[static_cast<size_t>(y) * w * 3], &buf[static_cast<size_t>(y) * stride], w * 3);
  return img;
}

// Duration of the video stream when its header does not state one (Matroska / WebM, raw
// streams): the end of its last packet, from a demux-only pass. Packets without timestamps (raw
// H.264) are laid end to end.
double scan_duration(AVFormatContext* fmt, int vidx, double frame_dur) {
  const AVStream* st = fmt->streams[vidx];
  const double tb = av_q2d(st->time_base);
  const int64_t start = st->start_time != AV_NOPTS_VALUE ? st->start_time : 0;
  PacketPtr pkt(av_packet_alloc());
  double end = 0.0, laid = 0.0;
  while (pkt && av_read_frame(fmt, pkt.get()) >= 0) {
    if (pkt->stream_index == vidx) {
      const int64_t ts = pkt->pts != AV_NOPTS_VALUE ? pkt->pts : pkt->dts;
      const double dur = pkt->duration > 0 ? pkt->duration * tb : frame_dur;
      laid += dur;
      end = std::max(end, ts != AV_NOPTS_VALUE ? (ts - start) * tb + dur : laid);
    }
    av_packet_unref(pkt.get());
  }
  return end;
}

}  // namespace

std::vector<double> video_sample_times(double duration_s, double fps, int max_frames) {
  std::vector<double> t;
  if (!(fps > 0) || !std::isfinite(fps) || max_frames < 1) return t;
  const double d = std::isfinite(duration_s) && duration_s > 0 ? duration_s : 0.0;
  const double want = std::max(1.0, std::ceil(d * fps - 1e-9));
  if (want <= max_frames) {
    for (int k = 0; k < static_cast<int>(want); ++k) t.push_back(k / fps);
  } else {
    for (int k = 0; k < max_frames; ++k) t.push_back(k * d / max_frames);
  }
  return t;
}

StatusOr<DecodedVideo> decode_video_file(const std::string& path, const VideoOptions& opt) {
  if (!(opt.fps > 0) || !std::isfinite(opt.fps) || opt.max_frames < 1 || opt.max_frames > 100000) {
    return InvalidArgument("%s: video sampling needs fps > 0 and 1 <= max_frames <= 100000 (got %g, %d)",
                           path, opt.fps, opt.max_frames);
  }
  G12_ASSIGN_OR_RETURN(FormatPtr fmt, open_input(path));
  const int vidx = av_find_best_stream(fmt.get(), AVMEDIA_TYPE_VIDEO, -1, -1, nullptr, 0);
  if (vidx < 0 || (fmt->streams[vidx]->disposition & AV_DISPOSITION_ATTACHED_PIC)) {
    return InvalidArgument("%s: no video stream (a %s file with %u stream(s)%s)", path, fmt->iformat->name,
                           fmt->nb_streams, vidx >= 0 ? ", only a cover picture" : "");
  }
  AVStream* vs = fmt->streams[vidx];
  if (vs->codecpar->width > 0 &&
      static_cast<int64_t>(vs->codecpar->width) * vs->codecpar->height > kMaxImagePixels) {
    return InvalidArgument("%s: video of %dx%d pixels is outside the accepted size", path,
                           vs->codecpar->width, vs->codecpar->height);
  }
  G12_ASSIGN_OR_RETURN(CodecPtr vdec, open_decoder(vs, path, "video"));

  // The audio track, when asked for: refuse a declared length over the limit before decoding.
  int aidx = -1;
  CodecPtr adec;
  AudioSink audio;
  if (opt.with_audio) {
    aidx = av_find_best_stream(fmt.get(), AVMEDIA_TYPE_AUDIO, -1, vidx, nullptr, 0);
    if (aidx >= 0) {
      const AVStream* as = fmt->streams[aidx];
      G12_ASSIGN_OR_RETURN(adec, open_decoder(as, path, "audio"));
      const int rate = as->codecpar->sample_rate;
      if (rate <= 0) return InvalidArgument("%s: audio track at %d Hz", path, rate);
      if (as->duration != AV_NOPTS_VALUE && as->duration > 0) {
        const double seconds = as->duration * av_q2d(as->time_base);
        G12_RETURN_IF_ERROR(
            check_audio_length(static_cast<int64_t>(seconds * rate), rate, opt.max_audio_seconds, path));
      }
      audio.cap = opt.max_audio_seconds > 0
                      ? std::min<int64_t>(kMaxAudioFrames,
                                          static_cast<int64_t>(std::floor(opt.max_audio_seconds * rate)))
                      : kMaxAudioFrames;
    }
  }

  const double tb = av_q2d(vs->time_base);
  const int64_t start = vs->start_time != AV_NOPTS_VALUE ? vs->start_time : 0;
  const AVRational rate_q = vs->avg_frame_rate.num > 0 ? vs->avg_frame_rate : vs->r_frame_rate;
  const double frame_dur = rate_q.num > 0 && rate_q.den > 0 ? 1.0 / av_q2d(rate_q) : 0.0;
  // The video stream's own duration. The container's (the longest stream, or a bitrate guess)
  // is no substitute: audio may outlast the video. Without one, a demux-only pass measures it.
  const bool declared = vs->duration != AV_NOPTS_VALUE && vs->duration > 0;  // truncation is checkable
  double duration = 0.0;
  if (declared) {
    duration = vs->duration * tb;
  } else {
    duration = scan_duration(fmt.get(), vidx, frame_dur);
    G12_ASSIGN_OR_RETURN(fmt, open_input(path));  // rewind (not every demuxer seeks)
    vs = fmt->streams[vidx];
  }
  const std::vector<double> targets = video_sample_times(duration, opt.fps, opt.max_frames);
  std::vector<Pick> picks(targets.size());

  PacketPtr pkt(av_packet_alloc());
  FramePtr frame(av_frame_alloc());
  if (!pkt || !frame) return Internal("%s: out of memory", path);
  int rejected = 0, decoded = 0;
  bool video_done = false;
  double video_end = 0.0;  // end of the last video packet seen, seconds from the start
  bool end_known = false;  // some video packet had a timestamp
  auto on_video = [&](AVFrame* f) -> Status {
    const int64_t ts = f->best_effort_timestamp;
    const double t = ts != AV_NOPTS_VALUE ? (ts - start) * tb : decoded * frame_dur;
    ++decoded;
    for (size_t k = 0; k < targets.size(); ++k) {
      const double dist = std::fabs(t - targets[k]);
      if (dist >= picks[k].dist) continue;
      if (!picks[k].frame) picks[k].frame.reset(av_frame_alloc());
      if (!picks[k].frame) return Internal("%s: out of memory", path);
      av_frame_unref(picks[k].frame.get());
      if (const int err = av_frame_ref(picks[k].frame.get(), f); err < 0)
        return Internal("%s: %s", path, av_error(err));
      picks[k].t = t;
      picks[k].dist = dist;
    }
    // Frames come out in presentation order: past the last target, none can be nearer.
    video_done = t > targets.back() && picks.back().frame != nullptr;
    return OkStatus();
  };
  auto on_audio = [&](AVFrame* f) { return audio.add(f, path); };

  // Demux to the end even when no more video frames are needed (that costs reading, not
  // decoding; the last target is within 1/fps s or duration/max_frames of the end anyway), so a
  // truncated file is noticed.
  bool last_incomplete = false;
  for (;;) {
    const int err = av_read_frame(fmt.get(), pkt.get());
    if (err == AVERROR_EOF) break;
    if (err < 0) {
      return DataLoss("%s: reading failed after %.2f s of video (%s): corrupt or truncated file", path,
                      video_end, av_error(err));
    }
    last_incomplete = (pkt->flags & AV_PKT_FLAG_CORRUPT) != 0;
    Status s = OkStatus();
    if (pkt->stream_index == vidx) {
      const int64_t ts = pkt->pts != AV_NOPTS_VALUE ? pkt->pts : pkt->dts;
      if (ts != AV_NOPTS_VALUE) {
        video_end = std::max(video_end, (ts + pkt->duration - start) * tb);
        end_known = true;
      }
      if (!video_done) s = decode_packet(vdec.get(), pkt.get(), frame.get(), &rejected, path, on_video);
    } else if (pkt->stream_index == aidx) {
      s = decode_packet(adec.get(), pkt.get(), frame.get(), &rejected, path, on_audio);
    }
    av_packet_unref(pkt.get());
    G12_RETURN_IF_ERROR(s);
  }
  if (!video_done)
    G12_RETURN_IF_ERROR(decode_packet(vdec.get(), nullptr, frame.get(), &rejected, path, on_video));
  if (adec) G12_RETURN_IF_ERROR(decode_packet(adec.get(), nullptr, frame.get(), &rejected, path, on_audio));

  if (decoded == 0) {
    return DataLoss("%s: no video frame could be decoded (%d corrupt packets): corrupt or truncated file",
                    path, rejected);
  }
  if (last_incomplete) return DataLoss("%s: truncated file: its last packet is incomplete", path);
  const double tolerance = std::max(2.5 * frame_dur, 0.2);
  if (declared && end_known && video_end < duration - tolerance) {
    return DataLoss("%s: truncated video: the data ends at %.2f s of the %.2f s the header declares", path,
                    video_end, duration);
  }

  DecodedVideo out;
  out.duration_s = duration;
  for (const Pick& p : picks) {
    if (!p.frame || (!out.frames.empty() && p.t == out.frames.back().t_seconds)) continue;
    G12_ASSIGN_OR_RETURN(RgbImage img, frame_to_rgb(p.frame.get(), path));
    out.frames.push_back(VideoFrame{p.t, std::move(img)});
  }
  if (!audio.mono.empty()) {
    G12_ASSIGN_OR_RETURN(out.audio.samples, resample_mono(audio.mono, audio.rate, 16000));
    out.audio.sample_rate = 16000;
  }
  return out;
}

}  // namespace gemma12b
