"""
Tests for L{gracehttp.tap}: the C{twist gracehttp} options, the reactor
they choose, and the one-line errors of the command line.

Option parsing is tested in process with WSGI applications (so no reactor
gets installed here); everything that installs a reactor or exits runs
C{twist} (or Python) in a child process.

This module doubles as the application module for those children: keep
its imports light and free of the reactor.
"""

import io
import os
import socket
import subprocess
import sys
import tempfile
import textwrap
import unittest
import warnings
from unittest import mock

from twisted.internet.testing import MemoryReactorClock
from twisted.logger import LogBeginner, Logger, LogLevel, LogPublisher

from gracehttp import _service, tap
from gracehttp._core import accesslog as _accesslog

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


def usageError(testCase, args, fragment):
    """
    Parsing C{args} in process is a usage error: one line on stderr that
    names the problem (contains C{fragment}) and C{--help}, and exit
    status 1.

    @type testCase: L{unittest.TestCase}
    """
    stderr = io.StringIO()
    with mock.patch.object(sys, "stderr", stderr):
        with testCase.assertRaises(SystemExit) as caught:
            parse(*args)
    testCase.assertEqual(caught.exception.code, 1)
    [line] = stderr.getvalue().splitlines()
    testCase.assertTrue(line.startswith("gracehttp: error: "), line)
    testCase.assertTrue(line.endswith(" (see twist gracehttp --help)"), line)
    testCase.assertIn(fragment, line)


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
            "--app",
            "tests.test_tap:wsgiApp",
            "--listen",
            "tcp:8001:interface=127.0.0.1",
            "--listen",
            "unix:/tmp/gracehttp-test.sock",
        )
        self.assertEqual(
            options["listen"], ["tcp:8001:interface=127.0.0.1", "unix:/tmp/gracehttp-test.sock"]
        )

    def test_graceAlias(self):
        """--asgi-disconnect-grace-period is an alias (gunicorn's name)."""
        options = parse("--app", "tests.test_tap:wsgiApp", "--asgi-disconnect-grace-period", "1.5")
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
        """--interface wsgi overrides detection; the value given is kept apart."""
        options = parse("--app", "tests.test_tap:asgiApp", "--interface", "wsgi")
        self.assertEqual((options["interface"], options["interfaceOption"]), ("wsgi", "wsgi"))

    def test_interfaceDetected(self):
        """Without --interface the detected one is served and 'auto' is what was given."""
        options = parse("--app", "tests.test_tap:wsgiApp")
        self.assertEqual((options["interface"], options["interfaceOption"]), ("wsgi", "auto"))

    def test_shortApp(self):
        """-a is short for --app."""
        self.assertIs(parse("-a", "tests.test_tap:wsgiApp")["application"], wsgiApp)

    def test_usageErrors(self):
        """
        Bad numbers, bad choices, unknown options and a missing --app are one-line usage errors,
        exit status 1.
        """
        cases = [
            ((), "no application to serve: twist gracehttp MODULE:ATTRIBUTE"),
            (("--no-such-option",), "no-such-option"),
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
                args = ("--app", "tests.test_tap:wsgiApp", *args)
            with self.subTest(args=args):
                usageError(self, args, fragment)

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
            "--limit-request-header-size=",
            "--limit-request-headers=",
            "--limit-request-body=",
            "--timeout-header=",
            "--timeout-keep-alive=",
            "--limit-concurrency=",
            "--limit-connections=",
            "--graceful-timeout=",
            "--proxy-headers",
            "--forwarded-allow-ips=",
            "--access-log=",
            "--access-log-format=",
            "--log-level=",
        ]:
            self.assertIn(option, text)
        for name, method in vars(tap.Options).items():
            if name.startswith("opt_"):
                self.assertNotIn("  ", method.__doc__, name)
                self.assertNotIn("\n", method.__doc__, name)


