"""
Packaging regression tests: the wheel carries the Twisted plugin the right
way, and an installed gracehttp is found by C{twist}.

Twisted finds plugins in every C{twisted/plugins} directory on
C{sys.path}; a wheel that ships C{twisted/__init__.py} or
C{twisted/plugins/__init__.py} would shadow Twisted itself, and one that
leaves the plugin out installs fine but C{twist gracehttp} is unknown
(daphne shipped such a release).
"""

import importlib.metadata
import json
import os
import shutil
import subprocess
import sys
import tempfile
import unittest
import zipfile

import gracehttp

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

_NOT_SOURCE = shutil.ignore_patterns(
    ".git",
    ".venv",
    "build",
    "dist",
    "*.egg-info",
    "__pycache__",
    ".pytest_cache",
    ".hypothesis",
    "_build",
    "dropin.cache",
)


class VersionTests(unittest.TestCase):
    """
    C{gracehttp.__version__} is what users expect of it.
    """

    def test_plainString(self):
        """gracehttp.__version__ is the plain version string incremental keeps (e.g. '0.1.0')."""
        from gracehttp import _version

        self.assertIs(type(gracehttp.__version__), str)
        self.assertEqual(gracehttp.__version__, _version.__version__.public())
        self.assertRegex(gracehttp.__version__, r"^\d+\.\d+\.\d+")


class WheelTests(unittest.TestCase):
    """
    A wheel built from the source tree.
    """

    @classmethod
    def setUpClass(cls):
        cls.directory = tempfile.TemporaryDirectory()
        # Build from a copy, so that no build/ left in the tree (with files
        # that no longer exist) can leak into the wheel, and the tree stays
        # clean.
        source = os.path.join(cls.directory.name, "source")
        shutil.copytree(REPO, source, ignore=_NOT_SOURCE)
        out = os.path.join(cls.directory.name, "dist")
        result = subprocess.run(
            [
                sys.executable,
                "-m",
                "pip",
                "wheel",
                "--no-deps",
                "--no-build-isolation",
                "--no-cache-dir",
                "--wheel-dir",
                out,
                source,
            ],
            capture_output=True,
            text=True,
            timeout=300,
        )
        if result.returncode != 0:
            cls.directory.cleanup()
            raise AssertionError("building the wheel failed:\n" + result.stdout + result.stderr)
        [name] = os.listdir(out)
        cls.wheelName = name
        cls.wheelPath = os.path.join(out, name)
        with zipfile.ZipFile(os.path.join(out, name)) as wheel:
            cls.names = set(wheel.namelist())
            [metadata] = [n for n in cls.names if n.endswith(".dist-info/METADATA")]
            cls.metadata = wheel.read(metadata).decode("utf-8")

    @classmethod
    def tearDownClass(cls):
        cls.directory.cleanup()

    def test_pluginIncluded(self):
        """The wheel contains twisted/plugins/gracehttp_plugin.py."""
        self.assertIn("twisted/plugins/gracehttp_plugin.py", self.names)

    def test_noTwistedPackageInit(self):
        """The wheel has no twisted/__init__.py nor twisted/plugins/__init__.py."""
        self.assertNotIn("twisted/__init__.py", self.names)
        self.assertNotIn("twisted/plugins/__init__.py", self.names)

    def test_nothingElseUnderTwisted(self):
        """The plugin is the only file the wheel puts under twisted/ (no dropin.cache)."""
        self.assertEqual(
            {n for n in self.names if n.startswith("twisted/")},
            {"twisted/plugins/gracehttp_plugin.py"},
        )

    def test_packageIncluded(self):
        """The gracehttp package, its version module and the demo are in the wheel."""
        for name in ["__init__.py", "_version.py", "tap.py", "demo.py", "_service.py"]:
            self.assertIn(f"gracehttp/{name}", self.names)
        self.assertFalse([n for n in self.names if n.startswith("tests/")])

    def test_everyModuleIncluded(self):
        """
        Every module of the source tree is in the wheel (a subpackage missing from setup.cfg's
        packages is not).
        """
        source = os.path.join(REPO, "src")
        modules = set()
        for root, dirs, files in os.walk(os.path.join(source, "gracehttp")):
            dirs[:] = [d for d in dirs if d != "__pycache__"]
            for name in files:
                if name.endswith(".py"):
                    path = os.path.relpath(os.path.join(root, name), source)
                    modules.add(path.replace(os.sep, "/"))
        self.assertTrue(modules)
        self.assertEqual(modules - self.names, set())

    def test_version(self):
        """The wheel's version is the one in gracehttp/_version.py (incremental)."""
        version = gracehttp.__version__
        self.assertIn(f"-{version}-", self.wheelName)
        self.assertIn(f"\nVersion: {version}\n", self.metadata)

    def test_dependencies(self):
        """The runtime dependencies are declared."""
        for requirement in ["twisted", "zope.interface", "incremental", "httptools"]:
            self.assertIn(f"Requires-Dist: {requirement}\n", self.metadata)
        self.assertIn("Requires-Python: >=3.11", self.metadata)

    def test_consoleScript(self):
        """
        The wheel's gracehttp command, installed, is twist gracehttp: it serves the application
        given as its argument and exits 0 on SIGTERM.
        """
        from .server import Subprocess

        prefix = os.path.join(self.directory.name, "prefix")
        result = subprocess.run(
            [
                *(sys.executable, "-m", "pip", "install", "--no-deps", "--no-cache-dir"),
                *("--ignore-installed", "--prefix", prefix, self.wheelPath),
            ],
            capture_output=True,
            text=True,
            timeout=300,
        )
        self.assertEqual(result.returncode, 0, result.stdout + result.stderr)
        version = f"python{sys.version_info[0]}.{sys.version_info[1]}"
        env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
        env["PYTHONPATH"] = os.path.join(prefix, "lib", version, "site-packages")
        env["PYTHONUNBUFFERED"] = "1"
        script = os.path.join(prefix, "bin", "gracehttp")
        child = Subprocess(
            [script, "gracehttp.demo:app", "--listen", "tcp:0:interface=127.0.0.1"],
            cwd=self.directory.name,
            env=env,
        )
        try:
            # Not a terminal: twist logs JSON.
            port = child.waitFor(r'"listening": "http://127\.0\.0\.1:(\d+)"', 120).group(1)
            version = child.waitFor(r'"version": "([^"]+)"').group(1)
            import httpx

            response = httpx.get(f"http://127.0.0.1:{port}/", timeout=30)
        finally:
            code = child.stop()
        self.assertEqual(response.status_code, 200)
        self.assertIn("gracehttp demo", response.text)
        self.assertEqual(version, gracehttp.__version__)
        self.assertEqual(code, 0, child.output())

    def test_tlsExtra(self):
        """gracehttp[tls] installs Twisted's TLS extra (pyOpenSSL and friends)."""
        self.assertIn("Provides-Extra: tls\n", self.metadata)
        self.assertRegex(self.metadata, r"Requires-Dist: twisted\[tls\]; extra == .tls.\n")


