"""
C{twist gracehttp}: command-line options and the service they build.

The plugin (C{twisted/plugins/gracehttp_plugin.py}) points C{twist} and
C{twistd} here.  Parsing the options loads the application, because the
reactor must be chosen before C{twist} installs its default one: an ASGI
application gets the asyncio reactor, a WSGI
application Twisted's default reactor.  Everything else (thread pool,
adapter, listening ports, access log file, log level filter) is built in
L{makeService}.
"""

import math
import sys

from twisted.logger import (
    FilteringLogObserver,
    LogLevel,
    LogLevelFilterPredicate,
    globalLogBeginner,
)
from twisted.python import usage

from gracehttp import _service
from gracehttp._errors import AppLoadError
from gracehttp._loader import loadApp, resolveInterface


LOG_LEVELS = ("debug", "info", "warn", "error")
"""
The C{--log-level} choices (L{twisted.logger.LogLevel} names).
"""

# Options that go to makeService under the same name.
_HTTP_SETTINGS = (
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
    "accessLogFormat",
    "wsgiChunkedBody",
)


class Options(usage.Options):
    """
    Options for C{twist gracehttp}.  After parsing, C{self["application"]}
    holds the loaded application, C{self["interface"]} what it is served as
    (C{"asgi3"}, C{"asgi2"} or C{"wsgi"}) and C{self["interfaceOption"]}
    the C{--interface} value.

    A usage error (a bad value, an unknown option, no C{--app}) is one line
    on stderr naming the problem and C{--help}, and exit status 1: see
    L{parseOptions}.
    """

    synopsis = "--app MODULE:ATTRIBUTE [options]"
    longdesc = (
        "Serve a WSGI or ASGI application over HTTP/1.1. When a client "
        "disconnects mid-request the application is told (ASGI "
        "http.disconnect; WSGI environ['gracehttp.disconnected']) and gets "
        "a grace period to clean up before it is cancelled."
    )

    def __init__(self):
        super().__init__()
        self["app"] = None
        self["interface"] = "auto"
        self["listen"] = []
        self["threads"] = 10
        self["disconnectGracePeriod"] = 3.0
        self["lifespan"] = "auto"
        self["lifespanTimeout"] = 60.0
        self["rootPath"] = ""
        self["limitRequestHeaderSize"] = 64 * 1024
        self["limitRequestHeaders"] = 100
        self["limitRequestBody"] = None
        self["timeoutHeader"] = 10.0
        self["timeoutKeepAlive"] = 5.0
        self["limitConcurrency"] = None
        self["limitConnections"] = None
        self["gracefulTimeout"] = 30.0
        self["proxyHeaders"] = False
        self["forwardedAllowIPs"] = ("127.0.0.1",)
        self["accessLog"] = "-"
        self["accessLogFormat"] = _service.DEFAULT_ACCESS_LOG_FORMAT
        self["wsgiChunkedBody"] = "spool"
        self["logLevel"] = None

    def opt_app(self, reference):
        """
        The application to serve, as MODULE:ATTRIBUTE (e.g.
        myproject.asgi:application; MODULE:FACTORY() calls a factory).
        Required. The current directory is importable.
        """
        self["app"] = reference

    opt_a = opt_app

    def opt_interface(self, interface):
        """
        auto, asgi3, asgi2, asgi (ASGI, version detected) or wsgi (default:
        auto, which detects it: an async def function or __call__, or a
        callable taking (scope, receive, send), is ASGI 3; one taking
        (environ, start_response) is WSGI; a class built from the scope, or
        a callable taking (scope), is ASGI 2).
        """
        self["interface"] = _choice("--interface", interface, _service.INTERFACES)

    def opt_listen(self, description):
        """
        A Twisted endpoint to listen on, e.g. tcp:8000:interface=0.0.0.0,
        unix:/run/app.sock, ssl:8443:privateKey=key.pem, systemd:domain=INET:index=0.
        Repeatable. Default: tcp:8000:interface=127.0.0.1. ssl: needs
        pip install 'gracehttp[tls]'.
        """
        self["listen"].append(description)

    def opt_threads(self, threads):
        """
        WSGI thread pool size: how many WSGI requests run at once (default:
        10).
        """
        try:
            self["threads"] = int(threads)
        except ValueError:
            raise usage.UsageError(
                f"--threads must be a whole number, not {threads!r}"
            ) from None

    def opt_disconnect_grace_period(self, seconds):
        """
        Seconds an application may go on after its client disconnected
        before its ASGI task is cancelled (a WSGI request, which cannot be
        cancelled, is logged). 0 cancels at once, a negative value never
        cancels (default: 3).
        """
        self["disconnectGracePeriod"] = _seconds(
            "--disconnect-grace-period", seconds
        )

    def opt_asgi_disconnect_grace_period(self, seconds):
        """
        Alias of --disconnect-grace-period (the name gunicorn uses).
        """
        self.opt_disconnect_grace_period(seconds)

    def opt_lifespan(self, mode):
        """
        ASGI lifespan protocol: auto (use it if the application supports
        it), on, or off (default: auto).
        """
        self["lifespan"] = _choice("--lifespan", mode, _service.LIFESPAN_MODES)

    def opt_lifespan_timeout(self, seconds):
        """
        Seconds the lifespan startup, and the lifespan shutdown, may each
        take (default: 60).
        """
        self["lifespanTimeout"] = _seconds("--lifespan-timeout", seconds)

    def opt_root_path(self, path):
        """
        The path the application is mounted at behind a proxy: ASGI
        root_path, WSGI SCRIPT_NAME (default: empty).
        """
        self["rootPath"] = path

    def opt_limit_request_header_size(self, size):
        """
        Bytes of request head (request line and header fields) accepted;
        a larger head is answered 431 (default: 65536).
        """
        self["limitRequestHeaderSize"] = _count("--limit-request-header-size", size)

    def opt_limit_request_headers(self, count):
        """
        Header fields accepted per request; more are answered 431
        (default: 100).
        """
        self["limitRequestHeaders"] = _count("--limit-request-headers", count)

    def opt_limit_request_body(self, size):
        """
        Bytes of request body accepted; a larger body is answered 413,
        checked against Content-Length and while a chunked body streams in
        (default: no limit).
        """
        self["limitRequestBody"] = _count("--limit-request-body", size)

    def opt_timeout_header(self, seconds):
        """
        Seconds a client has to send a complete request head, then 408 and
        close; also the longest a request body may stop arriving while it
        is read, then the application is told the client left and the
        client gets 408 (default: 10).
        """
        self["timeoutHeader"] = _seconds("--timeout-header", seconds)

    def opt_timeout_keep_alive(self, seconds):
        """
        Seconds an idle keep-alive connection stays open between requests
        (default: 5).
        """
        self["timeoutKeepAlive"] = _seconds("--timeout-keep-alive", seconds)

    def opt_limit_concurrency(self, count):
        """
        Requests in flight at once; more are answered 503 with Retry-After
        (default: no limit).
        """
        self["limitConcurrency"] = _count("--limit-concurrency", count)

    def opt_limit_connections(self, count):
        """
        Open connections; more are closed at once (default: no limit).
        """
        self["limitConnections"] = _count("--limit-connections", count)

    def opt_graceful_timeout(self, seconds):
        """
        Seconds the requests in flight at a stop (SIGTERM, SIGINT) may take
        to finish before they are disconnected; they then get the
        disconnect grace period (default: 30).
        """
        self["gracefulTimeout"] = _seconds("--graceful-timeout", seconds)

    def opt_proxy_headers(self):
        """
        Trust X-Forwarded-For, X-Forwarded-Proto and Forwarded (RFC 7239)
        from the peers of --forwarded-allow-ips: they set the client address
        and the scheme.
        """
        self["proxyHeaders"] = True

    def opt_forwarded_allow_ips(self, addresses):
        """
        Comma-separated IP addresses and CIDR networks of the proxies whose
        headers --proxy-headers trusts; * trusts every peer (default:
        127.0.0.1).
        """
        self["forwardedAllowIPs"] = _service.parseAddressList(addresses)

    def opt_access_log(self, where):
        """
        Where each finished request is logged: - to the process's log
        (namespace gracehttp.access), a file PATH to append lines to, or off
        (default: -).
        """
        self["accessLog"] = where

    def opt_access_log_format(self, logFormat):
        """
        The access log line in Python format syntax over the fields client,
        time, request, method, path, httpVersion, status, size, bytes,
        referer, userAgent, duration (seconds), durationMs and outcome
        (default: Apache combined, then durationMs and outcome).
        """
        self["accessLogFormat"] = logFormat

    def opt_wsgi_chunked_body(self, mode):
        """
        How a WSGI application gets a chunked request body: spool (receive
        it whole first, in memory or past 512 KiB in a temporary file, and
        give the application a CONTENT_LENGTH, which every framework reads)
        or stream (start the application at once, without CONTENT_LENGTH;
        for applications that read wsgi.input to its end) (default: spool).
        """
        self["wsgiChunkedBody"] = _choice(
            "--wsgi-chunked-body", mode, _service.WSGI_CHUNKED_BODY_MODES
        )

    def opt_log_level(self, level):
        """
        Log only events at this level or above: debug, info, warn or error
        (default: what twist's own --log-level says, info).
        """
        self["logLevel"] = _choice("--log-level", level, LOG_LEVELS)

    def parseOptions(self, options=None):
        """
        Parse the command line; a usage error ends the process with one
        line.

        C{twist} and C{twistd} would print the error followed by the whole
        C{--help} text of C{twist} (some ninety lines) and exit with status
        64; the one problem and where to find the help is easier to read,
        in a terminal as in a service manager's journal.

        @param options: the arguments after C{gracehttp}; L{None} means
            C{sys.argv[1:]}.
        @type options: L{list} of L{str} or L{None}
        @raise SystemExit: (status 1, after one line on stderr) a value is
            invalid or missing, an option is unknown, or the application
            cannot be loaded.
        """
        try:
            super().parseOptions(options)
        except usage.UsageError as e:
            _exit(f"{e} (see {_command(self)} --help)")

    def postOptions(self):
        """
        Check the values, load the application, and install the asyncio
        reactor for an ASGI application if no reactor is installed yet.

        @raise usage.UsageError: a value is out of range or C{--app} is
            missing.
        @raise SystemExit: (status 1, after one line on stderr) the
            application cannot be loaded, or it is an ASGI application and
            the chosen reactor is not the asyncio one.
        """
        if self["app"] is None:
            raise usage.UsageError(
                "--app is required (e.g. --app myproject.asgi:application)"
            )
        if not self["listen"]:
            self["listen"] = [_service.DEFAULT_LISTEN]
        try:
            _service.checkSettings(
                interface=self["interface"],
                threads=self["threads"],
                disconnectGracePeriod=self["disconnectGracePeriod"],
                lifespan=self["lifespan"],
                lifespanTimeout=self["lifespanTimeout"],
                rootPath=self["rootPath"],
                **{name: self[name] for name in _HTTP_SETTINGS},
            )
        except ValueError as e:
            raise usage.UsageError(str(e)) from None
        try:
            self["application"] = loadApp(self["app"])
        except AppLoadError as e:
            _exit(str(e))
        self["interfaceOption"] = self["interface"]
        self["interface"], _ = resolveInterface(self["application"], self["interface"])
        if self["interface"] != "wsgi":
            _service.installAsyncioReactorIfNone()
            from twisted.internet import reactor

            from gracehttp._apps.asgi.adapter import AsyncioReactorRequired, requireAsyncioReactor

            try:
                requireAsyncioReactor(reactor)
            except AsyncioReactorRequired as e:
                _exit(str(e))