def makeServiceInMemory(options):
    """
    L{tap.makeService} on a L{MemoryReactorClock}, so that no reactor gets
    installed in the test process.
    """
    reactor = MemoryReactorClock()
    real = _service.makeService
    with mock.patch.object(
        _service, "makeService", lambda *a, **kw: real(*a, reactor=reactor, **kw)
    ):
        return tap.makeService(options)


class HardeningOptionsTests(unittest.TestCase):
    """
    The limits, timeouts, shutdown, proxy and logging options (issue 3).
    """

    def test_defaults(self):
        """Without them: the documented defaults."""
        options = parse("--app", "tests.test_tap:wsgiApp")
        self.assertEqual(
            {
                name: options[name]
                for name in [
                    "limitRequestHeaderSize",
                    "limitRequestHeaders",
                    "limitRequestBody",
                    "timeoutHeader",
                    "timeoutKeepAlive",
                    "limitConcurrency",
                    "limitConnections",
                    "gracefulTimeout",
                    "proxyHeaders",
                    "forwardedAllowIPs",
                    "accessLog",
                    "logLevel",
                ]
            },
            {
                "limitRequestHeaderSize": 65536,
                "limitRequestHeaders": 100,
                "limitRequestBody": None,
                "timeoutHeader": 10.0,
                "timeoutKeepAlive": 5.0,
                "limitConcurrency": None,
                "limitConnections": None,
                "gracefulTimeout": 30.0,
                "proxyHeaders": False,
                "forwardedAllowIPs": ("127.0.0.1",),
                "accessLog": "-",
                "logLevel": None,
            },
        )
        self.assertEqual(options["accessLogFormat"], _accesslog.DEFAULT_FORMAT)

    def test_allParsed(self):
        """Every option is parsed into its key, with its type."""
        options = parse(
            "--app=tests.test_tap:wsgiApp",
            "--limit-request-header-size=8192",
            "--limit-request-headers=20",
            "--limit-request-body=1048576",
            "--timeout-header=2.5",
            "--timeout-keep-alive=0",
            "--limit-concurrency=64",
            "--limit-connections=1000",
            "--graceful-timeout=0",
            "--proxy-headers",
            "--forwarded-allow-ips=10.0.0.0/8, 192.168.1.1,::1",
            "--access-log=off",
            "--access-log-format={method} {path} {status}",
            "--log-level=warn",
        )
        self.assertEqual(
            [
                options[name]
                for name in [
                    "limitRequestHeaderSize",
                    "limitRequestHeaders",
                    "limitRequestBody",
                    "timeoutHeader",
                    "timeoutKeepAlive",
                    "limitConcurrency",
                    "limitConnections",
                    "gracefulTimeout",
                    "proxyHeaders",
                    "forwardedAllowIPs",
                    "accessLog",
                    "accessLogFormat",
                    "logLevel",
                ]
            ],
            [
                8192,
                20,
                1048576,
                2.5,
                0.0,
                64,
                1000,
                0.0,
                True,
                ("10.0.0.0/8", "192.168.1.1", "::1"),
                "off",
                "{method} {path} {status}",
                "warn",
            ],
        )

    def test_trustEveryone(self):
        """--forwarded-allow-ips '*' trusts every peer."""
        options = parse("--app", "tests.test_tap:wsgiApp", "--forwarded-allow-ips", "*")
        self.assertEqual(options["forwardedAllowIPs"], ("*",))

    def test_usageErrors(self):
        """
        Bad numbers, ranges, addresses, formats and levels are one-line usage errors naming the
        option.
        """
        cases = [
            (("--limit-request-header-size", "64K"), "--limit-request-header-size"),
            (("--limit-request-header-size", "0"), "limit request header size"),
            (("--limit-request-headers", "-1"), "limit request headers"),
            (("--limit-request-body", "big"), "--limit-request-body"),
            (("--limit-request-body", "-5"), "limit request body"),
            (("--timeout-header", "0"), "timeout header"),
            (("--timeout-header", "soon"), "--timeout-header"),
            (("--timeout-keep-alive", "-1"), "timeout keep-alive"),
            (("--limit-concurrency", "0"), "limit concurrency"),
            (("--limit-connections", "1.5"), "--limit-connections"),
            (("--graceful-timeout", "-1"), "graceful timeout"),
            (("--graceful-timeout", "inf"), "--graceful-timeout"),
            (("--forwarded-allow-ips", "10.0.0.0/33"), "'10.0.0.0/33'"),
            (("--forwarded-allow-ips", "proxy.local"), "'proxy.local'"),
            (("--forwarded-allow-ips", ","), "at least one address"),
            (("--access-log-format", "{nosuch}"), "unknown access log field"),
            (("--log-level", "loud"), "--log-level"),
        ]
        for args, fragment in cases:
            with self.subTest(args=args):
                usageError(self, ("--app", "tests.test_tap:wsgiApp", *args), fragment)

    def test_settingsReachFactory(self):
        """makeService builds the HTTP settings from the options."""
        from gracehttp._settings import HTTPSettings

        options = parse(
            "--app=tests.test_tap:wsgiApp",
            "--limit-request-header-size=8192",
            "--limit-request-headers=20",
            "--limit-request-body=1000",
            "--timeout-header=2",
            "--timeout-keep-alive=1",
            "--limit-concurrency=3",
            "--limit-connections=4",
            "--proxy-headers",
            "--forwarded-allow-ips=10.0.0.0/8",
            "--disconnect-grace-period=1.5",
            "--access-log=off",
            "--graceful-timeout=7",
        )
        service = makeServiceInMemory(options)
        self.assertEqual(
            service._factory.settings,
            HTTPSettings(
                disconnectGracePeriod=1.5,
                limitRequestHeaderSize=8192,
                limitRequestHeaders=20,
                limitRequestBody=1000,
                timeoutHeader=2.0,
                timeoutKeepAlive=1.0,
                limitConcurrency=3,
                limitConnections=4,
                proxyHeaders=True,
                forwardedAllowIPs=("10.0.0.0/8",),
            ),
        )
        self.assertIsNone(service._state.requestLog)
        self.assertEqual(service._gracefulTimeout, 7.0)


