"""
Tests for L{gracehttp._loader}: loading C{--app} references and telling
ASGI 3, ASGI 2 and WSGI apart.
"""

import functools
import os
import subprocess
import sys
import tempfile
import textwrap
import unittest

from gracehttp._errors import AppLoadError
from gracehttp._loader import (
    detectASGIVersion,
    detectInterface,
    loadApp,
    resolveInterface,
)

from .server import childEnvironment


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
        self.addCleanup(lambda: [sys.modules.pop(name) for name in set(sys.modules) - before])

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
    L{detectInterface} tells ASGI 3, ASGI 2 and WSGI applications apart.
    """

    def test_coroutineFunction(self):
        """An async def function is ASGI 3."""

        async def app(scope, receive, send):
            pass

        self.assertEqual(detectInterface(app), "asgi3")

    def test_asyncCallInstance(self):
        """An instance whose __call__ is async def is ASGI 3."""

        class App:
            async def __call__(self, scope, receive, send):
                pass

        self.assertEqual(detectInterface(App()), "asgi3")

    def test_syncCallReturningCoroutine(self):
        """
        A plain def __call__(self, scope, receive, send) that returns a coroutine (middleware) is
        ASGI 3.
        """

        async def inner(scope, receive, send):
            pass

        class Middleware:
            def __init__(self, app):
                self.app = app

            def __call__(self, scope, receive, send):
                return self.app(scope, receive, send)

        self.assertEqual(detectInterface(Middleware(inner)), "asgi3")

    def test_syncFunctionOfThree(self):
        """A plain function of (scope, receive, send) is ASGI 3."""

        def app(scope, receive, send):
            pass

        self.assertEqual(detectInterface(app), "asgi3")

    def test_asgi2Class(self):
        """A class whose instances have an async __call__(receive, send) is ASGI 2."""

        class App:
            def __init__(self, scope):
                pass

            async def __call__(self, receive, send):
                pass

        self.assertEqual(detectInterface(App), "asgi2")

    def test_asgi2ClassWithSyncCall(self):
        """A class built with the scope alone is ASGI 2, whatever its __call__."""

        class App:
            def __init__(self, scope):
                pass

            def __call__(self, receive, send):
                pass

        self.assertEqual(detectInterface(App), "asgi2")

    def test_asgi2Function(self):
        """A function of (scope) returning an instance (ASGI 2 double-callable) is ASGI 2."""

        class Instance:
            async def __call__(self, receive, send):
                pass

        def app(scope):
            return Instance()

        self.assertEqual(detectInterface(app), "asgi2")

    def test_awaitableClass(self):
        """A class whose instances are awaitable is ASGI 3."""

        class App:
            def __init__(self, scope, receive, send):
                pass

            def __await__(self):
                yield

        self.assertEqual(detectInterface(App), "asgi3")

    def test_wsgiFunction(self):
        """A plain function of (environ, start_response) is WSGI."""

        def app(environ, start_response):
            pass

        self.assertEqual(detectInterface(app), "wsgi")

    def test_wsgiCallableObject(self):
        """An instance whose __call__ takes (environ, start_response) is WSGI."""

        class App:
            def __call__(self, environ, start_response):
                pass

        self.assertEqual(detectInterface(App()), "wsgi")

    def test_wsgiClass(self):
        """A class called per request with sync instances (a WSGI iterable) is WSGI."""

        class App:
            def __init__(self, environ, start_response):
                pass

            def __iter__(self):
                return iter([])

        self.assertEqual(detectInterface(App), "wsgi")

    def test_partialOfCoroutineFunction(self):
        """functools.partial of an async function is ASGI 3."""

        async def app(config, scope, receive, send):
            pass

        self.assertEqual(detectInterface(functools.partial(app, {})), "asgi3")

    def test_partialOfWSGIFunction(self):
        """functools.partial of a WSGI function counts only the arguments left: WSGI."""

        def app(config, environ, start_response):
            pass

        self.assertEqual(detectInterface(functools.partial(app, {})), "wsgi")

    def test_partialOfSyncASGI3(self):
        """functools.partial leaving (scope, receive, send) of a plain function is ASGI 3."""

        def app(config, scope, receive, send):
            pass

        self.assertEqual(detectInterface(functools.partial(app, {})), "asgi3")

    def test_wrappedKeepsSignature(self):
        """
        A functools.wraps decorator around a plain ASGI 3 callable is ASGI 3 (its __wrapped__ is
        read).
        """

        def app(scope, receive, send):
            pass

        @functools.wraps(app)
        def wrapper(*args, **kwargs):
            return app(*args, **kwargs)

        self.assertEqual(detectInterface(wrapper), "asgi3")

    def test_undecidableIsWSGI(self):
        """A callable whose signature cannot tell (*args, or none at all) is taken to be WSGI."""

        def app(*args):
            pass

        self.assertEqual(detectInterface(app), "wsgi")
        self.assertEqual(detectInterface(max), "wsgi")

    def test_defaultsNotCounted(self):
        """
        Parameters with defaults are not required: (environ, start_response, extra=None) is WSGI.
        """

        def app(environ, start_response, extra=None):
            pass

        self.assertEqual(detectInterface(app), "wsgi")

    def test_markedCoroutineFunction(self):
        """A callable marked with asgiref's markcoroutinefunction is ASGI 3."""
        try:
            from asgiref.sync import markcoroutinefunction
        except ImportError:
            self.skipTest("asgiref is not installed")

        def app(scope):
            pass

        self.assertEqual(detectInterface(markcoroutinefunction(app)), "asgi3")

    def test_flask(self):
        """A Flask application is WSGI."""
        try:
            import flask
        except ImportError:
            self.skipTest("flask is not installed")
        self.assertEqual(detectInterface(flask.Flask(__name__)), "wsgi")

    def test_starlette(self):
        """A Starlette application, and one wrapped in Starlette middleware, are ASGI 3."""
        try:
            from starlette.applications import Starlette
            from starlette.middleware.gzip import GZipMiddleware
        except ImportError:
            self.skipTest("starlette is not installed")
        self.assertEqual(detectInterface(Starlette()), "asgi3")
        self.assertEqual(detectInterface(GZipMiddleware(Starlette())), "asgi3")

    def test_fastapi(self):
        """A FastAPI application is ASGI 3."""
        try:
            from fastapi import FastAPI
        except ImportError:
            self.skipTest("fastapi is not installed")
        self.assertEqual(detectInterface(FastAPI()), "asgi3")

    def test_django(self):
        """
        Django's WSGI handler is WSGI and its ASGI handler ASGI 3 (set up in a child: Django
        configures itself once per process).
        """
        try:
            import django  # noqa: F401
        except ImportError:
            self.skipTest("django is not installed")
        code = textwrap.dedent(
            """
            from gracehttp._loader import detectInterface, loadApp
            for reference in ["tests.apps.djangoproject.wsgi:application",
                              "tests.apps.djangoproject.asgi:application"]:
                print(detectInterface(loadApp(reference)))
            """
        )
        root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
        result = subprocess.run(
            [sys.executable, "-c", code],
            cwd=root,
            env=childEnvironment(),
            capture_output=True,
            text=True,
            timeout=120,
        )
        self.assertEqual(result.returncode, 0, result.stderr)
        self.assertEqual(result.stdout.split(), ["wsgi", "asgi3"])

    def test_demo(self):
        """The bundled demo is ASGI 3."""
        self.assertEqual(detectInterface(loadApp("gracehttp.demo:app")), "asgi3")


