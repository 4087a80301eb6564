"""
The supervisor's state machine (L{gracehttp._workers.supervisor}) on a
L{Clock}, with fake workers: start, restart with back-off, rolling
replacement, stop.
"""

from unittest import TestCase

from twisted.internet.task import Clock

from gracehttp._workers.supervisor import (
    FAILED,
    REPLACING,
    RUNNING,
    STOPPED,
    STOPPING,
    Backoff,
    Supervisor,
    WorkerFailedToStart,
)


class FakeWorker:
    """
    A worker handle that records what the supervisor asked of it.
    """

    def __init__(self, number, slot):
        self.number = number
        self.slot = slot
        self.stopped = False
        self.killed = False

    def stop(self):
        self.stopped = True

    def kill(self):
        self.killed = True

    def __repr__(self):
        return f"<fake worker {self.number} slot {self.slot}>"


class SupervisorTestsMixin:
    count = 2

    def setUp(self):
        self.clock = Clock()
        self.spawned = []
        self.supervisor = Supervisor(
            self.clock,
            self.spawn,
            self.count,
            Backoff(initial=0.1, maximum=2.0, resetAfter=10.0),
            killAfter=60.0,
        )

    def spawn(self, slot):
        worker = FakeWorker(len(self.spawned), slot)
        self.spawned.append(worker)
        return worker

    def started(self):
        """
        Start the supervisor and make every worker ready.

        @return: the result list of C{start()}'s Deferred.
        """
        results = []
        self.supervisor.start().addBoth(results.append)
        for worker in list(self.spawned):
            self.supervisor.workerReady(worker)
        return results

    def alive(self):
        return self.supervisor.workers


class StartTests(SupervisorTestsMixin, TestCase):
    def test_startsOnePerSlot(self):
        """
        start() spawns one worker per slot and fires once every one is
        ready, not before.
        """
        results = []
        self.supervisor.start().addBoth(results.append)
        self.assertEqual([w.slot for w in self.spawned], [0, 1])
        self.supervisor.workerReady(self.spawned[0])
        self.assertEqual(results, [])
        self.supervisor.workerReady(self.spawned[1])
        self.assertEqual(results, [None])
        self.assertEqual(self.supervisor.state, RUNNING)

    def test_workerFailsAtStart(self):
        """
        A worker that exits before it is ready during the start fails the
        start once the others (told to stop) exited; nothing is restarted.
        """
        results = []
        self.supervisor.start().addBoth(results.append)
        first, second = self.spawned
        self.supervisor.workerExited(first, "exit status 1")
        self.assertTrue(second.stopped)
        self.assertEqual(results, [])
        self.supervisor.workerExited(second, "exit status 0")
        self.assertIsInstance(results[0].value, WorkerFailedToStart)
        self.assertEqual(self.supervisor.state, FAILED)
        self.clock.advance(100)
        self.assertEqual(len(self.spawned), 2)


class RestartTests(SupervisorTestsMixin, TestCase):
    def test_restartAfterBackoff(self):
        """
        A ready worker that dies is restarted in its slot after the first
        back-off delay, not before.
        """
        self.started()
        dead = self.spawned[0]
        self.supervisor.workerExited(dead, "signal 9")
        self.clock.advance(0.05)
        self.assertEqual(len(self.spawned), 2)
        self.clock.advance(0.05)
        self.assertEqual(len(self.spawned), 3)
        self.assertEqual(self.spawned[2].slot, 0)

    def test_backoffDoublesToMaximum(self):
        """
        A slot's restarts in a row wait 0.1, 0.2, 0.4 ... seconds, capped
        at the maximum.
        """
        self.started()
        waits = []
        worker = self.spawned[0]
        for _ in range(7):
            self.supervisor.workerExited(worker, "exit status 1")
            before = len(self.spawned)
            waited = 0.0
            while len(self.spawned) == before:
                step = (
                    min(call.getTime() for call in self.clock.getDelayedCalls())
                    - self.clock.seconds()
                )
                self.clock.advance(step)
                waited += step
            waits.append(round(waited, 6))
            worker = self.spawned[-1]
        self.assertEqual(waits, [0.1, 0.2, 0.4, 0.8, 1.6, 2.0, 2.0])

    def test_backoffResetsAfterStableRun(self):
        """
        A worker that was ready for resetAfter seconds before it died is
        restarted after the first delay again.
        """
        self.started()
        self.supervisor.workerExited(self.spawned[0], "exit status 1")
        self.clock.advance(0.1)
        self.supervisor.workerExited(self.spawned[2], "exit status 1")
        self.clock.advance(0.2)
        third = self.spawned[3]
        self.supervisor.workerReady(third)
        self.clock.advance(10.0)
        self.supervisor.workerExited(third, "exit status 1")
        self.clock.advance(0.1)
        self.assertEqual(len(self.spawned), 5)

    def test_otherSlotsUntouched(self):
        """
        A worker's death does not stop or restart the other slot's.
        """
        self.started()
        self.supervisor.workerExited(self.spawned[0], "signal 9")
        self.clock.advance(1)
        self.assertFalse(self.spawned[1].stopped)
        self.assertEqual([w.slot for w in self.spawned[2:]], [0])


