import os

from conan import ConanFile
from conan.tools.build import can_run
from conan.tools.cmake import CMake, cmake_layout


class TestPackage(ConanFile):
    settings = "os", "arch", "compiler", "build_type"
    generators = "CMakeDeps", "CMakeToolchain", "VirtualRunEnv"

    def requirements(self):
        self.requires(self.tested_reference_str)

    def layout(self):
        cmake_layout(self)

    def build(self):
        cmake = CMake(self)
        cmake.configure()
        cmake.build()

    def test(self):
        if can_run(self):
            # With GEMMA12B_TEST_MODEL set (e.g. the repo's tiny golden model) both also generate.
            self.run(os.path.join(self.cpp.build.bindir, "test_package"), env="conanrun")
            self.run(os.path.join(self.cpp.build.bindir, "test_package_c"), env="conanrun")