class WSGIChunkedBodyOptionTests(unittest.TestCase):
    """
    C{--wsgi-chunked-body spool|stream}: how a WSGI application gets a
    chunked request body.
    """

    def test_default(self):
        """Without it chunked bodies are spooled, and the adapter is told so."""
        options = parse("--app", "tests.test_tap:wsgiApp")
        self.assertEqual(options["wsgiChunkedBody"], "spool")
        self.assertTrue(makeServiceInMemory(options).adapter._spoolChunked)

    def test_stream(self):
        """--wsgi-chunked-body stream reaches the adapter."""
        options = parse("--app", "tests.test_tap:wsgiApp", "--wsgi-chunked-body", "stream")
        self.assertEqual(options["wsgiChunkedBody"], "stream")
        self.assertFalse(makeServiceInMemory(options).adapter._spoolChunked)

    def test_badValue(self):
        """Another value is a one-line usage error naming the option; --help lists it."""
        usageError(
            self,
            ["--app", "tests.test_tap:wsgiApp", "--wsgi-chunked-body", "buffer"],
            "--wsgi-chunked-body must be one of spool, stream",
        )
        self.assertIn("--wsgi-chunked-body=", str(tap.Options()))


class AccessLogOptionTests(unittest.TestCase):
    """
    C{--access-log} picks where the access log goes.
    """

    def stateFor(self, *args):
        options = parse("--app", "tests.test_tap:wsgiApp", "--listen", "tcp:0", *args)
        return makeServiceInMemory(options)._state

    def test_defaultIsProcessLog(self):
        """By default finished requests go to the process's log."""
        self.assertIsInstance(self.stateFor().requestLog, _accesslog.AccessLog)

    def test_off(self):
        """--access-log off logs nothing: no hook at all."""
        self.assertIsNone(self.stateFor("--access-log", "off").requestLog)

    def test_path(self):
        """--access-log PATH writes to that file."""
        with tempfile.TemporaryDirectory() as directory:
            path = os.path.join(directory, "access.log")
            requestLog = self.stateFor("--access-log", path).requestLog
            self.assertIsInstance(requestLog, _accesslog.AccessLog)
            self.assertTrue(os.path.exists(path))

    def test_unwritablePath(self):
        """A file that cannot be opened is one line and exit status 1."""
        with self.assertRaises(SystemExit) as caught:
            self.stateFor("--access-log", "/nonexistent-gracehttp-dir/access.log")
        self.assertEqual(caught.exception.code, 1)


