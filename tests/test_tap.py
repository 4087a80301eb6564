"""
Tests for L{gracehttp.tap}: the C{twist gracehttp} options, the reactor
they choose, and the one-line errors of the command line.

Option parsing is tested in process with WSGI applications (so no reactor
gets installed here); everything that installs a reactor or exits runs
C{twist} (or Python) in a child process.

This module doubles as the application module for those children: keep
its imports light and free of the reactor.
"""

import os
import socket
import subprocess
import sys
import tempfile
import textwrap
import unittest

from twisted.python.usage import UsageError

from gracehttp import tap

from .server import childEnvironment, runTwist, twistCommand

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def wsgiApp(environ, start_response):
    """
    A tiny WSGI application for option parsing.
    """
    start_response("200 OK", [("Content-Type", "text/plain")])
    return [b"wsgi\n"]


async def asgiApp(scope, receive, send):
    """
    A tiny ASGI application for option parsing.
    """


async def failingStartupApp(scope, receive, send):
    """
    An ASGI application whose lifespan startup fails.
    """
    if scope["type"] == "lifespan":
        await receive()
        await send({"type": "lifespan.startup.failed", "message": "database is down"})


def parse(*args):
    """
    Parse C{twist gracehttp} arguments in process.

    @rtype: L{tap.Options}
    """
    options = tap.Options()
    options.parseOptions(list(args))
    return options


class OptionsTests(unittest.TestCase):
    """
    L{tap.Options} parses and checks the command line.
    """

    def test_defaults(self):
        """Only --app given: documented defaults, interface detected."""
        options = parse("--app", "tests.test_tap:wsgiApp")
        self.assertIs(options["application"], wsgiApp)
        self.assertEqual(options["interface"], "wsgi")
        self.assertEqual(options["listen"], ["tcp:8000:interface=127.0.0.1"])
        self.assertEqual(options["threads"], 10)
        self.assertEqual(options["disconnectGracePeriod"], 3.0)
        self.assertEqual(options["lifespan"], "auto")
        self.assertEqual(options["lifespanTimeout"], 60.0)
        self.assertEqual(options["rootPath"], "")

    def test_allOptions(self):
        """Every option is parsed into its key."""
        options = parse(
            "--app=tests.test_tap:wsgiApp",
            "--interface=wsgi",
            "--threads=4",
            "--disconnect-grace-period=0.5",
            "--lifespan=off",
            "--lifespan-timeout=7.5",
            "--root-path=/api",
        )
        self.assertEqual(
            (
                options["interface"],
                options["threads"],
                options["disconnectGracePeriod"],
                options["lifespan"],
                options["lifespanTimeout"],
                options["rootPath"],
            ),
            ("wsgi", 4, 0.5, "off", 7.5, "/api"),
        )

    def test_listenRepeatable(self):
        """--listen may be given several times; all are kept, in order."""
        options = parse(
            "--app", "tests.test_tap:wsgiApp",
            "--listen", "tcp:8001:interface=127.0.0.1",
            "--listen", "unix:/tmp/gracehttp-test.sock",
        )
        self.assertEqual(
            options["listen"], ["tcp:8001:interface=127.0.0.1", "unix:/tmp/gracehttp-test.sock"]
        )

    def test_graceAlias(self):
        """--asgi-disconnect-grace-period is an alias (gunicorn's name)."""
        options = parse(
            "--app", "tests.test_tap:wsgiApp", "--asgi-disconnect-grace-period", "1.5"
        )
        self.assertEqual(options["disconnectGracePeriod"], 1.5)

    def test_graceZeroAndNegative(self):
        """A grace period of 0 (cancel at once) and a negative one (never) are valid."""
        for value in ["0", "-1"]:
            with self.subTest(value=value):
                options = parse(
                    "--app", "tests.test_tap:wsgiApp", "--disconnect-grace-period", value
                )
                self.assertEqual(options["disconnectGracePeriod"], float(value))

    def test_interfaceOverride(self):
        """--interface wsgi overrides detection."""
        options = parse("--app", "tests.test_tap:asgiApp", "--interface", "wsgi")
        self.assertEqual(options["interface"], "wsgi")

    def test_shortApp(self):
        """-a is short for --app."""
        self.assertIs(parse("-a", "tests.test_tap:wsgiApp")["application"], wsgiApp)

    def test_usageErrors(self):
        """Bad numbers, bad choices and a missing --app are UsageErrors."""
        cases = [
            ((), "--app is required"),
            (("--threads", "many"), "--threads"),
            (("--threads", "0"), "threads"),
            (("--interface", "cgi"), "--interface"),
            (("--lifespan", "maybe"), "--lifespan"),
            (("--lifespan-timeout", "0"), "lifespan timeout"),
            (("--lifespan-timeout", "soon"), "--lifespan-timeout"),
            (("--disconnect-grace-period", "abc"), "--disconnect-grace-period"),
            (("--disconnect-grace-period", "nan"), "--disconnect-grace-period"),
            (("--asgi-disconnect-grace-period", "inf"), "--disconnect-grace-period"),
        ]
        for args, fragment in cases:
            if args:
                args = ("--app", "tests.test_tap:wsgiApp") + args
            with self.subTest(args=args):
                with self.assertRaises(UsageError) as caught:
                    parse(*args)
                self.assertIn(fragment, str(caught.exception))

    def test_helpDocumentsOptions(self):
        """The opt_* docstrings are the --help text, one paragraph each."""
        text = str(tap.Options())
        for option in [
            "--app=",
            "--interface=",
            "--listen=",
            "--threads=",
            "--disconnect-grace-period=",
            "--asgi-disconnect-grace-period=",
            "--lifespan=",
            "--lifespan-timeout=",
            "--root-path=",
        ]:
            self.assertIn(option, text)
        self.assertNotIn("  " * 4 + "before", text)


