"""
The parent's service with C{--workers} above 1: bind, supervise, drain.

Theory of operation
===================

Start (L{WorkersService.startService}): bind every endpoint
(L{gracehttp._workers.binding.bindAll}), start the workers
(L{Supervisor<gracehttp._workers.supervisor.Supervisor>} with a
L{WorkerSpawner<gracehttp._workers.process.WorkerSpawner>}), and once
every worker listens log one line, C{gracehttp supervising N worker(s)
on URL, ...}, fire L{WorkersService.whenListening}, and with C{reload}
start watching the files (L{gracehttp._workers.reloader}).  If an endpoint cannot
listen or a worker exits before it is ready (the worker logged why, e.g.
the application cannot be imported), log one line, stop what started and,
when the service owns its process, exit with status 1.  The parent never
imports the application: each worker does, so a reload loads new code.

With C{--readiness-listen}, the parent listens there first and answers
it (L{gracehttp._protocols.readiness}): C{503 starting} until every
worker listens, C{200 ready} then, C{503 draining} from the start of a
stop; the workers do not serve it.

While it runs, C{SIGHUP} replaces the workers one at a time (the
supervisor's rolling replacement); the readiness endpoint stays C{200}.

Stop (L{WorkersService.stopService}, on C{SIGTERM} or C{SIGINT}): every
worker is sent C{SIGTERM} and runs its own graceful stop (its requests in
flight finish, its lifespan shutdown runs); workers left after the
longest such stop (graceful timeout + disconnect grace period + lifespan
timeout, plus 10 s) are killed; then the parent closes its sockets and,
owning its process, exits 0.
"""

import atexit
import contextlib
import os
import signal
import threading

from twisted.application.service import Service
from twisted.internet.defer import Deferred, fail, maybeDeferred, succeed
from twisted.internet.error import ReactorNotRunning
from twisted.logger import Logger

from gracehttp import _service
from gracehttp._protocols.readiness import Readiness, ReadinessFactory
from gracehttp._version import __version__ as _versionInfo
from gracehttp._workers.binding import CannotBind, bindAll, closeAll
from gracehttp._workers.process import WorkerSpawner
from gracehttp._workers.reloader import Reloader, requireWatchfiles
from gracehttp._workers.supervisor import Supervisor

_log = Logger()


