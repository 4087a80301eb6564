"""
The service that serves one application on one or more endpoints.

Theory of operation
===================

Start (L{HTTPService.startService}), in this order:

  1. C{adapter.startup()}: ASGI lifespan startup, or starting the WSGI
     thread pool.  No port listens before it succeeded, so a load balancer
     never sees a socket whose application is not ready.
  2. Listen on every endpoint; log one line, C{gracehttp listening on
     URL, ...;} followed by the version, the interface (and whether it was
     detected), the WSGI thread count, the reactor and the pid; fire the
     L{HTTPService.whenListening} Deferreds with the ports.
  3. If step 1 or 2 fails (C{lifespan.startup.failed}, a lifespan timeout,
     any error from an endpoint's C{listen()}): log one line (an endpoint
     is named by its C{--listen} value, with the OS's reason; a lifespan
     failure is followed by the application's traceback if it reported
     one), stop what already listens, stop the reactor, and make the
     process exit with status 1 (unless the service was made with
     C{exitOnFailure=False}, as in-process tests do).  Only an unexpected
     error is logged with gracehttp's own traceback.

Stop (L{HTTPService.stopService}, run by C{twist}/C{twistd} before reactor
shutdown, e.g. on SIGTERM or SIGINT), in this order:

  1. wait until a start still in progress has settled;
  2. stop listening: new connections are refused at once;
  3. C{serverState.closeIdleConnections()}: idle keep-alive connections
     close now, busy ones after their current response;
  4. wait until the server state has no request in flight and no connection
     open (so the last responses are written out before the reactor
     stops), for at most C{gracefulTimeout} seconds: one C{callLater},
     cancelled when C{serverState.whenDrained()} fires (nothing polls);
  5. if anything is left when it expires: C{serverState.disconnectAll()}.
     The requests go through the normal disconnect -> grace -> cancel
     path (L{gracehttp._core.exchange}) and the stop waits for them to end;
  6. wait for the adapter's own C{inFlight} work;
  7. C{adapter.shutdown()}: ASGI lifespan shutdown, stopping the WSGI
     thread pool (only if C{startup()} had succeeded);
  8. the returned Deferred fires; C{twist}/C{twistd} stop the reactor.

When the service owns its process (C{exitOnFailure}), step 1 also makes a
second SIGINT end the process at once (status 130: 128 + SIGINT), for an
operator who does not want to wait; and once step 8 is reached the
process exits with status 0 rather than re-raising the signal that
stopped it (Twisted's default), since the stop was orderly.
"""

import atexit
import contextlib
import ipaddress
import math
import os
import signal
import sys
import threading

from twisted.application.service import Service
from twisted.internet.defer import (
    Deferred,
    DeferredList,
    fail,
    gatherResults,
    maybeDeferred,
    succeed,
)
from twisted.internet.endpoints import SSL4ServerEndpoint, serverFromString
from twisted.internet.error import CannotListenError, ReactorNotRunning
from twisted.logger import Logger
from twisted.python.failure import Failure

from gracehttp._core.accesslog import DEFAULT_FORMAT as DEFAULT_ACCESS_LOG_FORMAT
from gracehttp._core.accesslog import AccessLog, checkFormat
from gracehttp._core.accesslog import fileObserver as accessLogFile
from gracehttp._errors import LifespanFailure
from gracehttp._version import __version__ as _versionInfo
from gracehttp._loader import loadApp, resolveInterface

DEFAULT_LISTEN = "tcp:8000:interface=127.0.0.1"
"""
The endpoint served when none is given: port 8000 on the loopback
interface only.
"""

INTERFACES = ("auto", "asgi3", "asgi2", "asgi", "wsgi")
"""
The C{interface} values: detect, ASGI 3, ASGI 2, ASGI with its version
detected, WSGI (see L{gracehttp._loader.resolveInterface}).
"""
WSGI_CHUNKED_BODY_MODES = ("spool", "stream")
LIFESPAN_MODES = ("auto", "on", "off")

_log = Logger()


