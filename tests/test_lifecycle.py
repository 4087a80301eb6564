"""
Tests for L{gracehttp._core.lifecycle}: the transition table driven directly,
event by event, on a L{Clock}.
"""

import gc
import re
import weakref
from unittest import TestCase

from twisted.internet.task import Clock

from gracehttp._core import lifecycle
from gracehttp._core.lifecycle import (
    ABANDONED,
    CANCELLING,
    DISCONNECT,
    DONE,
    EXPIRE,
    FINISH,
    GRACE,
    PENDING,
    RUNNING,
    START,
    TRANSITIONS,
    Lifecycle,
    LifecycleError,
)

STATES = [PENDING, RUNNING, ABANDONED, GRACE, CANCELLING, DONE]
EVENTS = [START, DISCONNECT, EXPIRE, FINISH]
GRACE_PERIOD = 2.5

# The shortest run of events from PENDING to each state.
PATHS = {
    PENDING: [],
    RUNNING: [START],
    ABANDONED: [DISCONNECT],
    GRACE: [START, DISCONNECT],
    CANCELLING: [START, DISCONNECT, EXPIRE],
    DONE: [FINISH],
}

# States in which the peer has already left: a disconnect there is ignored.
DISCONNECTED = [ABANDONED, GRACE, CANCELLING]


class Unit(Lifecycle):
    """
    A unit of work that records what its lifecycle asks of it.

    @ivar cancels: the clock's time at each call of the cancel callable.
    @ivar wakes: for each C{_wake}, the state, the recorded facts and the
        delayed calls at that moment.
    @ivar finishes: for each C{_finished}, the state, the cancel callable and
        the delayed calls at that moment.
    """

    def __init__(self, clock, grace=GRACE_PERIOD):
        Lifecycle.__init__(self, clock, grace)
        self.cancels = []
        self.wakes = []
        self.finishes = []

    def cancel(self):
        self.cancels.append(self._clock.seconds())

    def _wake(self):
        self.wakes.append(
            (
                self.lifecycleState,
                self.disconnected,
                self.disconnectReason,
                len(self._clock.getDelayedCalls()),
            )
        )

    def _finished(self):
        self.finishes.append(
            (self.lifecycleState, self._cancel, len(self._clock.getDelayedCalls()))
        )


def send(unit, event):
    """
    Send C{event} to C{unit} the way its source does: the adapter, the
    protocol, or (for L{EXPIRE}) the clock.
    """
    if event is START:
        unit.appStarted(unit.cancel)
    elif event is DISCONNECT:
        unit.disconnect("client")
    elif event is FINISH:
        unit.appFinished()
    elif unit.lifecycleState is GRACE:
        unit._clock.advance(GRACE_PERIOD)
    else:
        # What the grace period's delayed call runs, sent out of turn.
        unit._graceElapsed()


def reach(state, grace=GRACE_PERIOD):
    """
    @return: a new L{Unit} on its own L{Clock}, moved to C{state}.
    """
    unit = Unit(Clock(), grace)
    for event in PATHS[state]:
        send(unit, event)
    assert unit.lifecycleState is state, (unit.lifecycleState, state)
    return unit


def facts(unit):
    """
    @return: everything the unit's lifecycle records or has scheduled.
    """
    return (
        unit.lifecycleState,
        unit.disconnected,
        unit.disconnectReason,
        unit.cancelled,
        unit._cancel,
        unit._graceCall,
        list(unit._clock.getDelayedCalls()),
        list(unit.cancels),
        list(unit.wakes),
        list(unit.finishes),
    )