# usage.Options shows opt_* docstrings as --help text but keeps their
# indentation inside the wrapped lines; fold each into one paragraph.
for _method in vars(Options).values():
    if getattr(_method, "__name__", "").startswith("opt_") and _method.__doc__:
        _method.__doc__ = " ".join(_method.__doc__.split())
del _method


def makeService(options):
    """
    Build the service from parsed options.

    @type options: L{Options}
    @rtype: L{gracehttp._service.HTTPService}
    @raise SystemExit: (status 1, after one line on stderr) a C{--listen}
        value cannot be parsed or the access log file cannot be opened.
    """
    if options["logLevel"] is not None:
        setLogLevel(options, LogLevel.levelWithName(options["logLevel"]))
    try:
        return _service.makeService(
            options["application"],
            interface=options["interfaceOption"],
            listen=options["listen"],
            threads=options["threads"],
            disconnectGracePeriod=options["disconnectGracePeriod"],
            lifespan=options["lifespan"],
            lifespanTimeout=options["lifespanTimeout"],
            rootPath=options["rootPath"],
            **{name: options[name] for name in _HTTP_SETTINGS},
            accessLog=options["accessLog"],
        )
    except ValueError as e:
        _exit(str(e))
    except OSError as e:
        _exit(f"cannot open the access log {options['accessLog']!r}: {e.strerror or e}")


