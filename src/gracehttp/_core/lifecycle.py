"""
The lifecycle of a unit of work: disconnect -> grace period -> cancel.

A unit of work is what one application call serves: an HTTP/1.1 exchange
(L{Exchange<gracehttp._core.exchange.Exchange>}) or a WebSocket session
(L{Session<gracehttp._core.session.Session>}) today, an HTTP/2 stream
next.  Each has a peer that may go away and an
application that may be running when it does.  What happens then is what
gracehttp exists for, and it is the same for every kind of unit: the
application is told, gets a grace period, and only then is cancelled.  This
module is that machine and nothing else; it knows neither HTTP nor WSGI or
ASGI.  What a unit makes of its end (the HTTP outcome for the access log, a
WebSocket close code) stays in the unit, which reads the facts recorded
here: whether the peer left (L{Lifecycle.disconnected}), why
(L{Lifecycle.disconnectReason}) and whether the application was cancelled
(L{Lifecycle.cancelled}).

Theory of operation
===================

The rules first:

  1. Four events move a unit: the application started (L{START}: the
     adapter calls L{Lifecycle.appStarted} with the callable that cancels
     it), the peer is gone (L{DISCONNECT}: the protocol calls
     L{Lifecycle.disconnect} with a reason of its own), the grace period
     elapsed (L{EXPIRE}: only the clock sends it), and the application is
     done (L{FINISH}: L{Lifecycle.appFinished}, after it returned, raised
     or was cancelled, or in place of starting it).
  2. The peer leaves once.  The first L{Lifecycle.disconnect} is the
     L{DISCONNECT} event; it records the reason, then tells the application
     (L{Lifecycle._wake}, which a unit provides) before anything else
     happens.  Later calls are not events: they are ignored.
  3. The grace period runs while the peer is gone and the application is
     running, from whichever of the two came second: a disconnect of a
     running application, or the start of one whose peer already left.
     Entering L{GRACE} schedules exactly one C{clock.callLater(grace, ...)}
     and keeps its handle; nothing polls.  A grace of C{0} elapses at once;
     a negative grace never elapses (the application is told, never
     cancelled).
  4. When the grace period elapses, the unit records
     L{Lifecycle.cancelled} and calls the cancel callable, once.  What
     "cancel" means belongs to the adapter (the ASGI adapter cancels the
     asyncio task; the WSGI adapter, whose thread cannot be interrupted,
     logs a warning).  The unit then waits for the application to end.
  5. When the application is done the delayed call, if one is pending, is
     cancelled, so a finished unit leaves nothing scheduled; and the cancel
     callable is dropped, since it refers back to the application.
  6. An application whose peer left before it started should not be
     started: its adapter says it is done instead (L{FINISH} from
     L{ABANDONED}), as it may for one it never starts for another reason
     (L{FINISH} from L{PENDING}: the server answered the request itself).
     An adapter that decided to start it before it could know (on another
     thread) starts it all the same, and rule 3 gives it the grace period
     from that moment.
  7. Every other move is a bug in the caller (an application started
     twice, finished twice, started after it finished) and raises
     L{LifecycleError}, leaving the state as it was.

The states are L{PENDING}, L{RUNNING}, L{ABANDONED}, L{GRACE},
L{CANCELLING} and L{DONE}.  Each row says where an event leads from that
state; C{.} is an illegal move (L{LifecycleError}), C{(ignored)} a second
disconnect (rule 2)::

    state        START     DISCONNECT   EXPIRE       FINISH
    -----------  --------  -----------  -----------  ------
    PENDING      RUNNING   ABANDONED    .            DONE
    RUNNING      .         GRACE        .            DONE
    ABANDONED    GRACE     (ignored)    .            DONE
    GRACE        .         (ignored)    CANCELLING   DONE
    CANCELLING   .         (ignored)    .            DONE
    DONE         .         DONE         .            .

L{TRANSITIONS} is the same table as data, and the code moves by it: a
state's row names the events it accepts and where each leads; an event
missing from the row raises L{LifecycleError}.  (L{DONE} accepts a first
disconnect: the peer may leave after the application ended.)  What a move
does besides changing the state belongs to the state it enters or leaves:
entering L{GRACE} starts the grace period, entering L{CANCELLING} cancels
the application, leaving L{GRACE} stops the grace period, entering L{DONE}
drops the cancel callable.

Implementation
--------------

A unit's class derives from L{Lifecycle}, so the machine's fields are
plain slots of the unit: no second object per request, and
C{unit.disconnected}, which adapters read at every step, is one attribute
load.  A unit provides two hooks: C{_wake()}, which tells its application the
peer is gone, and C{_finished()}, which concludes the unit once it is
L{DONE}.  The hello-world path (L{PENDING} -> L{RUNNING} -> L{DONE}) costs
two attribute loads for the table and no allocation: states and events are
module constants, and each state carries its row of L{TRANSITIONS} as
attributes (C{state.onStart}, ...).
"""

