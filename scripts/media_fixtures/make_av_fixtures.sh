#!/usr/bin/env bash
# Makes the audio/video fixtures of tests/unit/test_media_video.cpp and test_media_audio.cpp with
# the ffmpeg command-line tool (Debian's `ffmpeg` package; needed only to regenerate these files,
# not to build or test: the tests decode them with the FFmpeg / libsndfile libraries).
#   scripts/media_fixtures/make_av_fixtures.sh
#
# rgb-3s.mp4  64x48, 10 fps, 3.0 s of H.264 (yuv420p, baseline, no B-frames), seconds 0-1 solid
#             red, 1-2 solid green, 2-3 solid blue; AAC stereo 44.1 kHz track of a 440 Hz sine
#             at amplitude 1/8, 3.0 s; moov atom first (+faststart) so a cut file is a truncated
#             stream, not an unreadable header.
# rgb-3s.h264 the same video stream as a raw H.264 (Annex B) file: no container, no timestamps,
#             no declared duration (the decoder must measure it).
# sine-1s.mp3 MPEG-1 layer III, 44.1 kHz mono, 1.0 s of a 440 Hz sine at amplitude 1/8, written
#             with no ID3 tag (the decoder must recognise a bare MPEG frame stream).
set -euo pipefail
out="$(dirname "$0")/../../tests/fixtures/media"
mkdir -p "$out"
ff=(ffmpeg -hide_banner -loglevel error -y)

"${ff[@]}" \
  -f lavfi -i "color=c=red:s=64x48:r=10:d=1" \
  -f lavfi -i "color=c=lime:s=64x48:r=10:d=1" \
  -f lavfi -i "color=c=blue:s=64x48:r=10:d=1" \
  -f lavfi -i "sine=frequency=440:sample_rate=44100:duration=3" \
  -filter_complex "[0:v][1:v][2:v]concat=n=3:v=1:a=0[v];[3:a]pan=stereo|c0=c0|c1=c0[a]" \
  -map "[v]" -map "[a]" \
  -c:v libx264 -profile:v baseline -pix_fmt yuv420p -g 10 -crf 18 \
  -c:a aac -b:a 48k -ac 2 \
  -movflags +faststart -map_metadata -1 -fflags +bitexact -flags:v +bitexact -flags:a +bitexact \
  "$out/rgb-3s.mp4"

"${ff[@]}" -i "$out/rgb-3s.mp4" -an -c:v copy -bsf:v h264_mp4toannexb -f h264 "$out/rgb-3s.h264"

"${ff[@]}" -f lavfi -i "sine=frequency=440:sample_rate=44100:duration=1" \
  -c:a libmp3lame -b:a 32k -ac 1 -id3v2_version 0 -write_id3v1 0 -map_metadata -1 -fflags +bitexact \
  "$out/sine-1s.mp3"