def runChild(args, cwd=REPO, timeout=120):
    """
    Run a child with the test environment; return the completed process.
    """
    return subprocess.run(
        args,
        cwd=cwd,
        env=childEnvironment(),
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=timeout,
    )


class OneLineErrorTests(unittest.TestCase):
    """
    A mistake on the command line is one line on stderr and exit status 1,
    never a traceback (run through the real C{twist}).
    """

    def assertOneLineExit(self, *args, fragment):
        result = runChild(twistCommand() + ["gracehttp", *args])
        self.assertEqual(result.returncode, 1, result.stdout + result.stderr)
        lines = result.stderr.splitlines()
        self.assertEqual(len(lines), 1, result.stderr)
        self.assertNotIn("Traceback", result.stdout + result.stderr)
        self.assertIn(fragment, lines[0])

    def test_noSuchModule(self):
        """--app nosuch:app"""
        self.assertOneLineExit("--app", "nosuch:app", fragment="No module named 'nosuch'")

    def test_missingAttribute(self):
        """--app os:missing"""
        self.assertOneLineExit("--app", "os:missing", fragment="has no attribute 'missing'")

    def test_notCallable(self):
        """--app os:sep"""
        self.assertOneLineExit("--app", "os:sep", fragment="is not callable")

    def test_badListen(self):
        """--listen bogus:xx"""
        self.assertOneLineExit(
            "--app", "gracehttp.demo:app", "--listen", "bogus:xx", fragment="'bogus:xx'"
        )

    def test_asgiUnderOtherReactor(self):
        """An ASGI app under an explicitly chosen non-asyncio reactor names --reactor asyncio."""
        result = runChild(
            twistCommand() + ["--reactor", "select", "gracehttp", "--app", "gracehttp.demo:app"]
        )
        self.assertEqual(result.returncode, 1, result.stdout + result.stderr)
        [line] = result.stderr.splitlines()
        self.assertIn("--reactor asyncio", line)


_REACTOR_OF = textwrap.dedent(
    """
    import sys
    from twisted.application.twist._options import TwistOptions
    options = TwistOptions()
    options.parseOptions(sys.argv[1:])
    print(type(options["reactor"]).__module__)
    """
)


