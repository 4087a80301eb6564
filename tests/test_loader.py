"""
Tests for L{gracehttp._loader}: loading C{--app} references and telling
ASGI from WSGI.
"""

import functools
import os
import sys
import tempfile
import textwrap
import unittest

from gracehttp._errors import AppLoadError
from gracehttp._loader import detectInterface, loadApp


class _ModuleDirectory(unittest.TestCase):
    """
    Gives each test a fresh directory on C{sys.path} to write modules into.
    """

    def setUp(self):
        self.directory = tempfile.TemporaryDirectory()
        self.addCleanup(self.directory.cleanup)
        self.path = self.directory.name
        sys.path.insert(0, self.path)
        self.addCleanup(sys.path.remove, self.path)
        before = set(sys.modules)
        self.addCleanup(
            lambda: [sys.modules.pop(name) for name in set(sys.modules) - before]
        )

    def writeModule(self, name, source):
        """
        Write C{name.py} with C{source} into the test's directory.
        """
        with open(os.path.join(self.path, name + ".py"), "w") as f:
            f.write(textwrap.dedent(source))

    def assertOneLineError(self, reference, *fragments):
        """
        C{loadApp(reference)} raises L{AppLoadError} with a one-line message
        containing every fragment; return the message.
        """
        with self.assertRaises(AppLoadError) as caught:
            loadApp(reference)
        message = str(caught.exception)
        self.assertNotIn("\n", message)
        for fragment in fragments:
            self.assertIn(fragment, message)
        return message


class LoadAppTests(_ModuleDirectory):
    """
    L{loadApp} turns C{module:attribute} into the application.
    """

    def test_moduleAttribute(self):
        """module:attribute returns that attribute."""
        self.writeModule("loadermod1", "def app(environ, start_response): pass\n")
        import loadermod1

        self.assertIs(loadApp("loadermod1:app"), loadermod1.app)

    def test_dottedAttribute(self):
        """module:attribute.sub follows the attributes."""
        self.writeModule(
            "loadermod2",
            """
            class Holder:
                @staticmethod
                def app(environ, start_response):
                    pass
            """,
        )
        import loadermod2

        self.assertIs(loadApp("loadermod2:Holder.app"), loadermod2.Holder.app)

    def test_packageModule(self):
        """A dotted module path inside a package is imported."""
        os.mkdir(os.path.join(self.path, "loaderpkg"))
        self.writeModule("loaderpkg/__init__", "")
        self.writeModule("loaderpkg/web", "def app(environ, start_response): pass\n")
        from loaderpkg import web

        self.assertIs(loadApp("loaderpkg.web:app"), web.app)

    def test_factoryCall(self):
        """module:factory() serves what the factory returns."""
        self.writeModule(
            "loadermod3",
            """
            def inner(environ, start_response):
                pass
            def create():
                return inner
            """,
        )
        import loadermod3

        self.assertIs(loadApp("loadermod3:create()"), loadermod3.inner)

    def test_factoryRaises(self):
        """A factory that raises is a one-line AppLoadError naming the error."""
        self.writeModule("loadermod4", "def create():\n    raise RuntimeError('no config')\n")
        self.assertOneLineError("loadermod4:create()", "RuntimeError", "no config")

    def test_noSuchModule(self):
        """A module that does not exist is a one-line AppLoadError."""
        message = self.assertOneLineError("nosuchmodule_gracehttp:app")
        self.assertEqual(message, "No module named 'nosuchmodule_gracehttp'")

    def test_noSuchParentPackage(self):
        """A missing parent package is reported as the missing module."""
        self.assertOneLineError(
            "nosuchpackage_gracehttp.web:app", "No module named 'nosuchpackage_gracehttp'"
        )

    def test_moduleImportsMissingModule(self):
        """A missing import inside the app's module is reported as its failure."""
        self.writeModule("loadermod5", "import nosuchdependency_gracehttp\napp = None\n")
        self.assertOneLineError(
            "loadermod5:app",
            "importing 'loadermod5' failed",
            "nosuchdependency_gracehttp",
            "line 1",
        )

    def test_moduleRaises(self):
        """An exception while importing the module is one line with its place."""
        self.writeModule("loadermod6", "x = 1\nraise ValueError('bad\\nsetting')\n")
        self.assertOneLineError(
            "loadermod6:app", "ValueError: bad setting", "loadermod6.py", "line 2"
        )

    def test_syntaxError(self):
        """A syntax error in the module is one line naming file and line."""
        self.writeModule("loadermod7", "x = 1\ndef (:\n")
        self.assertOneLineError("loadermod7:app", "SyntaxError", "loadermod7.py", "line 2")

    def test_missingAttribute(self):
        """A missing attribute is a one-line AppLoadError naming it."""
        message = self.assertOneLineError("os:missing")
        self.assertEqual(message, "'os' has no attribute 'missing'")

    def test_missingNestedAttribute(self):
        """A missing attribute further down the path names where it is missing."""
        self.assertOneLineError("os:path.nothing", "'os:path' has no attribute 'nothing'")

    def test_notCallable(self):
        """An attribute that is not callable is a one-line AppLoadError."""
        message = self.assertOneLineError("os:sep")
        self.assertEqual(message, "'os:sep' is not callable (it is a str)")

    def test_badFormat(self):
        """References not of the form module:attribute are one-line errors."""
        for reference in ["os", "os:", ":app", "os:a-b", "os:path..join", "os:1x"]:
            with self.subTest(reference=reference):
                self.assertOneLineError(reference, "MODULE:ATTRIBUTE")

    def test_currentDirectoryImportable(self):
        """A module in the current directory loads even if it is not on sys.path."""
        directory = tempfile.TemporaryDirectory()
        self.addCleanup(directory.cleanup)
        with open(os.path.join(directory.name, "loadercwdmod.py"), "w") as f:
            f.write("def app(environ, start_response): pass\n")
        cwd = os.getcwd()
        self.addCleanup(os.chdir, cwd)
        os.chdir(directory.name)
        savedPath = sys.path[:]
        self.addCleanup(sys.path.__setitem__, slice(None), savedPath)
        sys.path[:] = [p for p in sys.path if p not in ("", cwd)]
        self.assertEqual(loadApp("loadercwdmod:app").__module__, "loadercwdmod")