def makeService(
    app,
    interface="auto",
    listen=(DEFAULT_LISTEN,),
    threads=10,
    disconnectGracePeriod=3.0,
    lifespan="auto",
    lifespanTimeout=60.0,
    rootPath="",
    limitRequestHeaderSize=64 * 1024,
    limitRequestHeaders=100,
    limitRequestBody=None,
    timeoutHeader=10.0,
    timeoutKeepAlive=5.0,
    limitConcurrency=None,
    limitConnections=None,
    gracefulTimeout=30.0,
    proxyHeaders=False,
    forwardedAllowIPs=("127.0.0.1",),
    accessLog="-",
    accessLogFormat=DEFAULT_ACCESS_LOG_FORMAT,
    wsgiChunkedBody="spool",
    reactor=None,
    exitOnFailure=True,
):
    """
    Build the service that serves C{app}; start it with C{startService()}
    (C{twistd}, C{twist} and L{twisted.application.service.Application} do).

    @param app: the application, or a C{"module:attribute"} reference to it
        (see L{gracehttp._loader.loadApp}).
    @type app: callable or L{str}
    @param interface: C{"asgi3"} (ASGI 3.0), C{"asgi2"} (ASGI 2
        double-callable), C{"asgi"} (ASGI, version detected), C{"wsgi"}
        (PEP 3333), or C{"auto"} to detect which (see
        L{gracehttp._loader.detectInterface}).
    @param listen: Twisted server endpoint descriptions, e.g.
        C{"tcp:8000:interface=127.0.0.1"}, C{"unix:/run/app.sock"},
        C{"ssl:443:privateKey=key.pem:certKey=cert.pem"},
        C{"systemd:domain=INET:index=0"}.
    @type listen: iterable of L{str}
    @param threads: size of the WSGI thread pool (ignored for ASGI).
    @type threads: L{int}
    @param disconnectGracePeriod: seconds between a client's disconnect and
        the cancellation of its request's ASGI task (a warning for WSGI);
        C{0} cancels at once, a negative value never cancels.
    @type disconnectGracePeriod: L{float}
    @param lifespan: ASGI lifespan mode (ASGI lifespan spec 2.0):
        C{"auto"} (use it if the app supports it), C{"on"}, C{"off"}.
    @param lifespanTimeout: seconds each lifespan phase may take.
    @type lifespanTimeout: L{float}
    @param rootPath: the mount point of the application: ASGI
        C{scope["root_path"]}, WSGI C{SCRIPT_NAME}.
    @type rootPath: L{str}
    @param limitRequestHeaderSize: bytes of request head (request line and
        header fields) accepted; more is answered C{431} (RFC 6585 section
        5).
    @type limitRequestHeaderSize: L{int}
    @param limitRequestHeaders: header fields accepted per request; more is
        answered C{431}.
    @type limitRequestHeaders: L{int}
    @param limitRequestBody: request body bytes accepted, or L{None} for no
        limit; more is answered C{413} (RFC 9110 section 15.5.14).
    @type limitRequestBody: L{int} or L{None}
    @param timeoutHeader: seconds a client has to send a complete request
        head (then C{408} and close, RFC 9110 section 15.5.9); also the
        longest a request body may stop arriving while it is read (the
        application is told the client left, the client gets C{408}).
    @type timeoutHeader: L{float}
    @param timeoutKeepAlive: seconds an idle keep-alive connection is kept
        open between requests (RFC 9112 section 9.3).
    @type timeoutKeepAlive: L{float}
    @param limitConcurrency: requests in flight at once, or L{None} for no
        limit; more are answered C{503} with C{Retry-After}.
    @type limitConcurrency: L{int} or L{None}
    @param limitConnections: open connections, or L{None} for no limit;
        more are closed at once.
    @type limitConnections: L{int} or L{None}
    @param gracefulTimeout: seconds the requests in flight at a stop may
        take to finish before they are disconnected (see
        L{HTTPService.stopService}).
    @type gracefulTimeout: L{float}
    @param proxyHeaders: trust C{X-Forwarded-For}, C{X-Forwarded-Proto} and
        C{Forwarded} (RFC 7239) from the peers in C{forwardedAllowIPs}.
    @type proxyHeaders: L{bool}
    @param forwardedAllowIPs: addresses or CIDR networks (C{"10.0.0.0/8"})
        of the trusted proxies; C{"*"} trusts every peer.
    @type forwardedAllowIPs: iterable of L{str}
    @param accessLog: where finished requests are logged: C{"-"} to the
        process's Twisted log (namespace C{gracehttp.access}), a file path
        to append lines to, or L{None} or C{"off"} for no access log.
    @type accessLog: L{str} or L{None}
    @param accessLogFormat: the access log line, Python format syntax over
        the fields of L{gracehttp._core.accesslog.FIELDS}; the default is Apache
        combined plus the duration in milliseconds and the outcome.
    @type accessLogFormat: L{str}
    @param wsgiChunkedBody: how a WSGI application gets a chunked request
        body (RFC 9112 section 7.1): C{"spool"} receives it whole first (in
        memory, past 512 KiB in a temporary file) and gives the application
        a C{CONTENT_LENGTH}, which every framework reads; C{"stream"}
        starts the application at once, without C{CONTENT_LENGTH}, for
        applications that read C{wsgi.input} to its end
        (C{wsgi.input_terminated}).  Ignored for ASGI.
    @type wsgiChunkedBody: L{str}
    @param reactor: the reactor to serve on; L{None} means the global one.
        For an ASGI application, if no reactor is installed yet, the
        asyncio reactor is installed.
    @param exitOnFailure: the service runs a process of its own (C{twist},
        C{twistd}): on a start-up failure it stops the reactor and makes
        the process exit with status 1; while it stops, a second SIGINT
        exits at once; a completed stop exits with status 0.  When false,
        only L{HTTPService.whenListening} reports a failure and signals are
        left alone (in-process use).
    @type exitOnFailure: L{bool}
    @return: the service.
    @rtype: L{HTTPService}
    @raise ValueError: a setting is out of range or an endpoint description
        cannot be parsed (a one-line message).
    @raise OSError: the access log file cannot be opened.
    @raise gracehttp.AppLoadError: C{app} is a reference that cannot be
        loaded.
    """
    if isinstance(listen, str):
        listen = [listen]
    else:
        listen = list(listen)
    if isinstance(forwardedAllowIPs, str):
        forwardedAllowIPs = parseAddressList(forwardedAllowIPs)
    else:
        forwardedAllowIPs = tuple(forwardedAllowIPs)
    checkSettings(
        interface=interface,
        threads=threads,
        disconnectGracePeriod=disconnectGracePeriod,
        lifespan=lifespan,
        lifespanTimeout=lifespanTimeout,
        rootPath=rootPath,
        limitRequestHeaderSize=limitRequestHeaderSize,
        limitRequestHeaders=limitRequestHeaders,
        limitRequestBody=limitRequestBody,
        timeoutHeader=timeoutHeader,
        timeoutKeepAlive=timeoutKeepAlive,
        limitConcurrency=limitConcurrency,
        limitConnections=limitConnections,
        gracefulTimeout=gracefulTimeout,
        proxyHeaders=proxyHeaders,
        forwardedAllowIPs=forwardedAllowIPs,
        accessLogFormat=accessLogFormat,
        wsgiChunkedBody=wsgiChunkedBody,
    )
    if not listen:
        raise ValueError("at least one endpoint to listen on is needed")
    if isinstance(app, str):
        app = loadApp(app)
    elif not callable(app):
        raise ValueError(f"the application must be callable, not {app!r}")
    interface, detected = resolveInterface(app, interface)
    if reactor is None:
        if interface != "wsgi":
            installAsyncioReactorIfNone()
        from twisted.internet import reactor
    endpoints = [parseEndpoint(reactor, description) for description in listen]

    # The adapters and the protocol are imported here, once per service, so
    # that importing gracehttp (e.g. from the twist plugin) stays light and
    # a WSGI deployment never loads the asyncio bridge.
    if interface != "wsgi":
        from gracehttp._apps.asgi.adapter import ASGIAdapter, requireAsyncioReactor

        requireAsyncioReactor(reactor)
        adapter = ASGIAdapter(
            app,
            reactor,
            reactor._asyncioEventloop,
            rootPath=rootPath,
            lifespan=lifespan,
            lifespanTimeout=lifespanTimeout,
            asgi3=interface == "asgi3",
        )
    else:
        from twisted.python.threadpool import ThreadPool

        from gracehttp._apps.wsgi.adapter import WSGIAdapter

        threadpool = ThreadPool(threads, threads, name="gracehttp-wsgi")
        adapter = WSGIAdapter(
            app,
            reactor,
            threadpool,
            rootPath=rootPath,
            chunkedBody=wsgiChunkedBody,
        )
    from gracehttp._core.serverstate import ServerState
    from gracehttp._protocols.http11 import HTTPFactory
    from gracehttp._settings import HTTPSettings

    settings = HTTPSettings(
        disconnectGracePeriod=float(disconnectGracePeriod),
        limitRequestHeaderSize=limitRequestHeaderSize,
        limitRequestHeaders=limitRequestHeaders,
        limitRequestBody=limitRequestBody,
        timeoutHeader=float(timeoutHeader),
        timeoutKeepAlive=float(timeoutKeepAlive),
        limitConcurrency=limitConcurrency,
        limitConnections=limitConnections,
        proxyHeaders=proxyHeaders,
        forwardedAllowIPs=forwardedAllowIPs,
    )
    serverState = ServerState(
        reactor,
        limitConnections,
        limitConcurrency,
        makeAccessLog(reactor, accessLog, accessLogFormat),
    )
    factory = HTTPFactory(adapter, reactor, settings, serverState)
    return HTTPService(
        adapter,
        factory,
        serverState,
        endpoints,
        reactor,
        exitOnFailure,
        float(gracefulTimeout),
        descriptions=listen,
        interface=interface,
        detected=detected,
        threads=threads if interface == "wsgi" else None,
    )