class ReactorChoiceTests(unittest.TestCase):
    """
    C{twist gracehttp} gives ASGI apps the asyncio reactor and WSGI apps
    Twisted's default one, and honours C{twist --reactor}.
    """

    def reactorFor(self, *args):
        result = runChild([sys.executable, "-c", _REACTOR_OF, *args])
        self.assertEqual(result.returncode, 0, result.stderr)
        return result.stdout.strip()

    def test_asgiGetsAsyncio(self):
        """An ASGI app with no --reactor runs on the asyncio reactor."""
        self.assertEqual(
            self.reactorFor("gracehttp", "--app", "tests.test_tap:asgiApp"),
            "twisted.internet.asyncioreactor",
        )

    def test_wsgiGetsDefault(self):
        """A WSGI app with no --reactor runs on Twisted's default reactor."""
        from twisted.internet.default import install

        self.assertEqual(
            self.reactorFor("gracehttp", "--app", "tests.test_tap:wsgiApp"),
            install.__module__,
        )

    def test_explicitReactorHonoured(self):
        """twist --reactor asyncio is honoured for a WSGI app."""
        self.assertEqual(
            self.reactorFor("--reactor", "asyncio", "gracehttp", "--app", "tests.test_tap:wsgiApp"),
            "twisted.internet.asyncioreactor",
        )


class StartFailureExitTests(unittest.TestCase):
    """
    Under C{twist}, a start-up failure is logged and the process exits with
    status 1.
    """

    def assertFailsToStart(self, *args, fragment):
        child = runTwist("gracehttp", *args, cwd=REPO)
        try:
            code = child.wait(60)
        finally:
            child.stop()
        output = child.output()
        self.assertEqual(code, 1, output)
        self.assertIn("gracehttp failed to start", output)
        self.assertIn(fragment, output)
        self.assertNotIn("gracehttp listening on", output)

    def test_lifespanStartupFailed(self):
        """lifespan.startup.failed: its message is logged, exit status 1."""
        self.assertFailsToStart(
            "--app", "tests.test_tap:failingStartupApp",
            "--listen", "tcp:0:interface=127.0.0.1",
            fragment="database is down",
        )

    def test_portInUse(self):
        """A port that cannot be listened on: logged, exit status 1."""
        with socket.socket() as taken:
            taken.bind(("127.0.0.1", 0))
            taken.listen()
            port = taken.getsockname()[1]
            self.assertFailsToStart(
                "--app", "gracehttp.demo:app",
                "--listen", f"tcp:{port}:interface=127.0.0.1",
                fragment=f"{port}",
            )


class TacTests(unittest.TestCase):
    """
    C{docs/examples/app.tac} runs under C{twistd -n -y}.
    """

    def test_exampleTac(self):
        """The example .tac serves the demo and stops on SIGTERM."""
        from .server import Subprocess

        twistd = os.path.join(os.path.dirname(sys.executable), "twistd")
        if not os.path.exists(twistd):
            self.skipTest("no twistd script next to the interpreter")
        tac = os.path.join(REPO, "docs", "examples", "app.tac")
        with tempfile.TemporaryDirectory() as directory:
            env = childEnvironment()
            env["GRACEHTTP_LISTEN"] = "tcp:0:interface=127.0.0.1"
            child = Subprocess([twistd, "-n", "-y", tac], cwd=directory, env=env)
            try:
                port = int(child.waitFor(r"gracehttp listening on http://127\.0\.0\.1:(\d+)").group(1))
                with socket.create_connection(("127.0.0.1", port), timeout=10) as s:
                    s.sendall(b"GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
                    response = b""
                    while chunk := s.recv(65536):
                        response += chunk
            finally:
                code = child.stop()
        self.assertTrue(response.startswith(b"HTTP/1.1 200"), response[:200])
        self.assertIn(b"gracehttp demo", response)
        self.assertNotEqual(code, 1, child.output())
