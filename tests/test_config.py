"""
Tests for the settings of L{gracehttp.makeService} and C{twist gracehttp}:
the defaults and the messages for bad values, pinned as they were before
the settings had one table, so that deriving everything from it is shown
to change nothing.
"""

import inspect
import io
import sys
import unittest
from unittest import mock

from twisted.internet.endpoints import TCP4ServerEndpoint
from twisted.internet.testing import MemoryReactorClock
from twisted.logger import globalLogPublisher

import gracehttp
from gracehttp import tap
from gracehttp._core.accesslog import DEFAULT_FORMAT, AccessLog
from gracehttp._settings import HTTPSettings


def wsgiApp(environ, start_response):
    """
    A WSGI application for building services.
    """
    start_response("200 OK", [])
    return [b""]


async def asgiApp(scope, receive, send):
    """
    An ASGI application for building services.
    """


PINNED_DEFAULTS = {
    "interface": "auto",
    "listen": ("tcp:8000:interface=127.0.0.1",),
    "threads": 10,
    "disconnectGracePeriod": 3.0,
    "lifespan": "auto",
    "lifespanTimeout": 60.0,
    "rootPath": "",
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
    "accessLogFormat": DEFAULT_FORMAT,
    "wsgiChunkedBody": "spool",
}
"""
Every setting's default, as documented (README, docs/reference/api.rst
and options.rst) before the settings table existed.
"""

PINNED_HTTP_SETTINGS = HTTPSettings(
    disconnectGracePeriod=3.0,
    limitRequestHeaderSize=65536,
    limitRequestHeaders=100,
    limitRequestBody=None,
    timeoutHeader=10.0,
    timeoutKeepAlive=5.0,
    timeoutClose=15.0,
    limitConcurrency=None,
    limitConnections=None,
    proxyHeaders=False,
    forwardedAllowIPs=("127.0.0.1",),
)

PINNED_API_ERRORS = [
    ({"interface": "cgi"}, "interface must be one of auto, asgi3, asgi2, asgi, wsgi, not 'cgi'"),
    ({"listen": []}, "at least one endpoint to listen on is needed"),
    ({"listen": "bogus:xx"}, "cannot listen on 'bogus:xx': Unknown endpoint type: 'bogus'"),
    ({"threads": 0}, "threads must be a whole number of at least 1, not 0"),
    ({"threads": 2.5}, "threads must be a whole number of at least 1, not 2.5"),
    ({"threads": True}, "threads must be a whole number of at least 1, not True"),
    (
        {"disconnectGracePeriod": float("nan")},
        "disconnect grace period must be a number of seconds, not nan",
    ),
    ({"disconnectGracePeriod": "3"}, "disconnect grace period must be a number of seconds, not '3'"),
    ({"disconnectGracePeriod": True}, "disconnect grace period must be a number of seconds, not True"),
    ({"lifespan": "maybe"}, "lifespan must be one of auto, on, off, not 'maybe'"),
    ({"lifespanTimeout": 0}, "lifespan timeout must be a positive number of seconds, not 0"),
    (
        {"lifespanTimeout": float("inf")},
        "lifespan timeout must be a positive number of seconds, not inf",
    ),
    ({"rootPath": "api"}, "root path must be empty or start with '/', not 'api'"),
    ({"rootPath": None}, "root path must be empty or start with '/', not None"),
    (
        {"limitRequestHeaderSize": 0},
        "limit request header size must be a whole number of at least 1, not 0",
    ),
    ({"limitRequestHeaders": -1}, "limit request headers must be a whole number of at least 1, not -1"),
    ({"limitRequestBody": -1}, "limit request body must be a whole number of at least 0, not -1"),
    ({"limitRequestBody": 1.5}, "limit request body must be a whole number of at least 0, not 1.5"),
    ({"timeoutHeader": 0}, "timeout header must be a positive number of seconds, not 0"),
    (
        {"timeoutKeepAlive": -1},
        "timeout keep-alive must be a non-negative number of seconds, not -1",
    ),
    ({"limitConcurrency": 0}, "limit concurrency must be a whole number of at least 1, not 0"),
    ({"limitConnections": 0}, "limit connections must be a whole number of at least 1, not 0"),
    ({"gracefulTimeout": -1}, "graceful timeout must be a non-negative number of seconds, not -1"),
    ({"proxyHeaders": "yes"}, "proxy headers must be True or False, not 'yes'"),
    ({"forwardedAllowIPs": ""}, "forwarded allow IPs must name at least one address or '*'"),
    (
        {"forwardedAllowIPs": ["proxy.local"]},
        "forwarded allow IPs: 'proxy.local' is not an IP address, a CIDR network or '*'",
    ),
    (
        {"forwardedAllowIPs": "10.0.0.0/33"},
        "forwarded allow IPs: '10.0.0.0/33' is not an IP address, a CIDR network or '*'",
    ),
    (
        {"accessLogFormat": "{nosuch}"},
        "bad access log format '{nosuch}': unknown access log field {nosuch}; fields: "
        "client, time, request, method, path, httpVersion, status, size, bytes, referer, "
        "userAgent, duration, durationMs, outcome",
    ),
    ({"accessLogFormat": 3}, "access log format must be a string, not 3"),
    ({"wsgiChunkedBody": "buffer"}, "wsgi chunked body must be one of spool, stream, not 'buffer'"),
]
"""
Bad L{gracehttp.makeService} keywords and the exact one-line
L{ValueError} each raised before the settings table existed.
"""