from collections.abc import Callable

__all__ = [
    "ABANDONED",
    "CANCELLING",
    "DISCONNECT",
    "DONE",
    "EXPIRE",
    "FINISH",
    "GRACE",
    "PENDING",
    "RUNNING",
    "START",
    "TRANSITIONS",
    "Event",
    "Lifecycle",
    "LifecycleError",
    "State",
]


class State:
    """
    A state of a unit of work (see the module docstring).

    @ivar name: the constant's name, e.g. C{"RUNNING"}.
    @type name: L{str}
    @ivar onStart: where L{START} leads from this state, or L{None} if it
        is illegal here; likewise C{onDisconnect}, C{onExpire} and
        C{onFinish}.  Set from L{TRANSITIONS} (this state's row as
        attributes, so that a move costs an attribute load).
    @type onStart: L{State} or L{None}
    """

    __slots__ = ("name", "onDisconnect", "onExpire", "onFinish", "onStart")

    def __init__(self, name: str) -> None:
        self.name = name
        self.onStart: State | None = None
        self.onDisconnect: State | None = None
        self.onExpire: State | None = None
        self.onFinish: State | None = None

    def __repr__(self) -> str:
        return self.name


class Event:
    """
    An event that moves a unit of work from one L{State} to another.

    @ivar name: the constant's name, e.g. C{"START"}.
    @type name: L{str}
    @ivar attribute: the L{State} attribute that says where it leads, e.g.
        C{"onStart"}.
    @type attribute: L{str}
    """

    __slots__ = ("attribute", "name")

    def __init__(self, name: str, attribute: str) -> None:
        self.name = name
        self.attribute = attribute

    def __repr__(self) -> str:
        return self.name


PENDING = State("PENDING")
"""
The application has not started and the peer is there.  Where every unit
begins.
"""
RUNNING = State("RUNNING")
"""
The application is running and the peer is there.
"""
ABANDONED = State("ABANDONED")
"""
The peer left before the application started.  The adapter should not start
it (L{FINISH}); if it does all the same (L{START}), the grace period starts
at once.
"""
GRACE = State("GRACE")
"""
The peer left while the application runs: the application has been told
and the grace period is running (with a negative grace, it never ends).
"""
CANCELLING = State("CANCELLING")
"""
The grace period ran out: the application's cancel callable was called and
the unit waits for the application to end.
"""
DONE = State("DONE")
"""
The application is done, or was never started.  The peer may still leave
afterwards (the unit records it, nothing else happens).
"""

START = Event("START", "onStart")
"""
The application started: L{Lifecycle.appStarted}.
"""
DISCONNECT = Event("DISCONNECT", "onDisconnect")
"""
The peer is gone, the first time: L{Lifecycle.disconnect}.
"""
EXPIRE = Event("EXPIRE", "onExpire")
"""
The grace period elapsed (sent by the clock only).
"""
FINISH = Event("FINISH", "onFinish")
"""
The application is done, or will never be started: L{Lifecycle.appFinished}.
"""

TRANSITIONS: dict[State, dict[Event, State]] = {
    PENDING: {START: RUNNING, DISCONNECT: ABANDONED, FINISH: DONE},
    RUNNING: {DISCONNECT: GRACE, FINISH: DONE},
    ABANDONED: {START: GRACE, FINISH: DONE},
    GRACE: {EXPIRE: CANCELLING, FINISH: DONE},
    CANCELLING: {FINISH: DONE},
    DONE: {DISCONNECT: DONE},
}
"""
For each state, the events it accepts and the state each leads to.  An
event missing from a state's row is illegal there (L{LifecycleError}).
L{DISCONNECT} appears only in the rows where the peer is still there: a
second disconnect is not an event (rule 2 of the module docstring).
"""

for _state, _row in TRANSITIONS.items():
    for _event, _new in _row.items():
        setattr(_state, _event.attribute, _new)
del _state, _row, _event, _new


class LifecycleError(RuntimeError):
    """
    An event came in a state that does not accept it (see L{TRANSITIONS}):
    a bug in the adapter or protocol that sent it.
    """


