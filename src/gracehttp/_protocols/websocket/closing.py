"""
The end of a WebSocket connection: the closing state, the bounded close,
the TCP connection closed, and the graceful stop that cuts a session.

Theory of operation
===================

One L{Closer} per L{WebSocketConnection
<gracehttp._protocols.websocket.connection.WebSocketConnection>}.  When a
close begins (a close frame sent or received, a failure, a refused
handshake) the connection is C{CLOSING} (L{Closer.closing}): no more
pings, reading goes on (the peer's close is to be read), and every close
is bounded: C{timeoutClose} seconds after it starts the connection is
aborted (a peer that never answers our close frame, or over TLS never
answers C{close_notify}).

Closing the TCP connection (L{Closer.close}): the connection stays the
transport's producer until what is left to send fits in its buffer, then
lets go of it (a TLS transport sends its C{close_notify} only once no
producer is registered).

Graceful stop (L{IConnection<gracehttp._core.serverstate.IConnection>}):
C{stopKeepAlive} does nothing (a session runs until it ends, up to the
graceful timeout); L{Closer.abortForShutdown} closes an open session with
1012 (service restart) and tells the application (outcome C{shutdown}),
which then gets the grace period; a handshake still undecided is answered
503.
"""

from wsproto.events import CloseConnection

from gracehttp._core.exchange import SHUTDOWN
from gracehttp._protocols.websocket.states import (
    CLOSED,
    CLOSING,
    CONNECTING,
    OPEN,
    SERVICE_RESTART,
)


class Closer:
    """
    The end of one WebSocket connection (see the module docstring).  It
    moves its connection's C{state} to C{CLOSING}.

    @ivar producing: the connection is registered as the transport's
        producer.
    @ivar losing: the TCP connection is being closed (C{loseConnection}).
    @ivar shutdown: a graceful stop cut the connection.
    @ivar _call: aborts a close that takes too long, or L{None}.
    """

    __slots__ = (
        "_call",
        "_connection",
        "_reactor",
        "_timeoutClose",
        "losing",
        "producing",
        "shutdown",
    )

    def __init__(self, connection, reactor, timeoutClose):
        """
        @param connection: the connection it ends.
        @type connection: L{WebSocketConnection
            <gracehttp._protocols.websocket.connection.WebSocketConnection>}
        @param reactor: the clock.
        @param timeoutClose: seconds a close may take.
        """
        self._connection = connection
        self._reactor = reactor
        self._timeoutClose = timeoutClose
        self._call = None
        self.producing = False
        self.losing = False
        self.shutdown = False

    def closing(self):
        """
        A close is under way: no more pings, read on (the peer's close is
        to be read), and abort the connection if it has not closed within
        C{timeoutClose} seconds.
        """
        connection = self._connection
        if connection.state is CLOSED:
            return
        connection.state = CLOSING
        connection._pinger.stop()
        connection._resumeReading()
        if self._call is None:
            self._call = self._reactor.callLater(self._timeoutClose, self._timedOut)

    def close(self):
        """
        Close the TCP connection (bounded by L{closing}'s timer).  The
        connection stays the transport's producer until what is left to
        send fits in its buffer (L{unregister}).
        """
        self.closing()
        if self.losing:
            return
        self.losing = True
        connection = self._connection
        connection.transport.loseConnection()
        if not connection._writePaused:
            self.unregister()

    def unregister(self):
        """
        Stop being the transport's producer, once.
        """
        if self.producing:
            self.producing = False
            self._connection.transport.unregisterProducer()

    def _timedOut(self):
        self._call = None
        self._connection.transport.abortConnection()

    def abortForShutdown(self):
        """
        The graceful timeout ran out: close an open session with 1012
        (service restart), answer an undecided handshake 503; the
        application is told (outcome C{shutdown}).  A connection already
        closing is aborted.
        """
        self.shutdown = True
        connection = self._connection
        session = connection.session
        state = connection.state
        if state is OPEN:
            connection._writeControl(CloseConnection(code=SERVICE_RESTART))
            session.disconnect(SHUTDOWN, SERVICE_RESTART, "")
            self.closing()
        elif state is CONNECTING:
            session.status = 503
            session.disconnect(SHUTDOWN, SERVICE_RESTART, "")
            connection._answer(503, [(b"retry-after", b"1")], b"Service Unavailable\n")
        else:
            connection.transport.abortConnection()

    def connectionLost(self):
        """
        The connection is lost: the close is no longer timed.
        """
        call = self._call
        if call is not None:
            self._call = None
            call.cancel()