PINNED_CLI_ERRORS = [
    (["--threads", "x"], "--threads must be a whole number, not 'x'"),
    (["--threads", "0"], "threads must be a whole number of at least 1, not 0"),
    (["--interface", "cgi"], "--interface must be one of auto, asgi3, asgi2, asgi, wsgi, not 'cgi'"),
    (["--lifespan", "maybe"], "--lifespan must be one of auto, on, off, not 'maybe'"),
    (["--lifespan-timeout", "0"], "lifespan timeout must be a positive number of seconds, not 0.0"),
    (["--lifespan-timeout", "soon"], "--lifespan-timeout must be a number of seconds, not 'soon'"),
    (
        ["--disconnect-grace-period", "abc"],
        "--disconnect-grace-period must be a number of seconds, not 'abc'",
    ),
    (
        ["--disconnect-grace-period", "nan"],
        "--disconnect-grace-period must be a number of seconds, not 'nan'",
    ),
    (
        ["--asgi-disconnect-grace-period", "inf"],
        "--disconnect-grace-period must be a number of seconds, not 'inf'",
    ),
    (
        ["--limit-request-header-size", "64K"],
        "--limit-request-header-size must be a whole number, not '64K'",
    ),
    (
        ["--limit-request-header-size", "0"],
        "limit request header size must be a whole number of at least 1, not 0",
    ),
    (
        ["--limit-request-headers", "-1"],
        "limit request headers must be a whole number of at least 1, not -1",
    ),
    (["--limit-request-body", "big"], "--limit-request-body must be a whole number, not 'big'"),
    (["--limit-request-body", "-5"], "limit request body must be a whole number of at least 0, not -5"),
    (["--timeout-header", "0"], "timeout header must be a positive number of seconds, not 0.0"),
    (["--timeout-header", "soon"], "--timeout-header must be a number of seconds, not 'soon'"),
    (
        ["--timeout-keep-alive", "-1"],
        "timeout keep-alive must be a non-negative number of seconds, not -1.0",
    ),
    (["--limit-concurrency", "0"], "limit concurrency must be a whole number of at least 1, not 0"),
    (["--limit-connections", "1.5"], "--limit-connections must be a whole number, not '1.5'"),
    (
        ["--graceful-timeout", "-1"],
        "graceful timeout must be a non-negative number of seconds, not -1.0",
    ),
    (["--graceful-timeout", "inf"], "--graceful-timeout must be a number of seconds, not 'inf'"),
    (
        ["--forwarded-allow-ips", "10.0.0.0/33"],
        "forwarded allow IPs: '10.0.0.0/33' is not an IP address, a CIDR network or '*'",
    ),
    (
        ["--forwarded-allow-ips", "proxy.local"],
        "forwarded allow IPs: 'proxy.local' is not an IP address, a CIDR network or '*'",
    ),
    (["--forwarded-allow-ips", ","], "forwarded allow IPs must name at least one address or '*'"),
    (
        ["--access-log-format", "{nosuch}"],
        "bad access log format '{nosuch}': unknown access log field {nosuch}; fields: "
        "client, time, request, method, path, httpVersion, status, size, bytes, referer, "
        "userAgent, duration, durationMs, outcome",
    ),
    (["--log-level", "loud"], "--log-level must be one of debug, info, warn, error, not 'loud'"),
    (["--wsgi-chunked-body", "buffer"], "--wsgi-chunked-body must be one of spool, stream, not 'buffer'"),
    (["--root-path", "api"], "root path must be empty or start with '/', not 'api'"),
]
"""
Bad C{twist gracehttp} arguments (after C{--app}) and the exact problem
each usage error line named before the settings table existed.
"""


def parseOptions(*args):
    """
    Parse C{twist gracehttp --app tests.test_config:wsgiApp ARGS}.

    @rtype: L{tap.Options}
    """
    options = tap.Options()
    options.parseOptions(["--app", "tests.test_config:wsgiApp", *args])
    return options


def usageErrorLine(args):
    """
    @return: the one stderr line and the exit status of a usage error.
    """
    stderr = io.StringIO()
    with mock.patch.object(sys, "stderr", stderr):
        try:
            parseOptions(*args)
        except SystemExit as e:
            return stderr.getvalue(), e.code
    raise AssertionError(f"{args} parsed without an error")