class DetectASGIVersionTests(unittest.TestCase):
    """
    L{detectASGIVersion} (C{--interface asgi}) tells ASGI 3 from ASGI 2.
    """

    def test_versions(self):
        """ASGI 3 and ASGI 2 shapes are told apart as by detectInterface."""

        async def asgi3(scope, receive, send):
            pass

        def plainASGI3(scope, receive, send):
            pass

        def asgi2(scope):
            pass

        class ASGI2:
            def __init__(self, scope):
                pass

        self.assertEqual(detectASGIVersion(asgi3), "asgi3")
        self.assertEqual(detectASGIVersion(plainASGI3), "asgi3")
        self.assertEqual(detectASGIVersion(asgi2), "asgi2")
        self.assertEqual(detectASGIVersion(ASGI2), "asgi2")

    def test_undecidable(self):
        """
        What is not recognisably ASGI is ASGI 3 unless it is a class (which cannot be ASGI 3 without
        __await__).
        """

        def anything(*args):
            pass

        class NotAwaitable:
            def __init__(self, scope, receive, send):
                pass

        self.assertEqual(detectASGIVersion(anything), "asgi3")
        self.assertEqual(detectASGIVersion(NotAwaitable), "asgi2")


class ResolveInterfaceTests(unittest.TestCase):
    """
    L{resolveInterface} turns an C{--interface} value into what is served.
    """

    def test_values(self):
        """auto and asgi detect; asgi3, asgi2 and wsgi are taken as given."""

        def plainASGI3(scope, receive, send):
            pass

        def wsgi(environ, start_response):
            pass

        self.assertEqual(resolveInterface(plainASGI3, "auto"), ("asgi3", True))
        self.assertEqual(resolveInterface(wsgi, "auto"), ("wsgi", True))
        self.assertEqual(resolveInterface(plainASGI3, "asgi"), ("asgi3", True))
        self.assertEqual(resolveInterface(wsgi, "asgi2"), ("asgi2", False))
        self.assertEqual(resolveInterface(plainASGI3, "asgi3"), ("asgi3", False))
        self.assertEqual(resolveInterface(plainASGI3, "wsgi"), ("wsgi", False))
