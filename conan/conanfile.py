# Conan 2 recipe for gemma12b: `conan create conan/` from the repository root.
# Dependencies come from the system (Debian packages, see scripts/bootstrap.sh), as this project
# builds against Debian's oneDNN, Abseil, nlohmann-json, stb, libsamplerate, libwebp, libsndfile and FFmpeg; the recipe
# checks they are installed (Apt in "check" mode) instead of fetching them from a remote.
# with_vulkan=True builds the Vulkan backend (needs libvulkan-dev and glslc; static consumers then
# link libvulkan too); the default leaves it out, as GEMMA12B_VULKAN=OFF does.
import os

from conan import ConanFile
from conan.tools.cmake import CMake, CMakeToolchain, cmake_layout
from conan.tools.files import copy
from conan.tools.system.package_manager import Apt


class Gemma12bConan(ConanFile):
    name = "gemma12b"
    version = "0.1.0"
    license = "MIT"
    description = "Gemma 4 12B inference library (C ABI + header-only C++ API)"
    topics = ("llm", "inference", "gemma", "gguf")
    settings = "os", "arch", "compiler", "build_type"
    options = {"shared": [True, False], "fPIC": [True, False], "with_onednn": [True, False],
               "with_vulkan": [True, False]}
    default_options = {"shared": True, "fPIC": True, "with_onednn": True, "with_vulkan": False}
    package_type = "library"

    # The static archive's link dependencies (what `pkg-config --static --libs gemma12b-static`
    # lists on Debian bookworm).
    _static_system_libs = [
        "absl_statusor", "absl_status", "absl_cord", "absl_cordz_info", "absl_cord_internal",
        "absl_cordz_functions", "absl_cordz_handle", "absl_strerror", "absl_hash", "absl_city",
        "absl_low_level_hash", "absl_raw_hash_set", "absl_bad_variant_access", "absl_str_format_internal",
        "absl_bad_optional_access", "absl_hashtablez_sampler", "absl_exponential_biased",
        "absl_synchronization", "absl_graphcycles_internal", "absl_stacktrace", "absl_symbolize",
        "absl_debugging_internal", "absl_demangle_internal", "absl_malloc_internal", "absl_time",
        "absl_civil_time", "absl_strings", "absl_strings_internal", "absl_base", "absl_spinlock_wait",
        "absl_int128", "absl_throw_delegate", "absl_raw_logging_internal", "absl_log_severity",
        "absl_time_zone", "stb", "samplerate", "webpdemux", "webp", "sndfile", "avformat", "avcodec",
        "swscale", "avutil", "swresample", "stdc++", "m", "pthread"]

    def config_options(self):
        if self.settings.os == "Windows":
            del self.options.fPIC

    def configure(self):
        if self.options.shared:
            self.options.rm_safe("fPIC")

    def export_sources(self):
        root = os.path.join(self.recipe_folder, "..")
        for pattern in ("CMakeLists.txt", "cmake/*", "src/*", "backends/*", "capi/*", "include/*", "LICENSE"):
            copy(self, pattern, root, self.export_sources_folder)

    def system_requirements(self):
        Apt(self).install(["libdnnl-dev", "ocl-icd-opencl-dev", "opencl-c-headers", "libopenblas-dev",
                           "libabsl-dev", "nlohmann-json3-dev", "libstb-dev", "libsamplerate0-dev",
                           "libwebp-dev", "libsndfile1-dev", "libavformat-dev", "libavcodec-dev",
                           "libswscale-dev", "libavutil-dev", "libswresample-dev"],
                          check=True)
        if self.options.with_vulkan:
            # The Vulkan loader and headers, and glslc for the shaders (build time only).
            Apt(self).install(["libvulkan-dev", "glslc"], check=True)

    def layout(self):
        cmake_layout(self)

    def generate(self):
        tc = CMakeToolchain(self)
        tc.cache_variables["GEMMA12B_ONEDNN"] = bool(self.options.with_onednn)
        # with_vulkan: the Vulkan backend (GEMMA12B_BACKEND_VULKAN), required when asked for.
        tc.cache_variables["GEMMA12B_VULKAN"] = "ON" if self.options.with_vulkan else "OFF"
        tc.cache_variables["GEMMA12B_BUILD_TESTS"] = False
        tc.cache_variables["GEMMA12B_BUILD_EXAMPLES"] = False
        tc.generate()

    def build(self):
        cmake = CMake(self)
        cmake.configure()
        cmake.build()

    def package(self):
        CMake(self).install()
        # The build makes both libgemma12b.so and libgemma12b.a; the package keeps the one asked for.
        libdir = os.path.join(self.package_folder, "lib")
        for name in os.listdir(libdir):
            is_static = name == "libgemma12b.a" or name == "gemma12b-static.pc"
            is_shared = name.startswith("libgemma12b.so")
            if (self.options.shared and is_static) or (not self.options.shared and is_shared):
                os.remove(os.path.join(libdir, name))
        pc = os.path.join(libdir, "pkgconfig", "gemma12b-static.pc")
        if self.options.shared and os.path.exists(pc):
            os.remove(pc)

    def package_info(self):
        self.cpp_info.set_property("cmake_file_name", "gemma12b")
        self.cpp_info.set_property("pkg_config_name", "gemma12b")
        self.cpp_info.components["c"].libs = ["gemma12b"]
        self.cpp_info.components["c"].set_property("cmake_target_name", "gemma12b::gemma12b")
        if not self.options.shared:
            cpu = ["dnnl"] if self.options.with_onednn else ["openblas"]
            vulkan = ["vulkan"] if self.options.with_vulkan else []
            self.cpp_info.components["c"].system_libs = cpu + vulkan + self._static_system_libs
        self.cpp_info.components["cpp"].requires = ["c"]
        self.cpp_info.components["cpp"].set_property("cmake_target_name", "gemma12b::cpp")