class LogLevelTests(unittest.TestCase):
    """
    C{--log-level} filters the process's log.
    """

    def test_twistLevel(self):
        """Under twist, twist's own log level is set (it builds its observer later)."""
        options = parse("--app", "tests.test_tap:wsgiApp", "--log-level", "error")
        options.parent = {"logLevel": LogLevel.info}
        tap.setLogLevel(options, LogLevel.error)
        self.assertEqual(options.parent["logLevel"], LogLevel.error)

    def test_filtersBeginner(self):
        """Elsewhere (twistd), the observers the process logs to drop events below the level."""
        publisher = LogPublisher()
        beginner = LogBeginner(publisher, io.StringIO(), sys, warnings)
        options = parse("--app", "tests.test_tap:wsgiApp")
        tap.setLogLevel(options, LogLevel.warn, beginner)
        seen = []
        beginner.beginLoggingTo([seen.append], redirectStandardIO=False)
        log = Logger(observer=publisher)
        log.info("quiet")
        log.warn("loud")
        log.error("louder")
        self.assertEqual([event["log_format"] for event in seen], ["loud", "louder"])


def runChild(args, cwd=REPO, timeout=120, env=None):
    """
    Run a child with the test environment (made from C{env}, default ours);
    return the completed process.
    """
    return subprocess.run(
        args,
        cwd=cwd,
        env=childEnvironment(env),
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

    def assertOneLineExit(self, *args, fragment, env=None):
        result = runChild([*twistCommand(), "gracehttp", *args], env=env)
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

    def test_webSocketsForWSGI(self):
        """--ws on with a WSGI application: WSGI has no WebSockets."""
        self.assertOneLineExit(
            "--app",
            "tests.test_tap:wsgiApp",
            "--ws",
            "on",
            fragment="--ws on needs an ASGI application: a WSGI application has no WebSockets",
        )

    def test_tlsWithoutPyOpenSSL(self):
        """--listen ssl:... without pyOpenSSL names the gracehttp[tls] extra."""
        with tempfile.TemporaryDirectory() as directory:
            # Hide pyOpenSSL from the child, as if it were not installed.
            with open(os.path.join(directory, "sitecustomize.py"), "w") as f:
                f.write("import sys\nsys.modules['OpenSSL'] = None\n")
            env = dict(os.environ)
            env["PYTHONPATH"] = os.pathsep.join(filter(None, [directory, env.get("PYTHONPATH")]))
            self.assertOneLineExit(
                "--app",
                "gracehttp.demo:app",
                "--listen",
                "ssl:8443:privateKey=key.pem:certKey=cert.pem",
                fragment="cannot listen on 'ssl:8443:privateKey=key.pem:certKey=cert.pem': "
                "TLS needs pyOpenSSL: pip install 'gracehttp[tls]'",
                env=env,
            )

    def test_usageError(self):
        """A bad value is the one problem and a pointer to --help, not the whole help text."""
        result = runChild(
            [*twistCommand(), "gracehttp", "--app", "gracehttp.demo:app", "--threads", "x"]
        )
        self.assertEqual(result.returncode, 1, result.stdout + result.stderr)
        self.assertEqual(
            result.stderr,
            "gracehttp: error: --threads must be a whole number, not 'x' "
            "(see twist gracehttp --help)\n",
        )
        self.assertEqual(result.stdout, "")

    def test_unknownOption(self):
        """An unknown option is one line too."""
        self.assertOneLineExit("--app", "gracehttp.demo:app", "--no-such-option", fragment="--help")

    def test_missingApp(self):
        """No --app at all: one line."""
        self.assertOneLineExit(fragment="no application to serve")

    def test_asgiUnderOtherReactor(self):
        """An ASGI app under an explicitly chosen non-asyncio reactor names --reactor asyncio."""
        result = runChild(
            [*twistCommand(), "--reactor", "select", "gracehttp", "--app", "gracehttp.demo:app"]
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
            "--app",
            "tests.test_tap:failingStartupApp",
            "--listen",
            "tcp:0:interface=127.0.0.1",
            fragment="database is down",
        )

    def assertListenFailsInOneLine(self, description, reason):
        """
        C{--listen DESCRIPTION} fails once the application started: one log
        line names the endpoint and the reason, no traceback, status 1.
        """
        child = runTwist(
            "gracehttp", "--app", "tests.test_tap:wsgiApp", "--listen", description, cwd=REPO
        )
        try:
            code = child.wait(60)
        finally:
            child.stop()
        output = child.output()
        self.assertEqual(code, 1, output)
        self.assertNotIn("Traceback", output)
        self.assertFalse([line for line in output.splitlines() if line.startswith("\t")], output)
        [line] = [line for line in output.splitlines() if "failed to start" in line]
        self.assertTrue(
            line.endswith(f"gracehttp failed to start: cannot listen on {description!r}: {reason}"),
            line,
        )

    def test_portOutOfRange(self):
        """--listen tcp:99999: one line, exit status 1."""
        self.assertListenFailsInOneLine("tcp:99999", "bind(): port must be 0-65535.")

    def test_unixSocketInMissingDirectory(self):
        """--listen unix:/nonexistent/dir/x.sock: one line, exit status 1."""
        self.assertListenFailsInOneLine(
            "unix:/nonexistent-gracehttp/dir/x.sock", "No such file or directory"
        )

    def test_starletteLifespanTraceback(self):
        """
        Starlette's failed lifespan startup: one summary line, then its traceback, readable and
        once.
        """
        child = runTwist(
            "gracehttp",
            "--app",
            "tests.apps.failing_lifespan:app",
            "--listen",
            "tcp:0:interface=127.0.0.1",
            cwd=REPO,
        )
        try:
            code = child.wait(60)
        finally:
            child.stop()
        output = child.output()
        self.assertEqual(code, 1, output)
        lines = output.splitlines()
        [summary] = [line for line in lines if "failed to start" in line]
        self.assertTrue(
            summary.endswith("gracehttp failed to start: RuntimeError: database is down"),
            summary,
        )
        self.assertEqual(output.count("Traceback (most recent call last):"), 1, output)
        self.assertIn('\t    raise RuntimeError("database is down")', lines)
        self.assertEqual(lines[lines.index(summary) + 1], "\tTraceback (most recent call last):")
        self.assertLess(max(len(line) for line in lines), 200, output)

    def test_portInUse(self):
        """A port that cannot be listened on: logged, exit status 1."""
        with socket.socket() as taken:
            taken.bind(("127.0.0.1", 0))
            taken.listen()
            port = taken.getsockname()[1]
            self.assertFailsToStart(
                "--app",
                "gracehttp.demo:app",
                "--listen",
                f"tcp:{port}:interface=127.0.0.1",
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
                port = int(
                    child.waitFor(r"gracehttp listening on http://127\.0\.0\.1:(\d+)").group(1)
                )
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


def configFile(testCase, text):
    """
    Write a configuration file (dedented C{text}) removed after the test.

    @return: its path.
    """
    directory = tempfile.TemporaryDirectory()
    testCase.addCleanup(directory.cleanup)
    path = os.path.join(directory.name, "gracehttp.toml")
    with open(path, "w") as f:
        f.write(textwrap.dedent(text))
    return path


def parseWith(environ, *args):
    """
    Parse C{args} in process with C{environ} added to the environment.

    @rtype: L{tap.Options}
    """
    with mock.patch.dict(os.environ, environ):
        return parse(*args)


class ConfigurationLayerTests(unittest.TestCase):
    """
    Options come from the command line, else C{GRACEHTTP_*} variables, else
    the C{--config} file, else their defaults.
    """

    def setUp(self):
        self.path = configFile(
            self,
            """
            app = "tests.test_tap:wsgiApp"
            threads = 2
            root-path = "/file"
            listen = ["tcp:8001", "tcp:8002"]
            proxy-headers = true
            forwarded-allow-ips = ["10.0.0.0/8"]
            timeout-keep-alive = 0.5
            """,
        )

    def test_file(self):
        """Every kind of value in the file reaches the options and the Config."""
        options = parseWith({}, "--config", self.path)
        self.assertIs(options["application"], wsgiApp)
        config = options["config"]
        self.assertEqual(config.threads, 2)
        self.assertEqual(config.rootPath, "/file")
        self.assertEqual(config.listen, ("tcp:8001", "tcp:8002"))
        self.assertIs(config.proxyHeaders, True)
        self.assertEqual(config.forwardedAllowIPs, ("10.0.0.0/8",))
        self.assertEqual(config.timeoutKeepAlive, 0.5)
        self.assertEqual(config.lifespan, "auto")

    def test_environmentOverFile(self):
        """A GRACEHTTP_ variable wins over the file; the file's other values stay."""
        options = parseWith(
            {"GRACEHTTP_THREADS": "3", "GRACEHTTP_LISTEN": "tcp:8003"}, "--config", self.path
        )
        self.assertEqual(options["config"].threads, 3)
        self.assertEqual(options["config"].listen, ("tcp:8003",))
        self.assertEqual(options["config"].rootPath, "/file")

    def test_flagsWinWhereverTheyStand(self):
        """A flag wins over the environment and the file, before or after --config."""
        environ = {"GRACEHTTP_THREADS": "3", "GRACEHTTP_ROOT_PATH": "/env"}
        for args in [
            ("--threads", "4", "--listen", "tcp:8004", "--config", self.path),
            ("--config", self.path, "--threads=4", "--listen=tcp:8004"),
        ]:
            with self.subTest(args=args):
                config = parseWith(environ, *args)["config"]
                self.assertEqual(config.threads, 4)
                self.assertEqual(config.listen, ("tcp:8004",))
                self.assertEqual(config.rootPath, "/env")

    def test_configVariable(self):
        """GRACEHTTP_CONFIG names the file when --config does not."""
        options = parseWith({"GRACEHTTP_CONFIG": self.path})
        self.assertEqual(options["config"].threads, 2)
        other = configFile(self, 'app = "tests.test_tap:wsgiApp"\nthreads = 7\n')
        options = parseWith({"GRACEHTTP_CONFIG": self.path}, "--config", other)
        self.assertEqual(options["config"].threads, 7)

    def test_appFromEnvironment(self):
        """GRACEHTTP_APP gives the application; the argument wins over it."""
        options = parseWith({"GRACEHTTP_APP": "tests.test_tap:nothing"}, "tests.test_tap:wsgiApp")
        self.assertIs(options["application"], wsgiApp)
        options = parseWith({"GRACEHTTP_APP": "tests.test_tap:wsgiApp"})
        self.assertIs(options["application"], wsgiApp)

    def test_mountsFromFile(self):
        """mount in the file is --mount, repeatable: without an application, mounts alone."""
        path = configFile(
            self, 'mount = ["/w=tests.test_tap:wsgiApp", "/a=tests.test_tap:wsgiApp@wsgi"]\n'
        )
        options = parseWith({}, "--config", path)
        self.assertIsNone(options["application"])
        self.assertEqual(options["mounts"], {"/w": (wsgiApp, "auto"), "/a": (wsgiApp, "wsgi")})

    def test_logLevelFromFile(self):
        """log-level in the file is --log-level."""
        path = configFile(self, 'app = "tests.test_tap:wsgiApp"\nlog-level = "warn"\n')
        self.assertEqual(parseWith({}, "--config", path)["logLevel"], "warn")

    def test_badFile(self):
        """A missing file, text that is not TOML, an unknown key or a wrong type: one line."""
        cases = [
            ("", "cannot read the configuration file"),
            ("threads 4\n", "is not a TOML file: "),
            ('acces-log = "off"\n', "unknown key 'acces-log' (did you mean 'access-log'?)"),
            ("threads = '4'\n", "threads must be an integer, not a string ('4')"),
        ]
        for text, fragment in cases:
            with self.subTest(text=text):
                path = configFile(self, text) if text else "/nonexistent/gracehttp.toml"
                with mock.patch.dict(os.environ, {}):
                    usageError(self, ("tests.test_tap:wsgiApp", "--config", path), fragment)

    def test_badVariable(self):
        """A bad GRACEHTTP_ value: one line naming the variable."""
        with mock.patch.dict(os.environ, {"GRACEHTTP_THREADS": "many"}):
            usageError(
                self,
                ("tests.test_tap:wsgiApp",),
                "GRACEHTTP_THREADS must be a whole number, not 'many'",
            )


class PositionalAppTests(unittest.TestCase):
    """
    The application may be the one argument, before or after the options.
    """

    def test_before(self):
        """twist gracehttp main:app --threads 4"""
        options = parse(
            "tests.test_tap:wsgiApp",
            "--threads",
            "4",
            "--root-path=/x",
            "--h2c",
            "--disconnect-grace-period",
            "-1",
        )
        self.assertIs(options["application"], wsgiApp)
        config = options["config"]
        self.assertEqual(
            (config.threads, config.rootPath, config.h2c, config.disconnectGracePeriod),
            (4, "/x", True, -1.0),
        )

    def test_after(self):
        """twist gracehttp --threads 4 main:app"""
        options = parse("--threads", "4", "-a", "tests.test_tap:wsgiApp", "--listen", "tcp:1")
        self.assertIs(options["application"], wsgiApp)
        options = parse("--threads", "4", "tests.test_tap:wsgiApp")
        self.assertIs(options["application"], wsgiApp)
        self.assertEqual(options["config"].threads, 4)

    def test_between(self):
        """An argument between options, and one after --."""
        options = parse("--threads", "4", "tests.test_tap:wsgiApp", "--listen", "tcp:1")
        self.assertEqual((options["application"], options["config"].listen), (wsgiApp, ("tcp:1",)))
        self.assertIs(
            parse("--threads", "4", "--", "tests.test_tap:wsgiApp")["application"], wsgiApp
        )

    def test_appTwice(self):
        """An argument and --app: one line."""
        usageError(
            self,
            ("tests.test_tap:wsgiApp", "--app", "tests.test_tap:asgiApp"),
            "the application is given twice: 'tests.test_tap:wsgiApp' and --app "
            "'tests.test_tap:asgiApp'",
        )

    def test_twoArguments(self):
        """Two arguments: one line."""
        usageError(
            self,
            ("tests.test_tap:wsgiApp", "tests.test_tap:asgiApp"),
            "one application argument is taken, not 'tests.test_tap:wsgiApp' "
            "'tests.test_tap:asgiApp'",
        )

    def test_helpSynopsis(self):
        """--help says the application may be an argument, and documents --config."""
        options = tap.Options()
        text = str(options)
        self.assertTrue(
            text.startswith(
                "Usage: twist [twist options] gracehttp [options] [MODULE:ATTRIBUTE]\n"
            ),
            text,
        )
        self.assertIn("--config=", text)
        self.assertIn("GRACEHTTP_ACCESS_LOG", text)


class ConfigurationEndToEndTests(unittest.TestCase):
    """
    C{twist gracehttp} and the C{gracehttp} command, run as a user would:
    the configuration file, the positional application, one-line errors.
    """

    def test_exampleFileWithFlag(self):
        """
        twist gracehttp --config docs/examples/gracehttp.toml --listen ...: the example file
        serves its application (the demo), the flag's endpoint replaces the file's, and the
        file's access log format is used.
        """
        from .server import Subprocess

        example = os.path.join(REPO, "docs", "examples", "gracehttp.toml")
        child = runTwist(
            "gracehttp", "--config", example, "--listen", "tcp:0:interface=127.0.0.1", cwd=REPO
        )
        self.addCleanup(child.stop)
        port = int(child.waitFor(r"gracehttp listening on http://127\.0\.0\.1:(\d+);").group(1))
        self.assertIsInstance(child, Subprocess)
        with socket.create_connection(("127.0.0.1", port), timeout=30) as s:
            s.sendall(b"GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
            response = b""
            while chunk := s.recv(65536):
                response += chunk
        self.assertTrue(response.startswith(b"HTTP/1.1 200"), response[:200])
        self.assertIn(b"gracehttp demo", response)
        self.assertEqual(child.stop(), 0, child.output())

    def test_gracehttpCommand(self):
        """
        python -m gracehttp, the gracehttp command, with the application after the options
        and the endpoint from GRACEHTTP_LISTEN: serves, then exits 0 on SIGTERM.
        """
        from .server import Subprocess

        env = childEnvironment()
        env["GRACEHTTP_LISTEN"] = "tcp:0:interface=127.0.0.1"
        child = Subprocess(
            [sys.executable, "-m", "gracehttp", "--threads", "2", "tests.test_tap:wsgiApp"],
            cwd=REPO,
            env=env,
        )
        self.addCleanup(child.stop)
        # Not a terminal: twist logs JSON.
        port = int(child.waitFor(r'"listening": "http://127\.0\.0\.1:(\d+)"').group(1))
        self.assertIn("with 2 threads", child.output())
        import httpx

        response = httpx.get(f"http://127.0.0.1:{port}/", timeout=30)
        self.assertEqual((response.status_code, response.text), (200, "wsgi\n"))
        self.assertEqual(child.stop(), 0, child.output())

    def test_commandErrorNamesCommand(self):
        """A mistake under the gracehttp command is one line pointing to gracehttp --help."""
        result = runChild(
            [sys.executable, "-m", "gracehttp", "tests.test_tap:wsgiApp", "--threads", "x"]
        )
        self.assertEqual(result.returncode, 1, result.stdout + result.stderr)
        self.assertEqual(
            result.stderr,
            "gracehttp: error: --threads must be a whole number, not 'x' (see gracehttp --help)\n",
        )

    def test_badFilesOneLine(self):
        """Through the real twist: a bad configuration file is one line, exit 1, no traceback."""
        with tempfile.TemporaryDirectory() as directory:
            cases = {
                "missing.toml": None,
                "broken.toml": "threads =\n",
                "unknown.toml": "nosuch = 4\n",
                "type.toml": "h2c = 'yes'\n",
            }
            for name, text in cases.items():
                path = os.path.join(directory, name)
                if text is not None:
                    with open(path, "w") as f:
                        f.write(text)
                with self.subTest(name=name):
                    result = runChild(
                        [*twistCommand(), "gracehttp", "gracehttp.demo:app", "--config", path]
                    )
                    self.assertEqual(result.returncode, 1, result.stdout + result.stderr)
                    [line] = result.stderr.splitlines()
                    self.assertTrue(line.startswith("gracehttp: error: "), line)
                    self.assertIn(name, line)
                    self.assertNotIn("Traceback", result.stdout)


class MountOptionTests(unittest.TestCase):
    """
    C{--mount PREFIX=REFERENCE}: applications under path prefixes.
    """

    def test_rootMount(self):
        """--mount /=REFERENCE, an application at the root without --app, builds the service."""
        options = parse("--mount", "/=tests.test_tap:wsgiApp")
        service = makeServiceInMemory(options)
        self.assertEqual([prefix for prefix, _ in service.adapter._mounts], [""])