def makeAccessLog(clock, accessLog, accessLogFormat=DEFAULT_ACCESS_LOG_FORMAT):
    """
    Build the access log a factory calls for each finished request.

    @param clock: gives each request's end time.
    @param accessLog: C{"-"}, a file path, C{"off"} or L{None}; see
        L{makeService}.
    @param accessLogFormat: see L{makeService}.
    @return: the access log, or L{None} when it is off.
    @rtype: L{AccessLog<gracehttp._core.accesslog.AccessLog>} or L{None}
    @raise OSError: the file cannot be opened.
    """
    if accessLog is None or accessLog == "off":
        return None
    observer = None if accessLog == "-" else accessLogFile(accessLog)
    return AccessLog(clock, accessLogFormat, observer)


def parseAddressList(value):
    """
    Parse a C{--forwarded-allow-ips} value.

    @param value: comma-separated addresses and CIDR networks, or C{"*"}.
    @type value: L{str}
    @return: the entries, stripped, empty ones dropped.
    @rtype: L{tuple} of L{str}
    """
    return tuple(entry.strip() for entry in value.split(",") if entry.strip())


def checkSettings(**settings):
    """
    Check the settings L{makeService} and C{twist gracehttp} share; only
    those given are checked.

    @param settings: L{makeService} keyword arguments.
    @raise ValueError: one of them is out of range (a one-line message).
    """
    for name, value in settings.items():
        _CHECKS[name](value)


