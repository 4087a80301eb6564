"""
The ASGI lifespan protocol (ASGI lifespan spec 2.0): tell the application
when the server starts and stops.

Theory of operation
===================

One L{Lifespan} per application.  L{Lifespan.startup} calls the application
once with a C{lifespan} scope, as an asyncio task that lives until the
server stops; its C{receive()} returns C{lifespan.startup} at once and
C{lifespan.shutdown} when L{Lifespan.shutdown} is called::

    IDLE --startup()--> STARTING --lifespan.startup.complete--> STARTED
                          |                                        |
                          +--startup.failed, timeout--> FAILED     shutdown()
                          |                                        v
                          +--app raises or returns--+           STOPPING
                                                    |              |
                          "auto": UNSUPPORTED <-----+    complete, failed,
                          "on":   FAILED      <-----+    timeout, app ends
                                                                   v
    "off": startup() goes straight to UNSUPPORTED                STOPPED

  - A phase (STARTING, STOPPING) waits for the application's answer; a
    C{clock.callLater(timeout, ...)} bounds the wait and is cancelled by
    the answer.  A phase that times out cancels the task.
  - C{lifespan.startup.failed} fails startup with L{LifespanFailure} in
    every mode; a multi-line message (a traceback) is summed up by its last
    line and kept whole as the failure's C{details}.  An application that
    raises (or returns) before answering startup does not support
    lifespan: in C{"auto"} that is logged at info level and startup
    succeeds; in C{"on"} it is a L{LifespanFailure}.
  - Shutdown never fails: the process is stopping anyway.
    C{lifespan.shutdown.failed}, an exception and a timeout are logged as
    errors.  Shutdown does nothing unless startup completed and the task is
    still running.
  - C{state} is the dict passed as the scope's C{"state"}; the application
    fills it during startup, and each request gets a shallow copy (see
    L{gracehttp._apps.asgi.adapter.ASGIAdapter}).
"""

from twisted.internet.defer import Deferred, succeed
from twisted.logger import Logger, LogLevel
from twisted.python.failure import Failure

from gracehttp._config import LIFESPAN_MODES
from gracehttp._errors import LifespanFailure, LifespanTimeout

_log = Logger()

_IDLE = "IDLE"
_STARTING = "STARTING"
_STARTED = "STARTED"
_STOPPING = "STOPPING"
_STOPPED = "STOPPED"
_FAILED = "FAILED"
_UNSUPPORTED = "UNSUPPORTED"