class DetectInterfaceTests(unittest.TestCase):
    """
    L{detectInterface} follows DESIGN.md section 6.
    """

    def test_coroutineFunction(self):
        """An async function is ASGI."""

        async def app(scope, receive, send):
            pass

        self.assertEqual(detectInterface(app), "asgi")

    def test_plainFunction(self):
        """A plain function is WSGI."""

        def app(environ, start_response):
            pass

        self.assertEqual(detectInterface(app), "wsgi")

    def test_asyncCallInstance(self):
        """An instance whose __call__ is async is ASGI."""

        class App:
            async def __call__(self, scope, receive, send):
                pass

        self.assertEqual(detectInterface(App()), "asgi")

    def test_syncCallInstance(self):
        """An instance whose __call__ is sync is WSGI."""

        class App:
            def __call__(self, environ, start_response):
                pass

        self.assertEqual(detectInterface(App()), "wsgi")

    def test_asgi2Class(self):
        """A class whose instances have an async __call__ (ASGI 2) is ASGI."""

        class App:
            def __init__(self, scope):
                pass

            async def __call__(self, receive, send):
                pass

        self.assertEqual(detectInterface(App), "asgi")

    def test_awaitableClass(self):
        """A class whose instances are awaitable is ASGI."""

        class App:
            def __init__(self, scope, receive, send):
                pass

            def __await__(self):
                yield

        self.assertEqual(detectInterface(App), "asgi")

    def test_wsgiClass(self):
        """A class called per request with sync instances (a WSGI iterable) is WSGI."""

        class App:
            def __init__(self, environ, start_response):
                pass

            def __iter__(self):
                return iter([])

        self.assertEqual(detectInterface(App), "wsgi")

    def test_partialOfCoroutineFunction(self):
        """functools.partial of an async function is ASGI."""

        async def app(config, scope, receive, send):
            pass

        self.assertEqual(detectInterface(functools.partial(app, {})), "asgi")

    def test_markedCoroutineFunction(self):
        """A callable marked with asgiref's markcoroutinefunction is ASGI."""
        try:
            from asgiref.sync import markcoroutinefunction
        except ImportError:
            self.skipTest("asgiref is not installed")

        def app(scope, receive, send):
            pass

        self.assertEqual(detectInterface(markcoroutinefunction(app)), "asgi")

    def test_flask(self):
        """A Flask application is WSGI."""
        try:
            import flask
        except ImportError:
            self.skipTest("flask is not installed")
        self.assertEqual(detectInterface(flask.Flask(__name__)), "wsgi")

    def test_starlette(self):
        """A Starlette application is ASGI."""
        try:
            from starlette.applications import Starlette
        except ImportError:
            self.skipTest("starlette is not installed")
        self.assertEqual(detectInterface(Starlette()), "asgi")

    def test_demo(self):
        """The bundled demo is ASGI."""
        self.assertEqual(detectInterface(loadApp("gracehttp.demo:app")), "asgi")