def _checkChoice(what, choices):
    def check(value):
        if value not in choices:
            raise ValueError(f"{what} must be one of {', '.join(choices)}, not {value!r}")

    return check


def _checkCount(what, minimum=1, optional=False):
    def check(value):
        if value is None and optional:
            return
        if type(value) is not int or value < minimum:
            raise ValueError(
                f"{what} must be a whole number of at least {minimum}, not {value!r}"
            )

    return check


def _checkSeconds(what, minimum=None, positive=False):
    def check(value):
        if (
            not _isNumber(value)
            or not math.isfinite(value)
            or (positive and value <= 0)
            or (minimum is not None and value < minimum)
        ):
            kind = "a positive number" if positive else (
                "a number" if minimum is None else "a non-negative number"
            )
            raise ValueError(f"{what} must be {kind} of seconds, not {value!r}")

    return check


def _checkFlag(what):
    def check(value):
        if not isinstance(value, bool):
            raise ValueError(f"{what} must be True or False, not {value!r}")

    return check


def _checkRootPath(value):
    if not isinstance(value, str) or (value and not value.startswith("/")):
        raise ValueError(f"root path must be empty or start with '/', not {value!r}")


def _checkAddresses(value):
    if not value:
        raise ValueError("forwarded allow IPs must name at least one address or '*'")
    for entry in value:
        if entry == "*":
            continue
        try:
            ipaddress.ip_network(entry, strict=False)
        except (TypeError, ValueError):
            raise ValueError(
                f"forwarded allow IPs: {entry!r} is not an IP address, a CIDR network or '*'"
            ) from None


