"""The build step of routellm-c: the package bundles libroutellm.so, built by the source tree's
own Makefile.

`pip install ./python` (pip builds a local folder in place) runs `make <build>/libroutellm.so.X.Y.Z`
in the source tree this folder belongs to (the parent folder, or $ROUTELLM_SOURCE), which builds
the library or finds it up to date, and copies it into the package as routellm_c/libroutellm.so.
The build needs what `make` needs (`make deps` installs it); the version is the tree's VERSION
file. The bundled library finds the shipped routers, data and encoder weights in the tree it
was built from (or $ROUTELLM_HOME; docs/INSTALL.md, "Finding the data").
"""

import os
import shutil
import subprocess

from setuptools import setup
from setuptools.command.build_py import build_py
from setuptools.dist import Distribution

HERE = os.path.dirname(os.path.abspath(__file__))
SOURCE = os.path.abspath(os.environ.get("ROUTELLM_SOURCE") or os.path.join(HERE, ".."))


def read_version():
    path = os.path.join(SOURCE, "VERSION")
    if not os.path.exists(os.path.join(SOURCE, "Makefile")) or not os.path.exists(path):
        raise SystemExit("routellm-c: %s is not the routellm source tree (no Makefile or VERSION); "
                         "build from the tree's python/ folder or set ROUTELLM_SOURCE" % SOURCE)
    with open(path) as f:
        return f.read().strip()


VERSION = read_version()


class BuildWithLibrary(build_py):
    """build_py, then the shared library from the source tree's Makefile into the package."""

    def run(self):
        super().run()
        build = os.environ.get("BUILD", "build")
        target = "%s/libroutellm.so.%s" % (build, VERSION)
        jobs = str(os.cpu_count() or 1)
        subprocess.check_call(["make", "-C", SOURCE, "-j" + jobs, "BUILD=" + build, target])
        dest = os.path.join(self.build_lib, "routellm_c", "libroutellm.so")
        os.makedirs(os.path.dirname(dest), exist_ok=True)
        shutil.copyfile(os.path.join(SOURCE, target), dest)


class BinaryDistribution(Distribution):
    """The wheel holds a shared library: tag it for the platform, not as pure Python."""

    def has_ext_modules(self):
        return True


setup(version=VERSION, cmdclass={"build_py": BuildWithLibrary}, distclass=BinaryDistribution)