def _installedNonEditable():
    """
    Is gracehttp installed into this interpreter by a real (non-editable)
    install?
    """
    try:
        distribution = importlib.metadata.distribution("gracehttp")
    except importlib.metadata.PackageNotFoundError:
        return False
    directURL = distribution.read_text("direct_url.json")
    if directURL and json.loads(directURL).get("dir_info", {}).get("editable"):
        return False
    # A gracehttp.egg-info left in src/ by a build also looks "installed":
    # require the imported package and the plugin to be the installed files.
    package = distribution.locate_file("gracehttp/__init__.py")
    plugin = distribution.locate_file("twisted/plugins/gracehttp_plugin.py")
    return (
        os.path.exists(plugin)
        and os.path.exists(package)
        and os.path.samefile(package, gracehttp.__file__)
    )


class InstalledPluginTests(unittest.TestCase):
    """
    With gracehttp installed (non-editable), C{twist} finds the plugin.
    """

    @unittest.skipUnless(_installedNonEditable(), "gracehttp is not installed non-editable")
    def test_twistHelpListsGracehttp(self):
        """twist --help lists the gracehttp plugin."""
        twist = os.path.join(os.path.dirname(sys.executable), "twist")
        env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
        with tempfile.TemporaryDirectory() as directory:
            result = subprocess.run(
                [twist, "--help"],
                cwd=directory,
                env=env,
                capture_output=True,
                text=True,
                timeout=120,
            )
        self.assertEqual(result.returncode, 0, result.stderr)
        self.assertRegex(result.stdout, r"(?m)^\s+gracehttp\s+\S")