class TableTests(TestCase):
    def test_docstringTable(self):
        """The table in the module docstring says what TRANSITIONS says."""
        rows = re.findall(
            r"^    ([A-Z]+) +(\S+) +(\S+) +(\S+) +(\S+)$",
            lifecycle.__doc__,
            re.MULTILINE,
        )
        self.assertEqual([row[0] for row in rows], [state.name for state in STATES])
        for name, *cells in rows:
            state = getattr(lifecycle, name)
            for event, cell in zip(EVENTS, cells, strict=True):
                if cell in (".", "(ignored)"):
                    self.assertNotIn(event, TRANSITIONS[state], (state, event))
                else:
                    self.assertIs(TRANSITIONS[state][event], getattr(lifecycle, cell))
                self.assertEqual(cell == "(ignored)", event is DISCONNECT and state in DISCONNECTED)

    def test_legalTransitions(self):
        """Every move in TRANSITIONS leads where the table says."""
        for state, row in TRANSITIONS.items():
            for event, new in row.items():
                with self.subTest(state=state, event=event):
                    unit = reach(state)
                    send(unit, event)
                    self.assertIs(unit.lifecycleState, new)

    def test_illegalTransitions(self):
        """
        Every event missing from a state's row (but a repeated disconnect)
        raises LifecycleError and changes nothing.
        """
        for state in STATES:
            for event in EVENTS:
                if event in TRANSITIONS[state] or (event is DISCONNECT and state in DISCONNECTED):
                    continue
                with self.subTest(state=state, event=event):
                    unit = reach(state)
                    before = facts(unit)
                    with self.assertRaises(LifecycleError) as raised:
                        send(unit, event)
                    self.assertEqual(facts(unit), before)
                    self.assertIn(
                        f"{event!r} is not allowed in state {state!r}",
                        str(raised.exception),
                    )

    def test_illegalCancelKept(self):
        """A second start raises and keeps the first cancel callable."""
        unit = reach(RUNNING)
        first = unit._cancel
        self.assertRaises(LifecycleError, unit.appStarted, lambda: None)
        self.assertEqual(unit._cancel, first)


class DisconnectTests(TestCase):
    def test_disconnectOnce(self):
        """
        A second disconnect, in any state, changes nothing: no wake, no
        second delayed call, the first reason kept.
        """
        for state in [*DISCONNECTED, DONE]:
            with self.subTest(state=state):
                unit = reach(state)
                if not unit.disconnected:
                    unit.disconnect("client")
                before = facts(unit)
                unit.disconnect("shutdown")
                self.assertEqual(facts(unit), before)
                self.assertEqual(unit.disconnectReason, "client")
                self.assertEqual(len(unit.wakes), 1)

    def test_wakeBeforeGrace(self):
        """
        The unit is told once, at the disconnect, with the reason recorded
        and before the grace period is scheduled.
        """
        unit = reach(RUNNING)
        unit.disconnect("shutdown")
        self.assertEqual(unit.wakes, [(GRACE, True, "shutdown", 0)])
        self.assertEqual(len(unit._clock.getDelayedCalls()), 1)

    def test_reasonOpaque(self):
        """Whatever the disconnect is given is kept as it is."""
        reason = object()
        unit = reach(RUNNING)
        unit.disconnect(reason)
        self.assertIs(unit.disconnectReason, reason)

    def test_finishedWhileTold(self):
        """
        An application that ends while it is told of the disconnect leaves
        no grace period behind.
        """
        for state in (PENDING, RUNNING):
            with self.subTest(state=state):
                unit = reach(state)
                unit._wake = unit.appFinished
                unit.disconnect("client")
                self.assertIs(unit.lifecycleState, DONE)
                self.assertEqual(unit._clock.getDelayedCalls(), [])
                unit._clock.advance(100)
                self.assertEqual(unit.cancels, [])

    def test_startedWhileTold(self):
        """
        An application started while it is told its peer left (before it
        started) gets one grace period, not two.
        """
        unit = reach(PENDING)
        unit._wake = lambda: unit.appStarted(unit.cancel)
        unit.disconnect("client")
        self.assertIs(unit.lifecycleState, GRACE)
        self.assertEqual(len(unit._clock.getDelayedCalls()), 1)
        unit._clock.advance(GRACE_PERIOD)
        self.assertEqual(unit.cancels, [GRACE_PERIOD])

    def test_disconnectAfterDone(self):
        """
        A peer that leaves after the application ended is recorded; nothing
        is scheduled or cancelled.
        """
        unit = reach(RUNNING)
        unit.appFinished()
        unit.disconnect("client")
        self.assertIs(unit.lifecycleState, DONE)
        self.assertEqual((unit.disconnected, unit.disconnectReason), (True, "client"))
        self.assertEqual(unit._clock.getDelayedCalls(), [])
        self.assertFalse(unit.cancelled)


