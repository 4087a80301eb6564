"""
The service that serves one application on one or more endpoints.

Theory of operation
===================

Start (L{HTTPService.startService}), in this order (DESIGN.md section 5):

  1. C{adapter.startup()}: ASGI lifespan startup, or starting the WSGI
     thread pool.  No port listens before it succeeded, so a load balancer
     never sees a socket whose application is not ready.
  2. Listen on every endpoint; log C{gracehttp listening on URL} per port;
     fire the L{HTTPService.whenListening} Deferreds with the ports.
  3. If step 1 or 2 fails (C{lifespan.startup.failed}, a lifespan timeout,
     a port in use): log one line, stop what already listens, stop the
     reactor, and make the process exit with status 1 (unless the service
     was made with C{exitOnFailure=False}, as in-process tests do).

Stop (L{HTTPService.stopService}, run by C{twist}/C{twistd} before reactor
shutdown, e.g. on SIGTERM):

  1. wait until a start still in progress has settled;
  2. stop listening;
  3. wait for the requests the adapter has in flight;
  4. C{adapter.shutdown()}: ASGI lifespan shutdown, stopping the WSGI
     thread pool (only if C{startup()} had succeeded).
"""

import atexit
import contextlib
import math
import os
import sys

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

from ._errors import LifespanFailure
from ._loader import detectInterface, loadApp

DEFAULT_LISTEN = "tcp:8000:interface=127.0.0.1"
"""
The endpoint served when none is given: port 8000 on the loopback
interface only.
"""

INTERFACES = ("auto", "asgi", "wsgi")
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
    reactor=None,
    exitOnFailure=True,
):
    """
    Build the service that serves C{app}; start it with C{startService()}
    (C{twistd}, C{twist} and L{twisted.application.service.Application} do).

    @param app: the application, or a C{"module:attribute"} reference to it
        (see L{gracehttp._loader.loadApp}).
    @type app: callable or L{str}
    @param interface: C{"asgi"} (ASGI 3.0, or ASGI 2 double-callable),
        C{"wsgi"} (PEP 3333), or C{"auto"} to detect it (DESIGN.md
        section 6).
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
    @param reactor: the reactor to serve on; L{None} means the global one.
        For an ASGI application, if no reactor is installed yet, the
        asyncio reactor is installed.
    @param exitOnFailure: on a start-up failure, stop the reactor and make
        the process exit with status 1 (for C{twist}/C{twistd}); when
        false only L{HTTPService.whenListening} reports the failure.
    @type exitOnFailure: L{bool}
    @return: the service.
    @rtype: L{HTTPService}
    @raise ValueError: a setting is out of range or an endpoint description
        cannot be parsed (a one-line message).
    @raise gracehttp.AppLoadError: C{app} is a reference that cannot be
        loaded.
    """
    if isinstance(listen, str):
        listen = [listen]
    else:
        listen = list(listen)
    checkSettings(
        interface=interface,
        threads=threads,
        disconnectGracePeriod=disconnectGracePeriod,
        lifespan=lifespan,
        lifespanTimeout=lifespanTimeout,
    )
    if not listen:
        raise ValueError("at least one endpoint to listen on is needed")
    if isinstance(app, str):
        app = loadApp(app)
    elif not callable(app):
        raise ValueError(f"the application must be callable, not {app!r}")
    if interface == "auto":
        interface = detectInterface(app)
    if reactor is None:
        if interface == "asgi":
            installAsyncioReactorIfNone()
        from twisted.internet import reactor
    endpoints = [parseEndpoint(reactor, description) for description in listen]

    # The adapters and the protocol are imported here, once per service, so
    # that importing gracehttp (e.g. from the twist plugin) stays light and
    # a WSGI deployment never loads the asyncio bridge.
    if interface == "asgi":
        from ._asgi import ASGIAdapter, requireAsyncioReactor

        requireAsyncioReactor(reactor)
        adapter = ASGIAdapter(
            app,
            reactor,
            reactor._asyncioEventloop,
            rootPath=rootPath,
            lifespan=lifespan,
            lifespanTimeout=lifespanTimeout,
        )
    else:
        from twisted.python.threadpool import ThreadPool

        from ._wsgi import WSGIAdapter

        threadpool = ThreadPool(threads, threads, name="gracehttp-wsgi")
        adapter = WSGIAdapter(app, reactor, threadpool, rootPath=rootPath)
    from ._http11 import HTTPFactory
    from ._settings import HTTPSettings

    factory = HTTPFactory(
        adapter, reactor, HTTPSettings(disconnectGracePeriod=float(disconnectGracePeriod))
    )
    return HTTPService(adapter, factory, endpoints, reactor, exitOnFailure)


