"""
The parent's supervisor: keeps N workers serving, restarts one that dies
with a back-off, replaces them one at a time on a reload, and drains them
all at a stop.

Theory of operation
===================

The supervisor knows nothing of processes: it asks C{spawn(slot)} for a
worker (anything with C{stop()}, a graceful stop such as C{SIGTERM}, and
C{kill()}) and is told what becomes of it: L{Supervisor.workerReady}
(it listens) and L{Supervisor.workerExited}.  Every delay is a
C{clock.callLater}, so a L{twisted.internet.task.Clock} drives every rule
in the tests.

There are C{count} slots.  Each slot holds its C{current} worker (or
L{None} while a restart waits out its back-off) and, during a
replacement, a C{replacement}.  A worker is C{starting} until it is
ready, then C{ready}, then C{draining} once it was told to stop.

The supervisor's states and what moves them (an event not listed leaves
the state as it is):

=============  ==========================  ===============================
state          event                       what happens, next state
=============  ==========================  ===============================
(new)          C{start()}                  spawn one worker per slot;
                                           STARTING
STARTING       every worker ready          C{whenStarted()} fires; RUNNING
STARTING       a worker exits              stop the others, C{whenStarted()}
                                           fails once all exited; FAILED
RUNNING        a ready worker exits        restart its slot after the
                                           back-off; RUNNING
RUNNING        a restarted one exits       back-off doubled; RUNNING
               before it is ready
RUNNING        C{reload()}                 spawn a replacement for slot 0;
                                           REPLACING
REPLACING      the replacement is ready    stop the slot's old worker (it
                                           drains); REPLACING
REPLACING      that old worker exited      replace the next slot, or, after
                                           the last, RUNNING (REPLACING
                                           again if C{reload()} came
                                           meanwhile)
REPLACING      the replacement exits       the slot keeps its old worker,
               before it is ready          the rest are not replaced;
                                           RUNNING
REPLACING      C{reload()}                 noted: one more round once this
                                           one ends; REPLACING
any but        C{stop()}                   cancel restarts, stop every
STOPPED                                    worker (starting ones too),
                                           C{kill()} those left after
                                           C{killAfter} s; STOPPING
STOPPING       the last worker exits       the Deferred of C{stop()}
                                           fires; STOPPED
=============  ==========================  ===============================

A slot's worker that dies while the slot waits for its replacement is
not restarted: the replacement takes the slot when it is ready.

Back-off: a slot's C{n}th restart in a row waits C{min(initial * 2 **
(n - 1), maximum)} seconds; a worker that was ready for C{resetAfter}
seconds or more before it died starts the count again, so a worker that
crashes once a day restarts at once, and one that crashes at start-up
does not spin.

A replacement is started before the old worker is told to stop, and the
next slot is replaced only once that old worker has exited, so at most
C{count + 1} workers run and at least C{count} are ready (each old worker
drains through its own graceful stop, bounded by its graceful timeout).
"""

from dataclasses import dataclass, field

from twisted.internet.defer import Deferred, succeed
from twisted.logger import Logger

_log = Logger()

STARTING = "STARTING"
RUNNING = "RUNNING"
REPLACING = "REPLACING"
STOPPING = "STOPPING"
STOPPED = "STOPPED"
FAILED = "FAILED"


class WorkerFailedToStart(Exception):
    """
    A worker exited before it was ready while the supervisor started: the
    application cannot be served (e.g. it cannot be imported); the worker
    said why in its own log line.
    """


@dataclass(frozen=True)
class Backoff:
    """
    How long a restart waits.

    @ivar initial: seconds before the first restart in a row.
    @ivar maximum: the longest wait, in seconds.
    @ivar resetAfter: seconds a worker must have been ready for its death
        to count as the first in a row again.
    """

    initial: float = 0.1
    maximum: float = 30.0
    resetAfter: float = 10.0

    def delay(self, failures):
        """
        @param failures: the restarts in a row, this one included (>= 1).
        @return: the seconds to wait before it.
        @rtype: L{float}
        """
        return min(self.initial * 2 ** (failures - 1), self.maximum)


@dataclass(eq=False)
class Worker:
    """
    One worker, as the supervisor sees it.

    @ivar handle: what C{spawn} returned (C{stop()}, C{kill()}).
    @ivar slot: its slot's index.
    @ivar state: C{"starting"}, C{"ready"} or C{"draining"}.
    @ivar readyAt: when it became ready (the clock's seconds), or L{None}.
    """

    handle: object
    slot: int
    state: str = "starting"
    readyAt: float | None = None