class Lifecycle:
    """
    The disconnect -> grace -> cancel machine of one unit of work (see the
    module docstring).  A unit's class derives from it and provides
    L{_wake} and L{_finished}.

    @ivar lifecycleState: where the unit is; one of L{PENDING}, L{RUNNING},
        L{ABANDONED}, L{GRACE}, L{CANCELLING}, L{DONE}.
    @type lifecycleState: L{State}
    @ivar disconnected: the peer is gone (the first L{disconnect} came).
    @type disconnected: L{bool}
    @ivar disconnectReason: what the first L{disconnect} was given (who or
        what ended the unit: the client, a graceful stop, the server's
        rejection); L{None} while the peer is there.
    @ivar cancelled: the grace period ran out and the cancel callable was
        called.
    @type cancelled: L{bool}
    @ivar _clock: schedules the grace period.
    @type _clock: L{twisted.internet.interfaces.IReactorTime}
    @ivar _grace: seconds from disconnect to cancel; C{0} at once, negative
        never.
    @type _grace: L{float}
    @ivar _cancel: the application's cancel callable, from L{appStarted}
        until the application is done; L{None} otherwise.
    @ivar _graceCall: the pending grace period, while in L{GRACE} with a
        positive grace; L{None} otherwise.
    @type _graceCall: L{twisted.internet.interfaces.IDelayedCall} or L{None}
    """

    __slots__ = (
        "_cancel",
        "_clock",
        "_grace",
        "_graceCall",
        "cancelled",
        "disconnectReason",
        "disconnected",
        "lifecycleState",
    )

    def __init__(self, clock, grace: float) -> None:
        """
        @param clock: schedules the grace period.
        @type clock: L{twisted.internet.interfaces.IReactorTime}
        @param grace: seconds between the disconnect and the cancel; C{0}
            cancels at once, negative never cancels.
        """
        self._clock = clock
        self._grace = grace
        self.lifecycleState = PENDING
        self.disconnected = False
        self.disconnectReason: object = None
        self.cancelled = False
        self._cancel: Callable[[], object] | None = None
        self._graceCall = None

    def _illegal(self, event: Event) -> LifecycleError:
        """
        @return: the error for C{event}, which the current state does not
            accept.
        """
        return LifecycleError(f"{event!r} is not allowed in state {self.lifecycleState!r}")

    def _wake(self) -> None:
        """
        Tell the application that the peer is gone.  Called once, at the
        disconnect, before the grace period starts.  A unit provides it;
        this one does nothing.
        """

    def _finished(self) -> None:
        """
        The unit is L{DONE}: conclude it (its outcome, its accounting) from
        the facts recorded here.  Called once, at the end of
        L{appFinished}.  A unit provides it; this one does nothing.
        """

    def appStarted(self, cancel: Callable[[], object]) -> None:
        """
        The application started (L{START}).  If the peer already left, the
        grace period starts now.

        @param cancel: called with no arguments when the grace period
            after a disconnect ends.
        @raise LifecycleError: the application already started, or is done.
        """
        new = self.lifecycleState.onStart
        if new is None:
            raise self._illegal(START)
        self.lifecycleState = new
        self._cancel = cancel
        if new is GRACE:
            self._startGrace()

    def disconnect(self, reason: object) -> None:
        """
        The peer is gone (L{DISCONNECT}).  Acts once: records
        L{disconnected} and L{disconnectReason}, tells the application
        (L{_wake}) and, if the application is running, starts the grace
        period.  Later calls do nothing.

        @param reason: who or what ended the unit, kept for the unit's
            outcome; opaque here.
        """
        if self.disconnected:
            return
        new = self.lifecycleState.onDisconnect
        if new is None:
            raise self._illegal(DISCONNECT)
        self.lifecycleState = new
        self.disconnected = True
        self.disconnectReason = reason
        self._wake()
        # Entering GRACE starts the grace period, unless telling the
        # application ended it already.
        if new is GRACE and self.lifecycleState is GRACE:
            self._startGrace()

    def appFinished(self) -> None:
        """
        The application is done: it returned, raised or was cancelled, or
        it is never to start (L{FINISH}).  Stops the grace period, drops
        the cancel callable, then lets the unit conclude (L{_finished}).

        @raise LifecycleError: the unit is already done.
        """
        new = self.lifecycleState.onFinish
        if new is None:
            raise self._illegal(FINISH)
        self.lifecycleState = new
        self._cancel = None
        call = self._graceCall
        if call is not None:
            self._graceCall = None
            call.cancel()
        self._finished()

    def _startGrace(self) -> None:
        """
        Entering L{GRACE}: schedule the one delayed call, elapse at once
        for a grace of C{0}, or never for a negative one.
        """
        grace = self._grace
        if grace > 0:
            self._graceCall = self._clock.callLater(grace, self._graceElapsed)
        elif grace == 0:
            self._expire()

    def _graceElapsed(self) -> None:
        """
        The delayed call fired.
        """
        self._graceCall = None
        self._expire()

    def _expire(self) -> None:
        """
        L{EXPIRE}: record L{cancelled} and cancel the application.  It may
        end within the call (L{DONE}) or later.
        """
        new = self.lifecycleState.onExpire
        if new is None:
            raise self._illegal(EXPIRE)
        self.lifecycleState = new
        self.cancelled = True
        cancel = self._cancel
        assert cancel is not None
        cancel()