class WorkersService(Service):
    """
    Supervises the worker processes that serve one configuration; see the
    module docstring.
    """

    def __init__(self, spec, config, reactor, exitOnFailure=True, logFd=1):
        """
        @param spec: what every worker serves and how it logs (see
            L{WorkerSpawner}).
        @type spec: L{dict}
        @param config: the settings (C{listen}, C{workers}, the stop's
            timeouts).
        @type config: L{Config<gracehttp._config.Config>}
        @param reactor: spawns the workers and times the back-off;
            L{None}: the global one, taken when the service starts (the
            parent never imports the application, so nothing chose a
            reactor for it).
        @param exitOnFailure: see L{gracehttp.makeService}; also installs
            the C{SIGHUP} handler.
        @param logFd: the descriptor workers log to.
        """
        self._spec = spec
        self._config = config
        self._reactor = reactor
        self._exitOnFailure = exitOnFailure
        self._logFd = logFd
        self._sockets = []
        self._supervisor = None
        self._starting = None
        self._failure = None
        self._listening = None
        self._waiters = []
        self._previousHangup = None
        self._reloader = None
        self.readiness = Readiness()
        self.readinessPort = None

    def whenListening(self):
        """
        @return: fires with the parent's ports (one per endpoint) once every
            worker listens, or fails with the start-up error.
        @rtype: L{Deferred}
        """
        if self._listening is not None:
            return succeed(list(self._listening))
        if self._failure is not None:
            return fail(self._failure)
        d = Deferred()
        self._waiters.append(d)
        return d

    def reload(self):
        """
        Replace every worker, one at a time (what C{SIGHUP} does).
        """
        if self._supervisor is not None:
            self._supervisor.reload()

    def startService(self):
        Service.startService(self)
        if self._reactor is None:
            from twisted.internet import reactor

            self._reactor = reactor
        d = self._listenReadiness()
        d.addCallback(lambda ignored: bindAll(self._reactor, list(self._config.listen)))
        d.addCallback(self._bound)
        d.addCallbacks(self._started, self._startFailed)
        self._starting = d

    def _listenReadiness(self):
        """
        Listen on the readiness endpoint, if there is one: the parent
        answers it (C{503 starting} until every worker listens, C{200}
        then, C{503 draining} from the start of a stop), not the workers.

        @return: fires once it listens; fails with L{CannotBind}.
        @rtype: L{Deferred}
        """
        description = self._config.readinessListen
        if description is None:
            return succeed(None)
        try:
            endpoint = _service.parseEndpoint(self._reactor, description)
        except ValueError as e:
            return fail(e)
        d = maybeDeferred(endpoint.listen, ReadinessFactory(self.readiness, self._reactor))

        def listening(port):
            self.readinessPort = port
            _log.info(
                "gracehttp readiness endpoint on {url} (503 until started)",
                url=_service._url(endpoint, port.getHost()),
            )

        def failed(failure):
            raise CannotBind(description, _service._listenReason(failure.value))

        return d.addCallbacks(listening, failed)

    def _closeReadiness(self, result):
        port, self.readinessPort = self.readinessPort, None
        if port is None:
            return result
        return maybeDeferred(port.stopListening).addBoth(lambda ignored: result)

    def _bound(self, sockets):
        self._sockets = sockets
        spawner = WorkerSpawner(self._reactor, sockets, self._spec, self._logFd)
        config = self._config
        killAfter = (
            config.gracefulTimeout
            + max(config.disconnectGracePeriod, 0)
            + config.lifespanTimeout
            + 10
        )
        supervisor = Supervisor(self._reactor, spawner.spawn, config.workers, killAfter=killAfter)
        spawner.onReady = supervisor.workerReady
        spawner.onExited = supervisor.workerExited
        self._supervisor = supervisor
        if self._exitOnFailure:
            self._previousHangup = _onHangup(self._reactor, self.reload)
        return supervisor.start()

    def _started(self, ignored):
        self.readiness.ready()
        ports = [bound.port for bound in self._sockets]
        self._listening = ports
        urls = [bound.url for bound in self._sockets]
        _log.info(
            "gracehttp supervising {count} worker(s) on {listening}; "
            "gracehttp {version}, pid {pid}",
            count=self._config.workers,
            listening=", ".join(urls),
            urls=urls,
            version=_versionInfo.public(),
            pid=os.getpid(),
        )
        waiters, self._waiters = self._waiters, []
        for waiter in waiters:
            waiter.callback(list(ports))
        config = self._config
        if config.reload:
            self._reloader = Reloader(
                self._reactor, self.reload, config.reloadDir, config.reloadInclude
            )
            self._reloader.start()

    def _startFailed(self, failure):
        if not self.running:
            # Stopped while starting: the workers were told to stop.
            return None
        self._failure = failure
        if failure.check(CannotBind):
            reason = str(failure.value)
        else:
            reason = " ".join(str(failure.value).split()) or type(failure.value).__name__
        _log.error("gracehttp failed to start: {reason}", reason=reason)
        closing = closeAll(self._sockets).addCallback(self._closeReadiness)
        self._sockets = []
        waiters, self._waiters = self._waiters, []
        for waiter in waiters:
            waiter.errback(failure)
        if self._exitOnFailure:
            atexit.register(_service._exitWithStatus1)
            closing.addCallback(lambda ignored: self._reactor.callWhenRunning(self._stopReactor))

    def _stopReactor(self):
        with contextlib.suppress(ReactorNotRunning):
            self._reactor.stop()

    def stopService(self):
        """
        Drain every worker, then close the sockets; see the module
        docstring.

        @return: fires when the last worker exited and the sockets are
            closed.
        @rtype: L{Deferred}
        """
        Service.stopService(self)
        self.readiness.draining()
        if self._reloader is not None:
            self._reloader.stop()
            self._reloader = None
        started = Deferred()
        if self._starting is None:
            started.callback(None)
        else:
            self._starting.addBoth(started.callback)
        if self._supervisor is not None:
            # Stop the workers at once, even those still starting.
            stopping = self._supervisor.stop()
        else:
            stopping = succeed(None)
        stopping.addCallback(lambda ignored: started)
        stopping.addCallback(lambda ignored: closeAll(self._sockets))
        stopping.addCallback(self._closeReadiness)
        return stopping.addCallback(self._stopped)

    def _stopped(self, ignored):
        if self._previousHangup is not None:
            signal.signal(signal.SIGHUP, self._previousHangup)
            self._previousHangup = None
        if self._exitOnFailure and self._failure is None:
            # An orderly stop is a success (see HTTPService._stopped).
            if getattr(self._reactor, "_exitSignal", None) is not None:
                self._reactor._exitSignal = None
        if self._failure is None:
            _log.info("gracehttp stopped: every worker exited")


def _onHangup(reactor, reload):
    """
    Make C{SIGHUP} call C{reload} in the reactor thread.

    @return: the previous handler, or L{None} (not the main thread).
    """
    if threading.current_thread() is not threading.main_thread():
        return None

    def hangup(number, frame):
        reactor.callFromThread(reload)

    return signal.signal(signal.SIGHUP, hangup)


def makeWorkersService(app, mounts, config, reactor=None, exitOnFailure=True, log=None):
    """
    The parent's service for C{config.workers} worker processes.

    @param app: the application as a C{"module:attribute"} reference, or
        L{None} with C{mounts}.
    @param mounts: see L{gracehttp.makeService}; each application as a
        reference.
    @type config: L{Config<gracehttp._config.Config>}
    @param log: C{(format, descriptor, level)} for the workers' log:
        C{"text"} or C{"json"}, where to write it, and the lowest level's
        name; L{None} means text on descriptor 1 at C{info}.
    @rtype: L{WorkersService}
    @raise ValueError: an application is not a reference (a worker must
        import it itself), or there is none.
    """
    from gracehttp._apps.mounts import mountItems

    if app is not None and not isinstance(app, str):
        raise ValueError(
            "--workers needs the application as a 'module:attribute' reference, "
            "which each worker imports"
        )
    mountList = []
    for prefix, target, interface in mountItems(mounts or ()):
        if not isinstance(target, str):
            raise ValueError(
                f"--workers needs the application mounted at {prefix or '/'!r} as a "
                "'module:attribute' reference, which each worker imports"
            )
        mountList.append([prefix, target, interface])
    if app is None and not mountList:
        raise ValueError("no application to serve: give --app, or at least one --mount")
    if config.reload:
        requireWatchfiles()
    logFormat, logFd, logLevel = log or ("text", 1, "info")
    spec = {
        "app": app,
        "mounts": mountList,
        # The parent answers the readiness endpoint (see WorkersService).
        "config": dict(config.toDict(), readinessListen=None),
        "logFormat": logFormat,
        "logLevel": logLevel,
    }
    return WorkersService(spec, config, reactor, exitOnFailure, logFd)
