// Video files to sampled RGB frames (and optionally the audio track at 16 kHz mono) through
// Debian's FFmpeg libraries (libavformat / libavcodec demux and decode, libswscale converts to
// RGB24, libswresample to float). Any container and codec the installed FFmpeg decodes.
//
// Frame sampling: target times t_k = k / fps for every t_k < duration (t = 0 always); if that
// would be more than max_frames targets, then max_frames targets spread evenly instead,
// t_k = k * duration / max_frames (the HF video sampler's np.arange(0, n, n / num_frames)). Each
// target takes the decoded frame whose timestamp is nearest; a frame is returned once, so a
// target rate above the video's own frame rate yields fewer frames than targets. Timestamps are
// the chosen frames' own presentation times in seconds from the video stream's start. Video
// decoding stops after the frame nearest to the last target; the file is still read (demuxed)
// to its end so that truncation is noticed.
//
// Errors (never crashes): NotFound (no file), DataLoss (not a readable media file, corrupt or
// truncated: the video data ends before the duration the header declares), InvalidArgument (no
// video stream, bad options, audio over max_audio_seconds), Unimplemented (a codec this FFmpeg
// build cannot decode). FFmpeg's own log messages go wherever the process's av_log goes (the
// library does not change FFmpeg's global log settings).
#pragma once

#include <string>
#include <vector>

#include "io/audio.h"  // kDefaultMaxAudioSeconds
#include "io/image.h"  // RgbImage
#include "io/wav.h"    // MonoAudio
#include "util/status.h"

namespace gemma12b {

struct VideoOptions {
  double fps = 1.0;         // frames sampled per second of video (> 0)
  int max_frames = 32;      // at most this many frames, spread evenly over the video (>= 1)
  bool with_audio = false;  // also decode the first audio track
  double max_audio_seconds = kDefaultMaxAudioSeconds;  // <= 0: no limit (see audio.h)
};

struct VideoFrame {
  double t_seconds = 0.0;  // the frame's presentation time, from the stream start
  RgbImage image;          // the frame's coded size (sample aspect ratio not applied)
};

struct DecodedVideo {
  std::vector<VideoFrame> frames;  // in time order
  double duration_s = 0.0;         // the video stream's duration
  MonoAudio audio;                 // 16 kHz mono; empty (rate 0) unless with_audio and the file has audio
};

StatusOr<DecodedVideo> decode_video_file(const std::string& path, const VideoOptions& options = {});

// The sampling rule above: target times for a video of duration_s seconds (empty when fps <= 0
// or max_frames < 1).
std::vector<double> video_sample_times(double duration_s, double fps, int max_frames);

}  // namespace gemma12b
