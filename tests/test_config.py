"""
Tests for the settings of L{gracehttp.makeService} and C{twist gracehttp}
(L{gracehttp._config}).

The first tests pin the defaults and the messages for bad values as they
were before the settings had one table, so that deriving everything from
it is shown to change nothing; the others check the table itself, what is
made from it (L{Config}, C{makeService}'s keywords, the options and their
C{--help}, L{HTTPSettings}) and that the docs' tables are the ones it
writes.
"""

import dataclasses
import inspect
import io
import json
import os
import sys
import unittest
from unittest import mock

from twisted.internet.endpoints import TCP4ServerEndpoint
from twisted.internet.testing import MemoryReactorClock
from twisted.logger import globalLogPublisher

import gracehttp
from gracehttp import _service, tap
from gracehttp._config import DEFAULTS, SETTINGS, Config
from gracehttp._core.accesslog import DEFAULT_FORMAT, AccessLog
from gracehttp._core.proxy import TrustedProxies, trustedNetwork
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
    "loop": "auto",
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
    "h2c": False,
    "h2MaxConcurrentStreams": 100,
    "workers": 1,
    "reload": False,
    "reloadDir": (),
    "reloadInclude": ("*.py",),
    "gracefulTimeout": 30.0,
    "readinessListen": None,
    "proxyHeaders": False,
    "forwardedAllowIPs": ("127.0.0.1",),
    "accessLog": "-",
    "accessLogFormat": DEFAULT_FORMAT,
    "wsgiChunkedBody": "spool",
    "ws": "auto",
    "wsMaxSize": 16 * 1024 * 1024,
    "wsPingInterval": 20.0,
    "wsPingTimeout": 20.0,
    "wsPerMessageDeflate": True,
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
    (
        {"disconnectGracePeriod": "3"},
        "disconnect grace period must be a number of seconds, not '3'",
    ),
    (
        {"disconnectGracePeriod": True},
        "disconnect grace period must be a number of seconds, not True",
    ),
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
    (
        {"limitRequestHeaders": -1},
        "limit request headers must be a whole number of at least 1, not -1",
    ),
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
        "userAgent, duration, durationMs, outcome, mount, messagesIn, bytesIn, messagesOut, "
        "bytesOut, closeCode",
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
    (
        ["--interface", "cgi"],
        "--interface must be one of auto, asgi3, asgi2, asgi, wsgi, not 'cgi'",
    ),
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
    (
        ["--limit-request-body", "-5"],
        "limit request body must be a whole number of at least 0, not -5",
    ),
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
        "userAgent, duration, durationMs, outcome, mount, messagesIn, bytesIn, messagesOut, "
        "bytesOut, closeCode",
    ),
    (["--log-level", "loud"], "--log-level must be one of debug, info, warn, error, not 'loud'"),
    (
        ["--wsgi-chunked-body", "buffer"],
        "--wsgi-chunked-body must be one of spool, stream, not 'buffer'",
    ),
    (["--root-path", "api"], "root path must be empty or start with '/', not 'api'"),
    (["--ws", "yes"], "--ws must be one of auto, on, off, not 'yes'"),
    (["--ws-max-size", "0"], "ws max size must be a whole number of at least 1, not 0"),
    (
        ["--ws-ping-interval", "-1"],
        "ws ping interval must be a non-negative number of seconds, not -1.0",
    ),
    (["--ws-ping-timeout", "0"], "ws ping timeout must be a positive number of seconds, not 0.0"),
    (["--ws-per-message-deflate", "no"], "--ws-per-message-deflate must be on or off, not 'no'"),
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
        """
        makeService takes app and mounts, each setting with its documented default, then
        reactor.
        """
        parameters = inspect.signature(gracehttp.makeService).parameters
        self.assertEqual(
            list(parameters), ["app", "mounts", *PINNED_DEFAULTS, "reactor", "exitOnFailure"]
        )
        self.assertIsNone(parameters["app"].default)
        self.assertIsNone(parameters["mounts"].default)
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
        self.assertEqual(
            given,
            {
                **PINNED_DEFAULTS,
                "listen": ["tcp:8000:interface=127.0.0.1"],
                "reloadDir": [],
                "reloadInclude": ["*.py"],
            },
        )
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
        """An ASGI service made without settings gets the default lifespan, timeout, root path."""
        from gracehttp._apps.asgi import adapter as asgiAdapter

        made = []
        reactor = MemoryReactorClock()
        reactor._asyncioEventloop = object()

        def recordAdapter(*args, **kwargs):
            made.append((args, kwargs))
            return mock.Mock(inFlight=[])

        with (
            mock.patch.object(asgiAdapter, "ASGIAdapter", recordAdapter),
            mock.patch.object(asgiAdapter, "requireAsyncioReactor", lambda reactor: None),
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


# -- The settings table ------------------------------------------------------

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

EXAMPLES = {
    "interface": (["wsgi"], "wsgi"),
    "loop": (["asyncio"], "asyncio"),
    "listen": (
        ["tcp:0", "unix:/tmp/gracehttp-config.sock"],
        ("tcp:0", "unix:/tmp/gracehttp-config.sock"),
    ),
    "threads": (["4"], 4),
    "disconnectGracePeriod": (["-1.5"], -1.5),
    "lifespan": (["off"], "off"),
    "lifespanTimeout": (["7.5"], 7.5),
    "rootPath": (["/api"], "/api"),
    "limitRequestHeaderSize": (["8192"], 8192),
    "limitRequestHeaders": (["20"], 20),
    "limitRequestBody": (["0"], 0),
    "timeoutHeader": (["2.5"], 2.5),
    "timeoutKeepAlive": (["0"], 0.0),
    "limitConcurrency": (["64"], 64),
    "limitConnections": (["1000"], 1000),
    "h2c": ([], True),
    "h2MaxConcurrentStreams": (["250"], 250),
    "workers": (["3"], 3),
    "reload": ([], True),
    "reloadDir": (["src", "templates"], ("src", "templates")),
    "reloadInclude": (["*.html"], ("*.html",)),
    "gracefulTimeout": (["0"], 0.0),
    "readinessListen": (["tcp:8081"], "tcp:8081"),
    "proxyHeaders": ([], True),
    "forwardedAllowIPs": (["10.0.0.0/8, ::1,*"], ("10.0.0.0/8", "::1", "*")),
    "accessLog": (["off"], "off"),
    "accessLogFormat": (["{method} {path} {status}"], "{method} {path} {status}"),
    "wsgiChunkedBody": (["stream"], "stream"),
    "ws": (["off"], "off"),
    "wsMaxSize": (["1024"], 1024),
    "wsPingInterval": (["0"], 0.0),
    "wsPingTimeout": (["2.5"], 2.5),
    "wsPerMessageDeflate": (["off"], False),
}
"""
For each setting: command-line values (none for a flag), and the value
they make, which is not the default.
"""

BAD_VALUES = {
    "interface": "cgi",
    "loop": "trio",
    "listen": [3],
    "threads": 0,
    "disconnectGracePeriod": "3",
    "lifespan": "maybe",
    "lifespanTimeout": 0,
    "rootPath": "api",
    "limitRequestHeaderSize": 1.5,
    "limitRequestHeaders": None,
    "limitRequestBody": -1,
    "timeoutHeader": float("inf"),
    "timeoutKeepAlive": -0.5,
    "limitConcurrency": 0,
    "limitConnections": True,
    "h2c": "yes",
    "h2MaxConcurrentStreams": 0,
    "workers": 0,
    "reload": "yes",
    "reloadDir": [3],
    "reloadInclude": [""],
    "gracefulTimeout": None,
    "readinessListen": 8081,
    "proxyHeaders": 1,
    "forwardedAllowIPs": [1],
    "accessLog": 3,
    "accessLogFormat": 3,
    "wsgiChunkedBody": "buffer",
    "ws": True,
    "wsMaxSize": 0,
    "wsPingInterval": -1,
    "wsPingTimeout": 0,
    "wsPerMessageDeflate": "on",
}
"""
For each setting: a value L{Config} refuses.
"""

BAD_TEXT = {
    "interface": "cgi",
    "loop": "tokio",
    "listen": None,
    "threads": "x",
    "disconnectGracePeriod": "nan",
    "lifespan": "maybe",
    "lifespanTimeout": "soon",
    "rootPath": "api",
    "limitRequestHeaderSize": "64K",
    "limitRequestHeaders": "",
    "limitRequestBody": "-1",
    "timeoutHeader": "0",
    "timeoutKeepAlive": "inf",
    "limitConcurrency": "1e3",
    "limitConnections": "1.5",
    "h2MaxConcurrentStreams": "many",
    "workers": "two",
    "reloadDir": "",
    "reloadInclude": "",
    "gracefulTimeout": "-1",
    "readinessListen": "",
    "forwardedAllowIPs": "example.com",
    "accessLog": None,
    "accessLogFormat": "{nosuch}",
    "wsgiChunkedBody": "buffer",
    "ws": "yes",
    "wsMaxSize": "16M",
    "wsPingInterval": "never",
    "wsPingTimeout": "0",
    "wsPerMessageDeflate": "true",
}
"""
For each option that takes a value: a value that is a usage error (L{None}
for those whose every string is taken: any endpoint string is parsed when
the service is made, any access log string is a path).
"""


def argumentsFor(setting, values):
    """
    The command-line arguments that give a setting C{values}.
    """
    if not setting.kind.takesValue:
        return [f"--{setting.option}"]
    return [f"--{setting.option}={value}" for value in values]


def loadOptionsTables():
    """
    Import C{docs/optionstables.py}, the writer of the docs' tables.
    """
    import importlib.util

    spec = importlib.util.spec_from_file_location(
        "optionstables", os.path.join(REPO, "docs", "optionstables.py")
    )
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


class ConfigTests(unittest.TestCase):
    """
    L{Config} checks every value once and holds only plain values.
    """

    def test_defaultsPinned(self):
        """A Config made without arguments holds today's defaults, which are the table's."""
        config = Config()
        self.assertEqual({name: getattr(config, name) for name in DEFAULTS}, PINNED_DEFAULTS)
        self.assertEqual(DEFAULTS, PINNED_DEFAULTS)

    def test_examplesCoverTable(self):
        """Each setting has an example and a bad value here, so a new setting cannot go untested."""
        names = [setting.name for setting in SETTINGS]
        self.assertEqual(list(EXAMPLES), names)
        self.assertEqual(list(BAD_VALUES), names)
        self.assertEqual(
            list(BAD_TEXT), [setting.name for setting in SETTINGS if setting.kind.takesValue]
        )

    def test_everySettingChecked(self):
        """Each setting refuses a bad value with a one-line ValueError naming it."""
        for setting in SETTINGS:
            with self.subTest(setting=setting.name):
                with self.assertRaises(ValueError) as caught:
                    Config(**{setting.name: BAD_VALUES[setting.name]})
                message = str(caught.exception)
                self.assertNotIn("\n", message)
                self.assertIn(setting.label, message)

    def test_typesRefused(self):
        """Values of a wrong type that used to slip through are refused when the Config is made."""
        for kwargs, message in [
            ({"accessLog": 3}, "access log must be '-', a file path, 'off' or None, not 3"),
            ({"listen": [3]}, "listen: 3 is not an endpoint description (a string)"),
            (
                {"forwardedAllowIPs": [1]},
                "forwarded allow IPs: 1 is not an IP address, a CIDR network or '*'",
            ),
            ({"forwardedAllowIPs": 3}, "forwarded allow IPs must be a list of strings, not 3"),
        ]:
            with self.subTest(**kwargs):
                with self.assertRaises(ValueError) as caught:
                    gracehttp.makeService(wsgiApp, reactor=MemoryReactorClock(), **kwargs)
                self.assertEqual(str(caught.exception), message)

    def test_normalised(self):
        """One endpoint, an address string, lists and whole seconds are stored in one form."""
        config = Config(
            listen="tcp:0",
            forwardedAllowIPs=" 10.0.0.1 , ::1",
            timeoutHeader=2,
            gracefulTimeout=0,
        )
        self.assertEqual(config.listen, ("tcp:0",))
        self.assertEqual(config.forwardedAllowIPs, ("10.0.0.1", "::1"))
        self.assertEqual((config.timeoutHeader, config.gracefulTimeout), (2.0, 0.0))
        self.assertIs(type(config.timeoutHeader), float)
        self.assertEqual(Config(listen=["a:b"], forwardedAllowIPs=["*"]).listen, ("a:b",))

    def test_frozen(self):
        """A Config cannot be changed; replace() makes a new one, checked again."""
        config = Config()
        with self.assertRaises(dataclasses.FrozenInstanceError):
            config.threads = 3
        self.assertEqual(dataclasses.replace(config, threads=3).threads, 3)
        with self.assertRaises(ValueError):
            dataclasses.replace(config, threads=0)

    def test_unknownKeyword(self):
        """A keyword that names no setting is a TypeError, for Config and for makeService."""
        with self.assertRaises(TypeError):
            Config(nosuch=1)
        with self.assertRaises(TypeError) as caught:
            gracehttp.makeService(wsgiApp, reactor=MemoryReactorClock(), nosuch=1)
        self.assertEqual(
            str(caught.exception), "makeService() got an unexpected keyword argument 'nosuch'"
        )

    def test_jsonRoundTrip(self):
        """toDict() is plain JSON; fromDict() of it, after a JSON round trip, is the same Config."""
        for config in [
            Config(),
            Config(**{name: value for name, (arguments, value) in EXAMPLES.items()}),
        ]:
            with self.subTest(config=config):
                values = config.toDict()
                self.assertEqual(list(values), [setting.name for setting in SETTINGS])
                decoded = json.loads(json.dumps(values, allow_nan=False))
                self.assertEqual(decoded, values)
                self.assertEqual(Config.fromDict(decoded), config)

    def test_fromDictChecks(self):
        """fromDict() checks the values as any Config does, and refuses unknown entries."""
        with self.assertRaises(ValueError):
            Config.fromDict({"threads": 0})
        with self.assertRaises(TypeError):
            Config.fromDict({"nosuch": 1})


class TrustedAddressTests(unittest.TestCase):
    """
    The address check of C{--forwarded-allow-ips} is made once, in
    L{gracehttp._core.proxy}, for the configuration and the HTTP layer.
    """

    def test_oneCheck(self):
        """The configuration and TrustedProxies refuse a bad entry with the same message."""
        with self.assertRaises(ValueError) as fromConfig:
            Config(forwardedAllowIPs=["10.0.0.0/8", "proxy.example"])
        with self.assertRaises(ValueError) as fromProxies:
            TrustedProxies(["10.0.0.0/8", "proxy.example"])
        self.assertEqual(str(fromConfig.exception), str(fromProxies.exception))
        self.assertEqual(
            str(fromProxies.exception),
            "forwarded allow IPs: 'proxy.example' is not an IP address, a CIDR network or '*'",
        )

    def test_trustedNetwork(self):
        """An address is a network of one, '*' is everyone, and a non-string is refused."""
        self.assertEqual(str(trustedNetwork("10.1.2.3")), "10.1.2.3/32")
        self.assertEqual(str(trustedNetwork("10.1.2.3/8")), "10.0.0.0/8")
        self.assertIsNone(trustedNetwork("*"))
        for bad in [1, None, " 10.0.0.1", "10.0.0.0/33"]:
            with self.subTest(bad=bad):
                with self.assertRaises(ValueError):
                    trustedNetwork(bad)


class DerivedFromTableTests(unittest.TestCase):
    """
    makeService, the command line and the HTTP layer's settings are all
    made from the one table.
    """

    def test_makeServiceKeywordsAreTheTable(self):
        """
        makeService's keywords, between mounts and reactor, are the table's names and
        defaults.
        """
        parameters = list(inspect.signature(gracehttp.makeService).parameters.values())[2:-2]
        self.assertEqual(
            [(p.name, p.default) for p in parameters],
            [(setting.name, setting.default) for setting in SETTINGS],
        )

    def test_makeServiceBuildsConfig(self):
        """makeService hands every keyword to one Config, which the service is built from."""
        built = []
        # One process: workers and reload make the parent's service instead
        # (tests/test_workers_api.py).
        examples = {name: value for name, (arguments, value) in EXAMPLES.items()}
        examples.update(workers=1, reload=False)
        with mock.patch.object(_service, "buildService", lambda *args: built.append(args)):
            gracehttp.makeService(wsgiApp, **examples)
        [(_, config, _, _, _)] = built
        self.assertEqual(config, Config(**examples))

    def test_everyOptionParsed(self):
        """Each option made from the table parses its example into its key and the Config."""
        arguments = []
        for setting in SETTINGS:
            arguments += argumentsFor(setting, EXAMPLES[setting.name][0])
        options = parseOptions(*arguments)
        expected = {name: value for name, (values, value) in EXAMPLES.items()}
        self.assertEqual(options["config"], Config(**expected))
        for setting in SETTINGS:
            with self.subTest(setting=setting.name):
                parsed = options[setting.name]
                if setting.kind.repeatable:
                    parsed = tuple(parsed)
                self.assertEqual(parsed, expected[setting.name])

    def test_aliases(self):
        """Each alias of the table is an option that sets its setting."""
        for setting in SETTINGS:
            for alias, _ in setting.aliases:
                with self.subTest(alias=alias):
                    [value] = EXAMPLES[setting.name][0]
                    options = parseOptions(f"--{alias}={value}")
                    self.assertEqual(options[setting.name], EXAMPLES[setting.name][1])

    def test_badTextIsOneLine(self):
        """Each option's bad value is a one-line usage error naming the option or the setting."""
        for setting in SETTINGS:
            text = BAD_TEXT.get(setting.name)
            if text is None:
                continue
            with self.subTest(setting=setting.name):
                line, code = usageErrorLine(argumentsFor(setting, [text]))
                self.assertEqual(code, 1)
                self.assertEqual(line.count("\n"), 1, line)
                self.assertTrue(f"--{setting.option} " in line or setting.label in line, line)

    def test_optionsAreTheTable(self):
        """
        The opt_* handlers are the table's options and aliases, --app (-a), --mount,
        --log-level and --config.
        """
        handlers = {name for name in dir(tap.Options) if name.startswith("opt_")}
        expected = {"opt_app", "opt_a", "opt_mount", "opt_log_level", "opt_config"}
        expected |= {"opt_help", "opt_version"}
        for setting in SETTINGS:
            for option in [setting.option, *(alias for alias, why in setting.aliases)]:
                expected.add("opt_" + option.replace("-", "_"))
        self.assertEqual(handlers, expected)

    def test_helpFromTable(self):
        """Each option's --help text is its help without code marks, then its default."""
        for setting in SETTINGS:
            with self.subTest(setting=setting.name):
                doc = getattr(tap.Options, "opt_" + setting.option.replace("-", "_")).__doc__
                self.assertNotIn("`", doc)
                self.assertTrue(doc.startswith(setting.help.replace("`", "")[:-1]), doc)
                if setting.kind.takesValue:
                    self.assertTrue(doc.endswith(f" (default: {setting.shownDefault()[0]})."), doc)
        self.assertEqual(
            tap.Options.opt_asgi_disconnect_grace_period.__doc__,
            "Alias of --disconnect-grace-period (the name gunicorn uses).",
        )

    def test_commandLineHandsConfigToMakeService(self):
        """tap.makeService builds the service from the parsed Config, keyword for keyword."""
        options = parseOptions("--threads=3", "--proxy-headers", "--access-log=off")
        made = []
        with mock.patch.object(
            _service, "makeService", lambda *args, **kwargs: made.append((args, kwargs))
        ):
            tap.makeService(options)
        [((app,), kwargs)] = made
        self.assertIs(app, wsgiApp)
        self.assertIsNone(kwargs.pop("mounts"))
        self.assertEqual(Config(**kwargs), options["config"])
        self.assertEqual((options["config"].threads, options["config"].proxyHeaders), (3, True))

    def test_httpSettingsView(self):
        """
        HTTPSettings holds table settings (defaults, values from a Config),
        timeoutClose and timeoutStall.
        """
        fixed = ("timeoutClose", "timeoutStall")
        names = [f.name for f in dataclasses.fields(HTTPSettings) if f.name not in fixed]
        self.assertTrue(set(names) <= set(DEFAULTS), names)
        self.assertEqual(
            {name: getattr(HTTPSettings(), name) for name in names},
            {name: DEFAULTS[name] for name in names},
        )
        config = Config(**{name: value for name, (arguments, value) in EXAMPLES.items()})
        settings = HTTPSettings.fromConfig(config)
        self.assertEqual(
            {name: getattr(settings, name) for name in names},
            {name: getattr(config, name) for name in names},
        )
        self.assertEqual(settings.timeoutClose, 15.0)
        self.assertEqual(settings.timeoutStall, 60.0)


class DocsTests(unittest.TestCase):
    """
    The tables of settings in the docs and the README are the ones
    C{docs/optionstables.py} writes from the table.
    """

    def test_tablesUpToDate(self):
        """Every committed table is what docs/optionstables.py writes now."""
        tables = loadOptionsTables()
        for path, makeTable, comment in tables.TABLES:
            with self.subTest(path=path):
                with open(os.path.join(REPO, path), encoding="utf-8") as f:
                    self.assertEqual(
                        f.read(),
                        tables.updated(path, makeTable, comment),
                        f"{path} is stale: run python docs/optionstables.py",
                    )

    def test_tablesNameEveryOption(self):
        """The option tables name every option, alias and default; the API table every keyword."""
        tables = loadOptionsTables()
        options = "\n".join(tables.optionsTable())
        readme = "\n".join(tables.readmeTable())
        api = " ".join(" ".join(tables.apiTable()).split())
        for setting in SETTINGS:
            with self.subTest(setting=setting.name):
                for option in [setting.option, *(alias for alias, why in setting.aliases)]:
                    self.assertIn(f"``--{option}", options)
                    self.assertIn(f"--{option}", readme)
                self.assertIn(setting.shownDefault()[0], options)
                self.assertIn(setting.shownDefault()[0].replace("|", "\\|"), readme)
                self.assertIn(f"``{setting.name}``", api)
                self.assertIn(f"``{setting.default!r}``", api)

    def test_staleTableFound(self):
        """A table edited by hand is found stale and rewritten from the table."""
        tables = loadOptionsTables()
        text = "intro\n.. " + tables.BEGIN + "\n\nold\n\n.. " + tables.END + "\nrest\n"
        rewritten = tables.replaceTable(text, ["new"], ".. {}")
        self.assertEqual(
            rewritten, "intro\n.. " + tables.BEGIN + "\n\nnew\n\n.. " + tables.END + "\nrest\n"
        )
        with self.assertRaises(ValueError):
            tables.replaceTable("no markers\n", ["new"], ".. {}")
