# Conan 2 recipe for gemma12b: `conan create conan/` from the repository root.
# Dependencies come from the system (Debian packages, see scripts/bootstrap.sh), as this project
# builds against Debian's oneDNN, Abseil, nlohmann-json, stb, libsamplerate, libwebp, libsndfile and FFmpeg; the recipe
# checks they are installed (Apt in "check" mode) instead of fetching them from a remote.
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
    options = {"onednn": [True, False]}
    default_options = {"onednn": True}
    package_type = "shared-library"

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

    def layout(self):
        cmake_layout(self)

    def generate(self):
        tc = CMakeToolchain(self)
        tc.cache_variables["GEMMA12B_ONEDNN"] = bool(self.options.onednn)
        tc.cache_variables["GEMMA12B_BUILD_TESTS"] = False
        tc.cache_variables["GEMMA12B_BUILD_EXAMPLES"] = False
        tc.generate()

    def build(self):
        cmake = CMake(self)
        cmake.configure()
        cmake.build()

    def package(self):
        CMake(self).install()

    def package_info(self):
        self.cpp_info.set_property("cmake_file_name", "gemma12b")
        self.cpp_info.set_property("pkg_config_name", "gemma12b")
        self.cpp_info.components["c"].libs = ["gemma12b"]
        self.cpp_info.components["c"].set_property("cmake_target_name", "gemma12b::gemma12b")
        self.cpp_info.components["cpp"].requires = ["c"]
        self.cpp_info.components["cpp"].set_property("cmake_target_name", "gemma12b::cpp")