class GraceTests(TestCase):
    EPSILON = 2**-20

    def test_cancelAtGrace(self):
        """
        Nothing is cancelled just before the grace period ends; the cancel
        runs exactly when it ends, once.
        """
        unit = reach(RUNNING)
        unit.disconnect("client")
        unit._clock.advance(GRACE_PERIOD - self.EPSILON)
        self.assertEqual((unit.cancels, unit.cancelled), ([], False))
        self.assertIs(unit.lifecycleState, GRACE)
        unit._clock.advance(self.EPSILON)
        self.assertEqual((unit.cancels, unit.cancelled), ([GRACE_PERIOD], True))
        self.assertIs(unit.lifecycleState, CANCELLING)
        unit._clock.advance(100)
        self.assertEqual(unit.cancels, [GRACE_PERIOD])

    def test_finishBeforeGraceLeavesNoCall(self):
        """
        An application that finishes within the grace period cancels the one
        delayed call: nothing is left scheduled and nothing is cancelled.
        """
        unit = reach(RUNNING)
        unit.disconnect("client")
        self.assertEqual(len(unit._clock.getDelayedCalls()), 1)
        unit._clock.advance(1)
        unit.appFinished()
        self.assertEqual(unit._clock.getDelayedCalls(), [])
        self.assertEqual(unit.finishes, [(DONE, None, 0)])
        unit._clock.advance(100)
        self.assertEqual((unit.cancels, unit.cancelled), ([], False))

    def test_graceZero(self):
        """A grace period of 0 cancels at the disconnect, with nothing scheduled."""
        unit = reach(RUNNING, grace=0)
        unit.disconnect("client")
        self.assertEqual((unit.cancels, unit.cancelled), ([0], True))
        self.assertIs(unit.lifecycleState, CANCELLING)
        self.assertEqual(unit._clock.getDelayedCalls(), [])

    def test_graceNegative(self):
        """A negative grace period never cancels and schedules nothing."""
        unit = reach(RUNNING, grace=-1)
        unit.disconnect("client")
        self.assertEqual(unit._clock.getDelayedCalls(), [])
        unit._clock.advance(10**6)
        self.assertIs(unit.lifecycleState, GRACE)
        unit.appFinished()
        self.assertIs(unit.lifecycleState, DONE)
        self.assertEqual((unit.cancels, unit.cancelled), ([], False))

    def test_startAfterDisconnect(self):
        """
        An application started after its peer left gets the grace period
        from its start (at once for a grace of 0).
        """
        unit = reach(ABANDONED)
        unit._clock.advance(10)
        self.assertEqual(unit._clock.getDelayedCalls(), [])
        unit.appStarted(unit.cancel)
        self.assertIs(unit.lifecycleState, GRACE)
        unit._clock.advance(GRACE_PERIOD)
        self.assertEqual(unit.cancels, [10 + GRACE_PERIOD])
        unit = reach(ABANDONED, grace=0)
        unit.appStarted(unit.cancel)
        self.assertEqual(unit.cancels, [0])
        self.assertIs(unit.lifecycleState, CANCELLING)

    def test_cancelEndsApplication(self):
        """A cancel callable that ends the application at once leaves the unit done."""
        unit = reach(RUNNING)
        unit._cancel = unit.appFinished
        unit.disconnect("client")
        unit._clock.advance(GRACE_PERIOD)
        self.assertIs(unit.lifecycleState, DONE)
        self.assertTrue(unit.cancelled)
        self.assertEqual(unit.finishes, [(DONE, None, 0)])


class FinishTests(TestCase):
    def test_neverStarted(self):
        """
        An application never started, with its peer there or gone, is
        done: nothing was scheduled or cancelled.
        """
        for state in (PENDING, ABANDONED):
            with self.subTest(state=state):
                unit = reach(state)
                unit.appFinished()
                self.assertIs(unit.lifecycleState, DONE)
                self.assertEqual(unit.disconnected, state is ABANDONED)
                self.assertEqual(unit._clock.getDelayedCalls(), [])
                self.assertEqual((unit.cancels, unit.cancelled), ([], False))

    def test_finishedHookOnce(self):
        """The unit concludes once, after the lifecycle dropped the cancel callable."""
        for state in (PENDING, RUNNING, ABANDONED, GRACE, CANCELLING):
            with self.subTest(state=state):
                unit = reach(state)
                unit.appFinished()
                self.assertEqual(unit.finishes, [(DONE, None, 0)])
                self.assertRaises(LifecycleError, unit.appFinished)
                self.assertEqual(len(unit.finishes), 1)

    def test_cancelReleased(self):
        """A finished unit holds no reference to its application's cancel callable."""

        class Application:
            def cancel(self):
                pass

        application = Application()
        alive = weakref.ref(application)
        unit = reach(PENDING)
        unit.appStarted(application.cancel)
        del application
        unit.appFinished()
        gc.collect()
        self.assertIsNone(alive())