@dataclass(eq=False)
class Slot:
    """
    One of the C{count} places a worker serves in.

    @ivar current: the worker serving it, or L{None} while a restart waits.
    @ivar replacement: the worker that will take it over, during a reload.
    @ivar failures: restarts in a row (see L{Backoff}).
    @ivar restart: the pending restart, or L{None}.
    @ivar retired: its old workers draining after a replacement took over.
    """

    index: int
    current: Worker | None = None
    replacement: Worker | None = None
    failures: int = 0
    restart: object = None
    retired: list = field(default_factory=list)


class Supervisor:
    """
    The state machine of the module docstring.

    @ivar state: one of C{STARTING}, C{RUNNING}, C{REPLACING}, C{STOPPING},
        C{STOPPED}, C{FAILED} (or L{None} before L{start}).
    """

    def __init__(self, clock, spawn, count, backoff=Backoff(), killAfter=120.0):
        """
        @param clock: times the back-off and the kill.
        @type clock: L{twisted.internet.interfaces.IReactorTime}
        @param spawn: starts a worker for a slot index and returns its
            handle, which has C{stop()} and C{kill()}; the caller reports
            L{workerReady} and L{workerExited} with that handle.
        @param count: how many workers serve (>= 1).
        @type backoff: L{Backoff}
        @param killAfter: seconds workers get to drain at a stop before
            they are killed.
        """
        self.state = None
        self._clock = clock
        self._spawn = spawn
        self._slots = [Slot(index) for index in range(count)]
        self._backoff = backoff
        self._killAfter = killAfter
        self._workers = {}
        self._started = Deferred()
        self._stopped = []
        self._killer = None
        self._reloadAgain = False
        self._failure = None

    # -- commands ----------------------------------------------------------------

    def start(self):
        """
        Start one worker per slot.

        @return: fires when every worker is ready; fails with
            L{WorkerFailedToStart} (after the others stopped) if one exits
            first.
        @rtype: L{Deferred}
        """
        self.state = STARTING
        for slot in self._slots:
            slot.current = self._startWorker(slot)
        return self._started

    def reload(self):
        """
        Replace every worker, one at a time (C{SIGHUP}).
        """
        if self.state == REPLACING:
            self._reloadAgain = True
        elif self.state == RUNNING:
            _log.info("gracehttp reloading: replacing {count} worker(s)", count=len(self._slots))
            self.state = REPLACING
            self._replaceSlot(0)

    def stop(self):
        """
        Stop every worker gracefully; kill those left after C{killAfter}
        seconds.

        @return: fires once every worker exited.
        @rtype: L{Deferred}
        """
        if self.state == STOPPED or (self.state == FAILED and not self._workers):
            return succeed(None)
        d = Deferred()
        self._stopped.append(d)
        if self.state in (STOPPING, FAILED):
            return d
        self.state = STOPPING
        self._stopAll()
        return d

    @property
    def workers(self):
        """
        @return: the handles of the workers alive now.
        @rtype: L{list}
        """
        return list(self._workers)

    # -- events ------------------------------------------------------------------

    def workerReady(self, handle):
        """
        The worker of C{handle} listens.
        """
        worker = self._workers.get(handle)
        if worker is None or worker.state != "starting":
            return
        worker.state = "ready"
        worker.readyAt = self._clock.seconds()
        slot = self._slots[worker.slot]
        if self.state in (STOPPING, FAILED):
            handle.stop()
            worker.state = "draining"
        elif slot.replacement is worker:
            self._replacementReady(slot)
        elif self.state == STARTING and all(self._isReady(s.current) for s in self._slots):
            self.state = RUNNING
            self._started.callback(None)

    def workerExited(self, handle, status):
        """
        The worker of C{handle} exited.

        @param status: its exit status, or a description of the signal
            that ended it, for the log.
        """
        worker = self._workers.pop(handle, None)
        if worker is None:
            return
        slot = self._slots[worker.slot]
        if self.state in (STOPPING, FAILED):
            self._forget(slot, worker)
            self._checkAllExited()
        elif self.state == STARTING:
            self._forget(slot, worker)
            self._failStart(status)
        elif worker in slot.retired:
            slot.retired.remove(worker)
            self._replaceNext(slot.index + 1)
        elif slot.replacement is worker:
            self._replacementFailed(slot, status)
        else:
            self._died(slot, worker, status)

    # -- restarting ----------------------------------------------------------------

    def _startWorker(self, slot):
        handle = self._spawn(slot.index)
        worker = Worker(handle, slot.index)
        self._workers[handle] = worker
        return worker

    @staticmethod
    def _isReady(worker):
        return worker is not None and worker.state == "ready"

    def _died(self, slot, worker, status):
        """
        A slot's current worker died while serving (or before it was ready,
        after a restart): restart it after the back-off.
        """
        if slot.current is worker:
            slot.current = None
        if slot.replacement is not None:
            _log.warn(
                "gracehttp worker {slot} exited ({status}); its replacement takes over",
                slot=slot.index,
                status=status,
            )
            return
        lived = None if worker.readyAt is None else self._clock.seconds() - worker.readyAt
        if lived is not None and lived >= self._backoff.resetAfter:
            slot.failures = 0
        slot.failures += 1
        delay = self._backoff.delay(slot.failures)
        _log.warn(
            "gracehttp worker {slot} exited ({status}); restarting it in {delay} s",
            slot=slot.index,
            status=status,
            delay=delay,
        )
        slot.restart = self._clock.callLater(delay, self._restart, slot)

    def _restart(self, slot):
        slot.restart = None
        if self.state in (RUNNING, REPLACING) and slot.current is None:
            slot.current = self._startWorker(slot)

    # -- replacing -----------------------------------------------------------------

    def _replaceSlot(self, index):
        slot = self._slots[index]
        slot.replacement = self._startWorker(slot)

    def _replacementReady(self, slot):
        old, slot.current, slot.replacement = slot.current, slot.replacement, None
        slot.failures = 0
        if slot.restart is not None:
            slot.restart.cancel()
            slot.restart = None
        if old is None:
            self._replaceNext(slot.index + 1)
            return
        old.state = "draining"
        slot.retired.append(old)
        old.handle.stop()

    def _replaceNext(self, index):
        if self.state != REPLACING:
            return
        if index < len(self._slots):
            self._replaceSlot(index)
            return
        self.state = RUNNING
        _log.info("gracehttp reloaded: every worker replaced")
        if self._reloadAgain:
            self._reloadAgain = False
            self.reload()

    def _replacementFailed(self, slot, status):
        slot.replacement = None
        self.state = RUNNING
        self._reloadAgain = False
        _log.error(
            "gracehttp reload abandoned: the new worker {slot} exited before it was "
            "ready ({status}); the running workers keep serving",
            slot=slot.index,
            status=status,
        )
        if slot.current is None and slot.restart is None:
            self._died(slot, Worker(None, slot.index), status)

    # -- stopping ------------------------------------------------------------------

    def _stopAll(self):
        for slot in self._slots:
            if slot.restart is not None:
                slot.restart.cancel()
                slot.restart = None
        for worker in list(self._workers.values()):
            if worker.state != "draining":
                worker.state = "draining"
                worker.handle.stop()
        if self._workers:
            self._killer = self._clock.callLater(self._killAfter, self._killAll)
        self._checkAllExited()

    def _killAll(self):
        self._killer = None
        _log.warn(
            "gracehttp stopping: {count} worker(s) still running after {seconds} s; killing them",
            count=len(self._workers),
            seconds=self._killAfter,
        )
        for worker in list(self._workers.values()):
            worker.handle.kill()

    def _forget(self, slot, worker):
        if slot.current is worker:
            slot.current = None
        if slot.replacement is worker:
            slot.replacement = None
        if worker in slot.retired:
            slot.retired.remove(worker)

    def _failStart(self, status):
        self.state = FAILED
        self._failure = WorkerFailedToStart(f"a worker exited before it was ready ({status})")
        self._stopAll()

    def _checkAllExited(self):
        if self._workers:
            return
        if self._killer is not None:
            self._killer.cancel()
            self._killer = None
        if self.state == FAILED:
            started, self._started = self._started, None
            if started is not None:
                started.errback(self._failure)
        else:
            self.state = STOPPED
            if self._started is not None and not self._started.called:
                self._started.errback(WorkerFailedToStart("stopped before every worker was ready"))
        stopped, self._stopped = self._stopped, []
        for d in stopped:
            d.callback(None)