def checkSettings(interface, threads, disconnectGracePeriod, lifespan, lifespanTimeout):
    """
    Check the settings L{makeService} and C{twist gracehttp} share.

    @raise ValueError: one of them is out of range (a one-line message).
    """
    if interface not in INTERFACES:
        raise ValueError(f"interface must be one of {', '.join(INTERFACES)}, not {interface!r}")
    if lifespan not in LIFESPAN_MODES:
        raise ValueError(
            f"lifespan must be one of {', '.join(LIFESPAN_MODES)}, not {lifespan!r}"
        )
    if type(threads) is not int or threads < 1:
        raise ValueError(f"threads must be a whole number of at least 1, not {threads!r}")
    if not _isNumber(disconnectGracePeriod) or not math.isfinite(disconnectGracePeriod):
        raise ValueError(
            f"disconnect grace period must be a number of seconds, not {disconnectGracePeriod!r}"
        )
    if (
        not _isNumber(lifespanTimeout)
        or not math.isfinite(lifespanTimeout)
        or lifespanTimeout <= 0
    ):
        raise ValueError(
            f"lifespan timeout must be a positive number of seconds, not {lifespanTimeout!r}"
        )


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
    @raise ValueError: the description cannot be parsed (a one-line
        message naming it).
    """
    try:
        return serverFromString(reactor, description)
    except Exception as e:
        detail = " ".join(str(e).split()) or type(e).__name__
        raise ValueError(f"cannot listen on {description!r}: {detail}") from None


def installAsyncioReactorIfNone():
    """
    Install Twisted's asyncio reactor unless a reactor is installed already.

    ASGI applications run as asyncio tasks on the reactor's event loop
    (DESIGN.md section 3).  An installed reactor, e.g. one chosen with
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
    @type adapter: L{IAppAdapter<gracehttp._interfaces.IAppAdapter>}
    """

    def __init__(self, adapter, factory, endpoints, reactor, exitOnFailure=True):
        """
        @param adapter: runs the application.
        @type adapter: L{IAppAdapter<gracehttp._interfaces.IAppAdapter>}
        @param factory: the protocol factory every endpoint listens with.
        @type factory: L{twisted.internet.protocol.Factory}
        @param endpoints: where to listen.
        @type endpoints: L{list} of
            L{IStreamServerEndpoint<twisted.internet.interfaces.IStreamServerEndpoint>}
        @param reactor: stopped on a start-up failure when C{exitOnFailure}.
        @param exitOnFailure: see L{makeService}.
        """
        self.adapter = adapter
        self._factory = factory
        self._endpoints = endpoints
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
        failures = [result for ok, result in results if not ok]
        if not failures:
            return ports
        stopping = [maybeDeferred(port.stopListening) for port in ports]
        return DeferredList(stopping, consumeErrors=True).addCallback(
            lambda ignored: failures[0]
        )

    def _listening(self, ports):
        self._ports = ports
        for endpoint, port in zip(self._endpoints, ports):
            _log.info("gracehttp listening on {url}", url=_url(endpoint, port.getHost()))
        waiters, self._waiters = self._waiters, []
        for waiter in waiters:
            waiter.callback(list(ports))

    def _startFailed(self, failure):
        self._failure = failure
        if failure.check(LifespanFailure, CannotListenError):
            _log.error(
                "gracehttp failed to start: {reason}",
                reason=" ".join(str(failure.value).split())
                or type(failure.value).__name__,
            )
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
        Stop listening, wait for the requests in flight, then shut the
        adapter down (ASGI lifespan shutdown, WSGI thread pool).

        @return: a Deferred that fires when all of that is done.
        @rtype: L{Deferred}
        """
        Service.stopService(self)
        started = Deferred()
        if self._starting is None:
            started.callback(None)
        else:
            self._starting.addCallback(started.callback)
        return started.addCallback(self._stop)

    def _stop(self, ignored):
        ports, self._ports = self._ports or [], None
        stopping = [maybeDeferred(port.stopListening) for port in ports]
        d = gatherResults(stopping, consumeErrors=True)
        d.addCallback(self._drain)
        if self._adapterStarted:
            d.addCallback(lambda ignored: self.adapter.shutdown())
        return d.addCallback(lambda ignored: None)

    def _drain(self, ignored):
        # The graceful drain of keep-alive connections comes later; for now
        # the requests already running finish before the adapter shuts
        # down.
        inFlight = list(getattr(self.adapter, "inFlight", ()))
        return DeferredList(inFlight, consumeErrors=True)


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
