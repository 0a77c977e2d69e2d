"""Builds the _attend extension with CMake (the repository's own build, python/CMakeLists.txt) and
puts it into the package. Used by `pip install ./python`; the test command builds the same module
into build/python/ without pip. CMAKE_BUILD_PARALLEL_LEVEL sets the build's jobs."""
import os
import subprocess
import sys

from setuptools import Extension, setup
from setuptools.command.build_ext import build_ext

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)


class CMakeBuild(build_ext):
    def build_extension(self, ext):
        target = os.path.abspath(os.path.dirname(self.get_ext_fullpath(ext.name)))  # .../attend
        build = os.path.join(os.path.abspath(self.build_temp), "cmake")
        subprocess.check_call(["cmake", "-S", ROOT, "-B", build, "-DCMAKE_BUILD_TYPE=Release",
                               "-DATTEND_BUILD_TESTS=OFF", f"-DPython3_EXECUTABLE={sys.executable}"]
                              + (["-G", "Ninja"] if _has("ninja") else []))
        subprocess.check_call(["cmake", "--build", build, "--target", "_attend"])
        built = os.path.join(build, "python", "attend")
        os.makedirs(target, exist_ok=True)
        for name in os.listdir(built):
            if name.startswith("_attend") and name.endswith(".so"):
                self.copy_file(os.path.join(built, name), os.path.join(target, name))


def _has(program):
    return any(os.access(os.path.join(p, program), os.X_OK) for p in os.environ.get("PATH", "").split(os.pathsep))


setup(ext_modules=[Extension("attend._attend", sources=[])], cmdclass={"build_ext": CMakeBuild})