_CHECKS = {
    "interface": _checkChoice("interface", INTERFACES),
    "lifespan": _checkChoice("lifespan", LIFESPAN_MODES),
    "threads": _checkCount("threads"),
    "rootPath": _checkRootPath,
    "disconnectGracePeriod": _checkSeconds("disconnect grace period"),
    "lifespanTimeout": _checkSeconds("lifespan timeout", positive=True),
    "limitRequestHeaderSize": _checkCount("limit request header size"),
    "limitRequestHeaders": _checkCount("limit request headers"),
    "limitRequestBody": _checkCount("limit request body", minimum=0, optional=True),
    "timeoutHeader": _checkSeconds("timeout header", positive=True),
    "timeoutKeepAlive": _checkSeconds("timeout keep-alive", minimum=0),
    "limitConcurrency": _checkCount("limit concurrency", optional=True),
    "limitConnections": _checkCount("limit connections", optional=True),
    "gracefulTimeout": _checkSeconds("graceful timeout", minimum=0),
    "proxyHeaders": _checkFlag("proxy headers"),
    "forwardedAllowIPs": _checkAddresses,
    "accessLogFormat": checkFormat,
    "wsgiChunkedBody": _checkChoice("wsgi chunked body", WSGI_CHUNKED_BODY_MODES),
}


def _isNumber(value):
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def parseEndpoint(reactor, description):
    """
    Parse one C{--listen} value.

    @param description: a Twisted server endpoint string
        (L{twisted.internet.endpoints.serverFromString}).
    @type description: L{str}
    @return: the endpoint.
    @rtype: L{twisted.internet.interfaces.IStreamServerEndpoint}
    @raise ValueError: the description cannot be parsed, or it is a TLS
        endpoint and pyOpenSSL is not installed (a one-line message naming
        it, and for TLS the C{gracehttp[tls]} extra).
    """
    try:
        return serverFromString(reactor, description)
    except ImportError as e:
        if (e.name or "").partition(".")[0] in _TLS_MODULES:
            detail = "TLS needs pyOpenSSL: pip install 'gracehttp[tls]'"
        else:
            detail = " ".join(str(e).split())
    except Exception as e:
        detail = " ".join(str(e).split()) or type(e).__name__
    raise ValueError(f"cannot listen on {description!r}: {detail}") from None


_TLS_MODULES = ("OpenSSL", "cryptography")
"""
The modules Twisted's TLS support cannot import without the packages its
C{tls} extra (and so C{gracehttp[tls]}) installs: pyOpenSSL and the
C{cryptography} it needs.
"""


def installAsyncioReactorIfNone():
    """
    Install Twisted's asyncio reactor unless a reactor is installed already.

    ASGI applications run as asyncio tasks on the reactor's event loop.
    An installed reactor, e.g. one chosen with
    C{twist --reactor}, is left alone.
    """
    if "twisted.internet.reactor" not in sys.modules:
        from twisted.internet import asyncioreactor

        asyncioreactor.install()


