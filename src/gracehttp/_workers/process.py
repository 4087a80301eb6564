"""
Starting a worker process and hearing from it, for the supervisor.

Theory of operation
===================

L{WorkerSpawner} starts C{python -m gracehttp._workers.worker} with
C{reactor.spawnProcess} and these descriptors (C{childFDs}):

  - 0: a pipe the parent never writes (the worker stops when it reads
    end-of-file: the parent is gone);
  - 1: the parent's log file (the worker logs there itself), 2: the
    parent's stderr;
  - 3 to 3 + n - 1: the n listening sockets, in C{--listen} order (as
    systemd numbers them);
  - 3 + n: the status pipe, on which the worker writes C{ready} once it
    listens.

Its environment is the parent's, without systemd's C{LISTEN_*} variables
(they were for the parent), with the worker's description in
C{GRACEHTTP_WORKER}.  L{WorkerProcess} reports C{ready} and the exit to
the supervisor, and is the handle the supervisor stops (C{SIGTERM}) or
kills (C{SIGKILL}).
"""

import json
import os
import sys

from twisted.internet.error import ProcessExitedAlready
from twisted.internet.protocol import ProcessProtocol
from twisted.logger import Logger

_log = Logger()

SPEC_VARIABLE = "GRACEHTTP_WORKER"
"""
The environment variable that carries a worker's description (JSON; see
L{gracehttp._workers.worker}).
"""

FIRST_SOCKET_FD = 3
"""
The descriptor of a worker's first listening socket (the one systemd
uses too).
"""

_SYSTEMD_VARIABLES = ("LISTEN_PID", "LISTEN_FDS", "LISTEN_FDNAMES")


class WorkerProcess(ProcessProtocol):
    """
    One worker process: hears its status pipe and its end.

    @ivar slot: the slot it serves in.
    @ivar pid: its process id, once started.
    """

    def __init__(self, slot, statusFd, onReady, onExited):
        """
        @param statusFd: the child's descriptor of the status pipe.
        @param onReady: called with this worker once it listens.
        @param onExited: called with this worker and its exit status in
            words once it ended.
        """
        self.slot = slot
        self.pid = None
        self._statusFd = statusFd
        self._onReady = onReady
        self._onExited = onExited
        self._status = b""

    def connectionMade(self):
        self.pid = self.transport.pid

    def childDataReceived(self, childFD, data):
        if childFD != self._statusFd:
            return
        self._status += data
        if b"ready\n" in self._status:
            self._status = b""
            self._onReady(self)

    def processEnded(self, reason):
        self._onExited(self, describeExit(reason.value))

    def stop(self):
        """
        Ask the worker to stop gracefully (C{SIGTERM}).
        """
        self._signal("TERM")

    def kill(self):
        """
        End the worker at once (C{SIGKILL}).
        """
        self._signal("KILL")

    def _signal(self, name):
        try:
            self.transport.signalProcess(name)
        except ProcessExitedAlready:
            pass

    def __repr__(self):
        return f"<worker {self.slot} pid {self.pid}>"


def describeExit(error):
    """
    @param error: the reason of C{processEnded}
        (L{ProcessDone<twisted.internet.error.ProcessDone>} or
        L{ProcessTerminated<twisted.internet.error.ProcessTerminated>}).
    @return: e.g. C{"exit status 1"}, C{"signal 9"}.
    @rtype: L{str}
    """
    signal = getattr(error, "signal", None)
    if signal is not None:
        return f"signal {signal}"
    return f"exit status {getattr(error, 'exitCode', None) or 0}"


class WorkerSpawner:
    """
    Starts worker processes on the inherited sockets.
    """

    def __init__(self, reactor, sockets, spec, logFd=1, environ=None):
        """
        @param sockets: the parent's bound sockets, in C{--listen} order.
        @type sockets: L{list} of
            L{BoundSocket<gracehttp._workers.binding.BoundSocket>}
        @param spec: the worker's description without its descriptors:
            C{app}, C{mounts}, C{config}, C{logFormat}, C{logLevel} (see
            L{gracehttp._workers.worker}).
        @type spec: L{dict}
        @param logFd: the parent's descriptor workers log to.
        @param environ: the environment to start them with (default: the
            parent's, read at each start).
        """
        self._reactor = reactor
        self._sockets = sockets
        self._spec = spec
        self._logFd = logFd
        self._environ = environ
        self.onReady = None
        self.onExited = None

    def spawn(self, slot):
        """
        Start one worker.

        @param slot: its slot index.
        @return: its handle.
        @rtype: L{WorkerProcess}
        """
        count = len(self._sockets)
        statusFd = FIRST_SOCKET_FD + count
        childFDs = {0: "w", 1: self._logFd, 2: 2, statusFd: "r"}
        sockets = []
        for index, bound in enumerate(self._sockets):
            childFDs[FIRST_SOCKET_FD + index] = bound.fileno()
            sockets.append(
                {
                    "fd": FIRST_SOCKET_FD + index,
                    "family": int(bound.family),
                    "description": bound.description,
                }
            )
        spec = dict(self._spec, sockets=sockets, status=statusFd)
        environ = dict(os.environ if self._environ is None else self._environ)
        for name in _SYSTEMD_VARIABLES:
            environ.pop(name, None)
        environ[SPEC_VARIABLE] = json.dumps(spec)
        worker = WorkerProcess(slot, statusFd, self.onReady, self.onExited)
        self._reactor.spawnProcess(
            worker,
            sys.executable,
            [sys.executable, "-m", "gracehttp._workers.worker"],
            env=environ,
            childFDs=childFDs,
        )
        _log.info("gracehttp started worker {slot} (pid {pid})", slot=slot, pid=worker.pid)
        return worker