class ReplaceTests(SupervisorTestsMixin, TestCase):
    def test_rollingReplacement(self):
        """
        reload() replaces one slot at a time: the new worker is started,
        the old one is stopped only once the new one is ready, and the next
        slot is replaced only once the old one exited.
        """
        self.started()
        old0, old1 = self.spawned
        self.supervisor.reload()
        self.assertEqual(self.supervisor.state, REPLACING)
        new0 = self.spawned[2]
        self.assertEqual(new0.slot, 0)
        self.assertFalse(old0.stopped)
        self.supervisor.workerReady(new0)
        self.assertTrue(old0.stopped)
        self.assertEqual(len(self.spawned), 3)
        self.supervisor.workerExited(old0, "exit status 0")
        new1 = self.spawned[3]
        self.assertEqual(new1.slot, 1)
        self.assertFalse(old1.stopped)
        self.supervisor.workerReady(new1)
        self.assertTrue(old1.stopped)
        self.supervisor.workerExited(old1, "exit status 0")
        self.assertEqual(self.supervisor.state, RUNNING)
        self.assertEqual(set(self.alive()), {new0, new1})

    def test_neverFewerThanCountReady(self):
        """
        Through a whole replacement at least count workers are alive and
        not stopped at every step.
        """
        self.started()
        self.supervisor.reload()
        for _ in range(self.count):
            serving = [w for w in self.alive() if not w.stopped]
            self.assertGreaterEqual(len(serving), self.count)
            new = self.spawned[-1]
            self.supervisor.workerReady(new)
            serving = [w for w in self.alive() if not w.stopped]
            self.assertGreaterEqual(len(serving), self.count)
            [old] = [w for w in self.alive() if w.stopped]
            self.supervisor.workerExited(old, "exit status 0")
        self.assertEqual(self.supervisor.state, RUNNING)

    def test_failedReplacementKeepsOld(self):
        """
        A new worker that exits before it is ready abandons the reload: the
        old worker keeps serving (not stopped), the other slot is not
        replaced, and nothing is restarted.
        """
        self.started()
        old0, old1 = self.spawned
        self.supervisor.reload()
        self.supervisor.workerExited(self.spawned[2], "exit status 1")
        self.assertEqual(self.supervisor.state, RUNNING)
        self.assertFalse(old0.stopped)
        self.assertFalse(old1.stopped)
        self.clock.advance(100)
        self.assertEqual(len(self.spawned), 3)

    def test_reloadDuringReplacement(self):
        """
        A reload() while replacing runs one more whole round once the
        current one ends.
        """
        self.started()
        self.supervisor.reload()
        self.supervisor.reload()
        for _ in range(2 * self.count):
            self.supervisor.workerReady(self.spawned[-1])
            [old] = [w for w in self.alive() if w.stopped]
            self.supervisor.workerExited(old, "exit status 0")
        self.assertEqual(len(self.spawned), 3 * self.count)
        self.assertEqual(self.supervisor.state, RUNNING)

    def test_oldDiesWhileReplacementStarts(self):
        """
        A slot's old worker dying while its replacement starts is not
        restarted: the replacement takes the slot, and the round goes on.
        """
        self.started()
        old0 = self.spawned[0]
        self.supervisor.reload()
        new0 = self.spawned[2]
        self.supervisor.workerExited(old0, "signal 9")
        self.clock.advance(100)
        self.assertEqual(len(self.spawned), 3)
        self.supervisor.workerReady(new0)
        self.assertEqual(self.spawned[3].slot, 1)


class StopTests(SupervisorTestsMixin, TestCase):
    def test_stopDrainsEveryWorker(self):
        """
        stop() tells every worker to stop and fires once the last exited.
        """
        self.started()
        results = []
        self.supervisor.stop().addBoth(results.append)
        self.assertEqual(self.supervisor.state, STOPPING)
        self.assertTrue(all(w.stopped for w in self.spawned))
        self.supervisor.workerExited(self.spawned[0], "exit status 0")
        self.assertEqual(results, [])
        self.supervisor.workerExited(self.spawned[1], "exit status 0")
        self.assertEqual(results, [None])
        self.assertEqual(self.supervisor.state, STOPPED)
        self.assertEqual(self.clock.getDelayedCalls(), [])

    def test_stopCancelsRestart(self):
        """
        A restart waiting out its back-off is cancelled by stop(): nothing
        is spawned afterwards.
        """
        self.started()
        self.supervisor.workerExited(self.spawned[0], "signal 9")
        self.supervisor.stop()
        self.clock.advance(100)
        self.assertEqual(len(self.spawned), 2)

    def test_killAfterTimeout(self):
        """
        Workers still running killAfter seconds into the stop are killed.
        """
        self.started()
        self.supervisor.stop()
        self.clock.advance(59.9)
        self.assertFalse(any(w.killed for w in self.spawned))
        self.clock.advance(0.1)
        self.assertTrue(all(w.killed for w in self.spawned))

    def test_stopDuringReplacement(self):
        """
        stop() during a replacement stops the old and the new worker alike
        and starts no further replacement.
        """
        self.started()
        self.supervisor.reload()
        results = []
        self.supervisor.stop().addBoth(results.append)
        self.assertTrue(all(w.stopped for w in self.spawned))
        for worker in list(self.alive()):
            self.supervisor.workerExited(worker, "exit status 0")
        self.assertEqual(results, [None])
        self.assertEqual(len(self.spawned), 3)
