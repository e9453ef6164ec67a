#!/usr/bin/env bash
# One command for a fresh Debian bookworm machine: installs the Debian packages gemma12b needs,
# configures and builds (Release), then runs the main job on the bundled tiny model.
#   scripts/bootstrap.sh            # everything
#   GEMMA12B_SKIP_APT=1 scripts/bootstrap.sh   # packages already installed
#   GEMMA12B_BUILD_DIR=out scripts/bootstrap.sh
set -euo pipefail
cd "$(dirname "$0")/.."
BUILD_DIR=${GEMMA12B_BUILD_DIR:-build}
JOBS=${GEMMA12B_JOBS:-$(nproc)}

PACKAGES=(
  build-essential cmake ninja-build pkg-config git golang-go   # golang-go: the Go consumer
  libdnnl-dev ocl-icd-opencl-dev opencl-c-headers   # oneDNN (its CMake config wants OpenCL)
  libopenblas-dev libabsl-dev nlohmann-json3-dev doctest-dev
  libstb-dev libsamplerate0-dev                      # image decoding, audio resampling
  libwebp-dev libsndfile1-dev                         # WebP images; FLAC/MP3/Ogg audio
  libavformat-dev libavcodec-dev libswscale-dev libavutil-dev libswresample-dev  # video (FFmpeg)
  libvulkan-dev glslc                                 # the Vulkan backend (loader, headers, shader compiler)
  mesa-vulkan-drivers vulkan-tools vulkan-validationlayers  # lavapipe (CPU Vulkan), vulkaninfo, validation in CI
)
if [[ "${GEMMA12B_SKIP_APT:-0}" != 1 ]]; then
  SUDO=""
  if [[ $(id -u) != 0 ]]; then SUDO=sudo; fi
  export DEBIAN_FRONTEND=noninteractive
  $SUDO apt-get update -q
  $SUDO apt-get install -y -q --no-install-recommends "${PACKAGES[@]}"
fi

cmake -S . -B "$BUILD_DIR" -G Ninja -DCMAKE_BUILD_TYPE=Release
cmake --build "$BUILD_DIR" -j "$JOBS"

# The main job: load the bundled tiny Gemma 4 model, show what it holds, and generate greedily
# from a short token prompt.
"$BUILD_DIR/examples/cli/gemma12b-cli" info -m tests/fixtures/golden/text/tiny-gemma4.gguf
"$BUILD_DIR/examples/cli/gemma12b-cli" generate -m tests/fixtures/golden/text/tiny-gemma4.gguf \
  --tokens 2,126,308,283,71,194,314,247 -n 16 --greedy --show-logits 1