class HTTPService(Service):
    """
    Serves one application adapter on a set of endpoints; see the module
    docstring for the start and stop sequences.

    @ivar adapter: the application adapter.
    @type adapter: L{IAppAdapter<gracehttp._core.interfaces.IAppAdapter>}
    """

    def __init__(
        self,
        adapter,
        factory,
        serverState,
        endpoints,
        reactor,
        exitOnFailure=True,
        gracefulTimeout=30.0,
        descriptions=None,
        interface=None,
        detected=False,
        threads=None,
    ):
        """
        @param adapter: runs the application.
        @type adapter: L{IAppAdapter<gracehttp._core.interfaces.IAppAdapter>}
        @param factory: the protocol factory every endpoint listens with.
        @type factory: L{twisted.internet.interfaces.IProtocolFactory}
        @param serverState: what the factory's connections report to: the
            stop closes, drains and cuts connections through it.
        @type serverState: L{IServerState<gracehttp._core.serverstate.IServerState>}
        @param endpoints: where to listen.
        @type endpoints: L{list} of
            L{IStreamServerEndpoint<twisted.internet.interfaces.IStreamServerEndpoint>}
        @param reactor: stopped on a start-up failure when C{exitOnFailure};
            times the graceful timeout.
        @param exitOnFailure: see L{makeService}.
        @param gracefulTimeout: seconds in-flight requests get to finish at
            a stop before they are disconnected.
        @type gracefulTimeout: L{float}
        @param descriptions: the endpoint strings the endpoints were parsed
            from, in the same order, to name one that cannot listen;
            L{None} names them by type.
        @type descriptions: L{list} of L{str} or L{None}
        @param interface: what the application is served as, for the
            start-up line: C{"asgi3"}, C{"asgi2"} or C{"wsgi"}; L{None}
            when not known (the line then does not name it).
        @type interface: L{str} or L{None}
        @param detected: whether C{interface} was detected rather than
            given.
        @type detected: L{bool}
        @param threads: the WSGI thread pool size, for the start-up line;
            L{None} for ASGI.
        @type threads: L{int} or L{None}
        """
        self.adapter = adapter
        self._gracefulTimeout = gracefulTimeout
        self._previousInterruptHandler = None
        self._factory = factory
        self._state = serverState
        self._endpoints = endpoints
        if descriptions is None:
            descriptions = [type(endpoint).__name__ for endpoint in endpoints]
        self._descriptions = list(descriptions)
        self._interface = interface
        self._detected = detected
        self._threads = threads
        self._failedEndpoint = None
        self._reactor = reactor
        self._exitOnFailure = exitOnFailure
        self._starting = None
        self._adapterStarted = False
        self._ports = None
        self._failure = None
        self._waiters = []

    def whenListening(self):
        """
        @return: a Deferred that fires with the listening ports (in the
            order of the endpoints), or fails with the start-up error.
        @rtype: L{Deferred} firing with a L{list} of
            L{IListeningPort<twisted.internet.interfaces.IListeningPort>}
        """
        if self._ports is not None:
            return succeed(list(self._ports))
        if self._failure is not None:
            return fail(self._failure)
        d = Deferred()
        self._waiters.append(d)
        return d

    def startService(self):
        """
        Run the application's start-up, then listen.  Returns at once; see
        L{whenListening}.
        """
        Service.startService(self)
        d = maybeDeferred(self.adapter.startup)
        d.addCallback(self._startedUp)
        d.addCallbacks(self._listening, self._startFailed)
        self._starting = d

    def _startedUp(self, ignored):
        self._adapterStarted = True
        listening = [
            maybeDeferred(endpoint.listen, self._factory)
            for endpoint in self._endpoints
        ]
        return DeferredList(listening, consumeErrors=True).addCallback(
            self._allListening
        )

    def _allListening(self, results):
        ports = [result for ok, result in results if ok]
        failures = [(index, result) for index, (ok, result) in enumerate(results) if not ok]
        if not failures:
            return ports
        self._failedEndpoint, failure = failures[0]
        stopping = [maybeDeferred(port.stopListening) for port in ports]
        return DeferredList(stopping, consumeErrors=True).addCallback(
            lambda ignored: failure
        )

    def _listening(self, ports):
        self._ports = ports
        self._logStarted(
            [_url(endpoint, port.getHost()) for endpoint, port in zip(self._endpoints, ports)]
        )
        waiters, self._waiters = self._waiters, []
        for waiter in waiters:
            waiter.callback(list(ports))

    def _logStarted(self, urls):
        """
        Log the one start-up line: where it listens, and what serves.

        @param urls: the listening ports' URLs (see L{_url}).
        @type urls: L{list} of L{str}
        """
        serving = f"interface {self._interface} ({'detected' if self._detected else 'given'})"
        if self._interface is None:
            serving = "interface not named"
        if self._threads is not None:
            serving += f" with {self._threads} threads"
        _log.info(
            "gracehttp listening on {listening}; gracehttp {version}, {serving}, "
            "reactor {reactor}, pid {pid}",
            listening=", ".join(urls),
            urls=urls,
            version=_versionInfo.public(),
            serving=serving,
            interface=self._interface,
            detected=self._detected,
            threads=self._threads,
            reactor=type(self._reactor).__name__,
            pid=os.getpid(),
        )

    def _startFailed(self, failure):
        self._failure = failure
        if self._failedEndpoint is not None:
            _log.error(
                "gracehttp failed to start: cannot listen on {endpoint!r}: {reason}",
                endpoint=self._descriptions[self._failedEndpoint],
                reason=_listenReason(failure.value),
            )
        elif failure.check(LifespanFailure):
            _logLifespanFailure(failure.value)
        else:
            _log.failure("gracehttp failed to start", failure)
        waiters, self._waiters = self._waiters, []
        for waiter in waiters:
            waiter.errback(failure)
        if self._exitOnFailure:
            atexit.register(_exitWithStatus1)
            self._reactor.callWhenRunning(self._stopReactor)

    def _stopReactor(self):
        with contextlib.suppress(ReactorNotRunning):
            self._reactor.stop()

    def stopService(self):
        """
        Stop gracefully: stop listening, close idle connections, let the
        requests in flight finish (disconnecting those left after the
        graceful timeout), then shut the adapter down (ASGI lifespan
        shutdown, WSGI thread pool).  See the module docstring.

        @return: a Deferred that fires when all of that is done.
        @rtype: L{Deferred}
        """
        Service.stopService(self)
        if self._exitOnFailure:
            self._previousInterruptHandler = _exitOnSecondInterrupt()
        started = Deferred()
        if self._starting is None:
            started.callback(None)
        else:
            self._starting.addCallback(started.callback)
        return started.addCallback(self._stop).addBoth(self._stopped)

    def _stop(self, ignored):
        ports, self._ports = self._ports or [], None
        stopping = [maybeDeferred(port.stopListening) for port in ports]
        self._state.closeIdleConnections()
        d = gatherResults(stopping, consumeErrors=True)
        d.addCallback(self._drain)
        d.addCallback(self._adapterIdle)
        if self._adapterStarted:
            d.addCallback(lambda ignored: self.adapter.shutdown())
        return d.addCallback(lambda ignored: None)

    def _drain(self, ignored):
        """
        Wait until the server has no request in flight and no connection
        open (the last responses are written out), disconnecting what is
        left after the graceful timeout.
        """
        state = self._state
        if not state.requestsInFlight and not state.connections:
            return None
        if state.requestsInFlight:
            _log.info(
                "gracehttp stopping: waiting up to {timeout} s for {count} request(s) in flight",
                timeout=self._gracefulTimeout,
                count=state.requestsInFlight,
            )
        drained = state.whenDrained()
        expiry = self._reactor.callLater(self._gracefulTimeout, self._disconnectAll)
        return drained.addCallback(_cancelCall, expiry)

    def _disconnectAll(self):
        state = self._state
        _log.warn(
            "gracehttp stopping: {count} request(s) still running on {connections} "
            "connection(s) after the graceful timeout of {timeout} s; disconnecting them",
            count=state.requestsInFlight,
            connections=len(state.connections),
            timeout=self._gracefulTimeout,
        )
        state.disconnectAll()

    def _adapterIdle(self, ignored):
        inFlight = self.adapter.inFlight
        return DeferredList(inFlight, consumeErrors=True)

    def _stopped(self, result):
        """
        The stop is over: put the SIGINT handler back and, if the service
        owns the process and the stop succeeded, make it exit with status 0.
        """
        if self._previousInterruptHandler is not None:
            signal.signal(signal.SIGINT, self._previousInterruptHandler)
            self._previousInterruptHandler = None
        if self._exitOnFailure and self._failure is None and not isinstance(result, Failure):
            # Twisted re-raises the signal that stopped the reactor once it
            # stopped (reactor._exitSignal); an orderly stop is a success.
            if getattr(self._reactor, "_exitSignal", None) is not None:
                self._reactor._exitSignal = None
        if not isinstance(result, Failure):
            _log.info("gracehttp stopped")
        return result