class PinnedDefaultsTests(unittest.TestCase):
    """
    The defaults of L{gracehttp.makeService} and C{twist gracehttp} are the
    documented ones, setting by setting.
    """

    def test_makeServiceSignature(self):
        """makeService takes app, one keyword per setting with its documented default, reactor and exitOnFailure."""
        parameters = inspect.signature(gracehttp.makeService).parameters
        self.assertEqual(
            list(parameters), ["app", *PINNED_DEFAULTS, "reactor", "exitOnFailure"]
        )
        self.assertEqual(
            {name: parameters[name].default for name in PINNED_DEFAULTS}, PINNED_DEFAULTS
        )
        self.assertIsNone(parameters["reactor"].default)
        self.assertIs(parameters["exitOnFailure"].default, True)

    def test_optionsDefaults(self):
        """Only --app given: every setting's option holds the documented default."""
        options = parseOptions()
        given = {name: options[name] for name in PINNED_DEFAULTS}
        # options["interface"] is what was detected; the option's value is kept apart.
        given["interface"] = options["interfaceOption"]
        self.assertEqual(given, {**PINNED_DEFAULTS, "listen": ["tcp:8000:interface=127.0.0.1"]})
        self.assertIsNone(options["logLevel"])

    def test_wsgiServiceDefaults(self):
        """A WSGI service built without settings uses every default."""
        service = gracehttp.makeService(wsgiApp, reactor=MemoryReactorClock())
        factory = service._factory
        self.assertEqual(factory.settings, PINNED_HTTP_SETTINGS)
        self.assertEqual(service._gracefulTimeout, 30.0)
        self.assertIs(service._exitOnFailure, True)
        self.assertEqual(service._descriptions, ["tcp:8000:interface=127.0.0.1"])
        [endpoint] = service._endpoints
        self.assertIsInstance(endpoint, TCP4ServerEndpoint)
        self.assertEqual((endpoint._port, endpoint._interface), (8000, "127.0.0.1"))
        self.assertEqual((service._interface, service._detected), ("wsgi", True))
        self.assertEqual(service._threads, 10)
        adapter = service.adapter
        self.assertEqual((adapter._threadpool.min, adapter._threadpool.max), (10, 10))
        self.assertEqual(adapter._environ.scriptName, "")
        self.assertIs(adapter._spoolChunked, True)
        state = service._state
        self.assertIs(factory.serverState, state)
        self.assertEqual((state._limitConnections, state._limitConcurrency), (None, None))
        self.assertIsInstance(state.requestLog, AccessLog)
        self.assertEqual(state.requestLog._format, DEFAULT_FORMAT)
        self.assertIs(state.requestLog._logger.observer, globalLogPublisher)

    def test_asgiServiceDefaults(self):
        """An ASGI service built without settings gets the default lifespan mode, timeout and root path."""
        from gracehttp._apps.asgi import adapter as asgiAdapter

        made = []
        reactor = MemoryReactorClock()
        reactor._asyncioEventloop = object()

        def recordAdapter(*args, **kwargs):
            made.append((args, kwargs))
            return mock.Mock(inFlight=[])

        with mock.patch.object(asgiAdapter, "ASGIAdapter", recordAdapter), mock.patch.object(
            asgiAdapter, "requireAsyncioReactor", lambda reactor: None
        ):
            service = gracehttp.makeService(asgiApp, reactor=reactor)
        [(args, kwargs)] = made
        self.assertEqual(args, (asgiApp, reactor, reactor._asyncioEventloop))
        self.assertEqual(
            kwargs, {"rootPath": "", "lifespan": "auto", "lifespanTimeout": 60.0, "asgi3": True}
        )
        self.assertEqual(service._factory.settings, PINNED_HTTP_SETTINGS)
        self.assertEqual((service._interface, service._threads), ("asgi3", None))

    def test_commandLineDefaultsReachService(self):
        """twist gracehttp --app APP builds the same service as makeService(APP)."""
        reactor = MemoryReactorClock()
        real = gracehttp.makeService
        from gracehttp import _service

        with mock.patch.object(
            _service, "makeService", lambda *a, **kw: real(*a, reactor=reactor, **kw)
        ):
            service = tap.makeService(parseOptions())
        self.assertEqual(service._factory.settings, PINNED_HTTP_SETTINGS)
        self.assertEqual(service._gracefulTimeout, 30.0)
        self.assertEqual(service._descriptions, ["tcp:8000:interface=127.0.0.1"])
        self.assertEqual(service._threads, 10)
        self.assertEqual(service._state.requestLog._format, DEFAULT_FORMAT)


class PinnedErrorsTests(unittest.TestCase):
    """
    A bad value gets the same one-line message it always got, from the
    Python API and from the command line.
    """

    def test_makeServiceMessages(self):
        """Each bad makeService keyword is a ValueError with its exact one-line message."""
        for kwargs, message in PINNED_API_ERRORS:
            with self.subTest(**kwargs):
                with self.assertRaises(ValueError) as caught:
                    gracehttp.makeService(wsgiApp, reactor=MemoryReactorClock(), **kwargs)
                self.assertEqual(str(caught.exception), message)

    def test_commandLineMessages(self):
        """Each bad option value is one stderr line naming the problem and --help, exit status 1."""
        for args, problem in PINNED_CLI_ERRORS:
            with self.subTest(args=args):
                self.assertEqual(
                    usageErrorLine(args),
                    (f"gracehttp: error: {problem} (see twist gracehttp --help)\n", 1),
                )