class Lifespan:
    """
    Runs an ASGI application's lifespan: startup before the server
    listens, shutdown after the last request.

    @ivar state: the lifespan scope's C{"state"} dict.
    @type state: L{dict}
    @ivar started: the application answered C{lifespan.startup.complete}.
    @type started: L{bool}
    """

    def __init__(self, app, loop, clock, mode="auto", timeout=60.0, asgiVersion="3.0"):
        """
        @param app: an ASGI 3 application (ASGI 2 ones wrapped to look
            like one).
        @param loop: the event loop the application's task runs on.
        @type loop: L{asyncio.AbstractEventLoop}
        @param clock: schedules the timeouts.
        @type clock: L{twisted.internet.interfaces.IReactorTime}
        @param mode: C{"auto"} (use lifespan if the application supports
            it), C{"on"} (require it) or C{"off"} (never call the
            application with a lifespan scope).
        @type mode: L{str}
        @param timeout: seconds each phase (startup, shutdown) may take;
            L{None} waits forever.
        @type timeout: L{float} or L{None}
        @param asgiVersion: the scope's C{asgi["version"]}: C{"3.0"}, or
            C{"2.0"} for an ASGI 2 application.
        @type asgiVersion: L{str}
        @raise ValueError: C{mode} is not one of
            L{LIFESPAN_MODES<gracehttp._config.LIFESPAN_MODES>}.
        """
        if mode not in LIFESPAN_MODES:
            raise ValueError(f"lifespan mode must be one of {LIFESPAN_MODES}, not {mode!r}")
        self._app = app
        self._loop = loop
        self._clock = clock
        self._mode = mode
        self._timeout = timeout
        self._asgiVersion = asgiVersion
        self.state = {}
        self.started = False
        # The application reported lifespan.shutdown.failed (its traceback
        # is in that message: not logged again if it then raises).
        self._shutdownFailed = False
        self._phase = _IDLE
        self._task = None
        self._startupSent = False
        self._shutdownRequested = None
        self._answer = None
        self._timeoutCall = None

    def startup(self):
        """
        Send C{lifespan.startup} and wait for the answer (ASGI lifespan
        spec, "Startup - receive event").

        @return: a L{Deferred} that fires when the application is ready (or
            does not support lifespan, in C{"auto"} mode) and fails with
            L{LifespanFailure} if it reports C{lifespan.startup.failed} or,
            in C{"on"} mode, raises; with L{LifespanTimeout} if it does not
            answer within the timeout.
        @raise RuntimeError: startup was already called.
        """
        if self._phase is not _IDLE:
            raise RuntimeError("lifespan startup already ran")
        if self._mode == "off":
            self._phase = _UNSUPPORTED
            return succeed(None)
        self._phase = _STARTING
        answer = self._await()
        scope = {
            "type": "lifespan",
            "asgi": {"version": self._asgiVersion, "spec_version": "2.0"},
            "state": self.state,
        }
        self._shutdownRequested = self._loop.create_future()
        self._task = self._loop.create_task(self._app(scope, self._receive, self._send))
        self._task.add_done_callback(self._appEnded)
        return answer

    def shutdown(self):
        """
        Send C{lifespan.shutdown} and wait for the answer (ASGI lifespan
        spec, "Shutdown - receive event").

        @return: a L{Deferred} that fires when the application answered,
            ended, or did not answer within the timeout.  It never fails.
        """
        if self._phase is not _STARTED:
            return succeed(None)
        self._phase = _STOPPING
        answer = self._await()
        self._shutdownRequested.set_result(None)
        return answer

    def _await(self):
        """
        Begin waiting for the application's answer to the current phase.

        @return: a L{Deferred} fired by L{_answered}.
        """
        self._answer = Deferred()
        if self._timeout is not None:
            self._timeoutCall = self._clock.callLater(self._timeout, self._timedOut)
        return self._answer

    def _answered(self, phase, result=None):
        """
        End the current phase.

        @param phase: the phase the state machine moves to.
        @param result: L{None}, or a L{Failure} to fail the phase with.
        """
        self._phase = phase
        if self._timeoutCall is not None:
            if self._timeoutCall.active():
                self._timeoutCall.cancel()
            self._timeoutCall = None
        answer, self._answer = self._answer, None
        answer.callback(result)

    def _timedOut(self):
        self._timeoutCall = None
        if self._phase is _STARTING:
            self._answered(
                _FAILED,
                Failure(
                    LifespanTimeout(
                        f"lifespan startup did not complete within {self._timeout} seconds"
                    )
                ),
            )
        else:
            _log.error(
                "lifespan shutdown did not complete within {timeout} seconds",
                timeout=self._timeout,
            )
            self._answered(_STOPPED)
        self._task.cancel()

    async def _receive(self):
        if not self._startupSent:
            self._startupSent = True
            return {"type": "lifespan.startup"}
        await self._shutdownRequested
        return {"type": "lifespan.shutdown"}

    async def _send(self, message):
        kind = message["type"]
        phase = self._phase
        if phase is _STARTING and kind == "lifespan.startup.complete":
            self.started = True
            self._answered(_STARTED)
        elif phase is _STARTING and kind == "lifespan.startup.failed":
            self._answered(_FAILED, Failure(_reportedFailure(message.get("message", ""))))
        elif phase is _STOPPING and kind == "lifespan.shutdown.complete":
            self._answered(_STOPPED)
        elif phase is _STOPPING and kind == "lifespan.shutdown.failed":
            self._shutdownFailed = True
            _log.error(
                "lifespan shutdown failed: {message}",
                message=message.get("message", ""),
            )
            self._answered(_STOPPED)
        else:
            raise RuntimeError(f"unexpected lifespan message {kind!r} in {phase}")

    def _appEnded(self, task):
        """
        The application's lifespan task is done.

        @type task: L{asyncio.Task}
        """
        error = None if task.cancelled() else task.exception()
        phase = self._phase
        if phase is _STARTING:
            why = "it returned" if error is None else f"it raised {error!r}"
            if self._mode == "auto":
                _log.info(
                    "ASGI lifespan unsupported by the application ({why}); going on without it",
                    why=why,
                )
                self._answered(_UNSUPPORTED)
            else:
                if error is not None:
                    _log.failure(
                        "ASGI lifespan startup raised",
                        Failure(error, type(error), error.__traceback__),
                        level=LogLevel.error,
                    )
                self._answered(
                    _FAILED,
                    Failure(
                        LifespanFailure(f"the application did not answer lifespan startup ({why})")
                    ),
                )
            return
        if error is not None and phase is not _FAILED and not self._shutdownFailed:
            _log.failure(
                "ASGI lifespan raised",
                Failure(error, type(error), error.__traceback__),
                level=LogLevel.error,
            )
        if phase is _STOPPING:
            self._answered(_STOPPED)
        elif phase is _STARTED:
            self._phase = _STOPPED


def _reportedFailure(message):
    """
    The L{LifespanFailure} for a C{lifespan.startup.failed} message.

    A multi-line message (Starlette sends the traceback of what its
    lifespan raised) is summed up by its last line, the exception; the
    whole text becomes the failure's C{details}.

    @param message: the event's C{message} (ASGI lifespan spec 2.0:
        "Startup - send event").
    @type message: L{str}
    @rtype: L{LifespanFailure}
    """
    text = str(message).rstrip()
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    if len(lines) > 1:
        return LifespanFailure(lines[-1], details=text)
    return LifespanFailure(text.strip())