def _listenReason(error):
    """
    Why an endpoint could not listen, in a few words.

    @param error: what C{listen()} failed with: a L{CannotListenError}
        (which wraps the L{OSError}), an L{OSError} (e.g. a UNIX socket's
        directory is missing), or anything else (e.g. L{OverflowError} for
        a port above 65535).
    @type error: L{BaseException}
    @rtype: L{str}
    """
    if isinstance(error, CannotListenError) and error.socketError is not None:
        error = error.socketError
    if isinstance(error, OSError) and error.strerror:
        return error.strerror
    return " ".join(str(error).split()) or type(error).__name__


def _logLifespanFailure(error):
    """
    Log a failed lifespan startup: one line, then the application's
    traceback (or the text it reported), if there is one, once.

    @type error: L{LifespanFailure}
    """
    reason = " ".join(str(error).split()) or type(error).__name__
    if error.details:
        _log.error(
            "gracehttp failed to start: {reason}\n{details}",
            reason=reason,
            details=error.details,
        )
    else:
        _log.error("gracehttp failed to start: {reason}", reason=reason)


def _cancelCall(result, call):
    if call.active():
        call.cancel()
    return result


def _exitOnSecondInterrupt():
    """
    Make the next SIGINT end the process at once (status 130), for an
    operator who does not want to wait for a graceful stop.  Twisted's own
    handler only asks a reactor that is already stopping to stop.

    @return: the previous SIGINT handler, to put back when the stop is
        over; L{None} if nothing was installed (not the main thread, where
        Python allows no signal handler).
    """
    if threading.current_thread() is not threading.main_thread():
        return None
    return signal.signal(signal.SIGINT, _exitNow)


def _exitNow(number, frame):
    """
    The second SIGINT: say so on stderr and exit without cleaning up.
    """
    with contextlib.suppress(OSError):
        os.write(2, b"gracehttp: second interrupt, exiting at once\n")
    os._exit(128 + number)


def _url(endpoint, address):
    """
    How to reach a listening port, for the log.

    @return: e.g. C{"http://127.0.0.1:8000"}, C{"https://[::1]:8443"},
        C{"unix:/run/app.sock"}.
    @rtype: L{str}
    """
    host = getattr(address, "host", None)
    if host is None:
        return f"unix:{os.fsdecode(address.name)}"
    scheme = "https" if isinstance(endpoint, SSL4ServerEndpoint) else "http"
    if ":" in host:
        host = f"[{host}]"
    return f"{scheme}://{host}:{address.port}"


def _exitWithStatus1():
    """
    Run at interpreter exit after a failed start: C{twist} and C{twistd}
    return normally once the reactor stopped, so this is the one place left
    to make the exit status say "failed".
    """
    for stream in (sys.stdout, sys.stderr):
        with contextlib.suppress(Exception):
            stream.flush()
    os._exit(1)