def setLogLevel(options, level, beginner=globalLogBeginner):
    """
    Drop log events below C{level}, for the whole process.

    Under C{twist}, whose own C{--log-level} filters what it logs, that
    level is set (C{twist} builds its log observer after L{makeService},
    from its options).  Otherwise (C{twistd}) every observer the process
    starts logging to is wrapped in a
    L{FilteringLogObserver} with a L{LogLevelFilterPredicate}.

    @param options: the parsed options; C{options.parent} is C{twist}'s.
    @type options: L{Options}
    @type level: L{LogLevel}
    @param beginner: the log beginner the process starts logging with.
    @type beginner: L{twisted.logger.LogBeginner}
    """
    parent = getattr(options, "parent", None)
    if parent is not None and "logLevel" in parent:
        parent["logLevel"] = level
        return
    predicate = LogLevelFilterPredicate(defaultLogLevel=level)
    beginLoggingTo = beginner.beginLoggingTo

    def filtered(observers, *args, **kwargs):
        observers = [FilteringLogObserver(observer, [predicate]) for observer in observers]
        return beginLoggingTo(observers, *args, **kwargs)

    beginner.beginLoggingTo = filtered


def _exit(message):
    """
    Print one line on stderr and exit with status 1: a mistake in the
    command line deserves a sentence, not a traceback.
    """
    sys.stderr.write(f"gracehttp: error: {message}\n")
    sys.stderr.flush()
    raise SystemExit(1)


def _command(options):
    """
    The command that runs these options, for a pointer to its help:
    C{twistd gracehttp} under C{twistd}, C{twist gracehttp} otherwise.

    @type options: L{Options}
    @rtype: L{str}
    """
    parent = getattr(options, "parent", None)
    if parent is not None and type(parent).__module__.startswith("twisted.scripts"):
        return "twistd gracehttp"
    return "twist gracehttp"


def _choice(option, value, choices):
    if value not in choices:
        raise usage.UsageError(
            f"{option} must be one of {', '.join(choices)}, not {value!r}"
        )
    return value


def _count(option, value):
    try:
        return int(value)
    except ValueError:
        raise usage.UsageError(f"{option} must be a whole number, not {value!r}") from None


def _seconds(option, value):
    try:
        seconds = float(value)
    except ValueError:
        seconds = math.nan
    if not math.isfinite(seconds):
        raise usage.UsageError(f"{option} must be a number of seconds, not {value!r}")
    return seconds
