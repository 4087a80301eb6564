"""
The states of an HTTP/1.1 connection, and the moves between them.

Theory of operation
===================

A connection (L{HTTPChannel<gracehttp._protocols.http11.channel.HTTPChannel>})
is in exactly one L{ConnectionState}.  It says what the connection does
with the bytes it reads and what happens once its queued requests are
answered:

==============  ==========================  ===============================
state           bytes read                  once the queue is answered
==============  ==========================  ===============================
L{OPEN}         parsed into requests        wait for the next request
L{REJECTING}    discarded                   send the pending error, close
L{FINISHING}    discarded                   close
L{SWITCHING}    held for the new protocol   (the switch is decided first)
L{SWITCHED}     given to the new protocol   (no queue any more)
L{CLOSING}      discarded                   (closing already)
L{CLOSED}       (none arrive)               (none left)
==============  ==========================  ===============================

The moves, and what makes each (any other move is a bug and raises
L{IllegalMove}, as h11's state machine does)::

    OPEN -------- a request rejected ---------------------------> REJECTING
    OPEN -------- an upgrade request not offered to a protocol
                  switch (there is none, or it has a body) -----> FINISHING
    OPEN -------- an upgrade request to offer to the switch ----> SWITCHING
    OPEN -------- HTTP/2 chosen before any request (ALPN h2,
                  or the h2c preface: gracehttp._protocols.chooser) -> SWITCHED
    OPEN -------- close: the idle or keep-alive timeout, a
                  response that ends keep-alive, an aborted
                  response, a graceful stop --------------------> CLOSING
    SWITCHING --- the switch takes the connection over --------> SWITCHED
    SWITCHING --- the switch declines or fails, or the server
                  is stopping ----------------------------------> FINISHING
    SWITCHING --- close (the upgrade request answered 503, or a
                  response before it ends keep-alive) ----------> CLOSING
    REJECTING --- close: at once if nothing is queued, else once
                  the queue and the error are answered ---------> CLOSING
    FINISHING --- close: the queue answered --------------------> CLOSING
    (REJECTING and FINISHING also close on a response that ends
    keep-alive, or an aborted response)
    any but CLOSED - the transport's connectionLost ------------> CLOSED

Nothing is parsed in any state but L{OPEN}, so a request is only ever
rejected in L{OPEN}; a rejection or an upgrade found in the same read
after the server began closing is ignored.
"""

from enum import Enum


class IllegalMove(RuntimeError):
    """
    A connection was asked to move between two states that no rule joins
    (see the module docstring): a bug in the channel.
    """


class ConnectionState(Enum):
    """
    The states of one HTTP/1.1 connection (see the module docstring).
    """

    OPEN = "open"
    """
    Requests are read, parsed and served, in order.
    """

    REJECTING = "rejecting"
    """
    A request was rejected (malformed, over a limit, timed out) while
    requests before it were queued: nothing more is parsed (what arrives is
    read and discarded); the queued requests are answered, then the error
    response, then the connection closes.
    """

    FINISHING = "finishing"
    """
    An C{Upgrade} (or C{CONNECT}) request was read and no protocol takes
    the connection over: llhttp stops at such a request, since what follows
    it is not HTTP/1.1.  Nothing more is parsed (what arrives is read and
    discarded); the queued requests, this one included, are answered as
    plain HTTP, then the connection closes.
    """

    SWITCHING = "switching"
    """
    An C{Upgrade} request was read and the factory has a protocol switch:
    nothing more is parsed; what arrives is held (bounded as any held
    bytes are) for the protocol that may take the connection over, until
    that request is the active one and the switch is asked.
    """

    SWITCHED = "switched"
    """
    Another protocol took the connection over: the channel only passes
    what it reads, and the connection's loss, on to it.
    """

    CLOSING = "closing"
    """
    The server closes the connection: what is left to send is sent (the
    transport's C{loseConnection}), bounded by C{timeoutClose}; what
    arrives is read and discarded.
    """

    CLOSED = "closed"
    """
    The transport reported the connection lost.
    """


OPEN = ConnectionState.OPEN
REJECTING = ConnectionState.REJECTING
FINISHING = ConnectionState.FINISHING
SWITCHING = ConnectionState.SWITCHING
SWITCHED = ConnectionState.SWITCHED
CLOSING = ConnectionState.CLOSING
CLOSED = ConnectionState.CLOSED

MOVES = {
    OPEN: frozenset([REJECTING, FINISHING, SWITCHING, SWITCHED, CLOSING, CLOSED]),
    REJECTING: frozenset([CLOSING, CLOSED]),
    FINISHING: frozenset([CLOSING, CLOSED]),
    SWITCHING: frozenset([SWITCHED, FINISHING, CLOSING, CLOSED]),
    SWITCHED: frozenset([CLOSED]),
    CLOSING: frozenset([CLOSED]),
    CLOSED: frozenset(),
}
"""
For each state, the states it may move to (see the module docstring).
"""


def checkMove(current, new):
    """
    @type current: L{ConnectionState}
    @type new: L{ConnectionState}
    @return: C{new}
    @raise IllegalMove: no rule moves from C{current} to C{new}.
    """
    if new not in MOVES[current]:
        raise IllegalMove(f"{current.value} -> {new.value}")
    return new
