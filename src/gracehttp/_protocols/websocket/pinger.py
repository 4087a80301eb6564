"""
The pings of a WebSocket connection: a peer that no longer answers is
found out.

Theory of operation
===================

One L{Pinger} per L{WebSocketConnection
<gracehttp._protocols.websocket.connection.WebSocketConnection>},
started when the handshake is accepted and stopped when a close begins or
the connection is lost.  Every C{wsPingInterval} seconds (when it is
positive) a ping is sent unless one is unanswered, and the peer must be
heard from (a pong, or anything it sends: the connection notes it in
C{_heard} at each read) within C{wsPingTimeout} seconds.  A silent peer is
sent a close frame with 1011 and the connection is aborted; the session
is told with code 1006 and reason C{ping timeout} (outcome
C{client-disconnected}).  While the server itself stopped reading (the
session's queue is full) the peer is not late.
"""

from twisted.logger import Logger
from wsproto.events import CloseConnection, Ping

from gracehttp._core.exchange import CLIENT_DISCONNECTED
from gracehttp._protocols.websocket.states import ABNORMAL_CLOSURE, INTERNAL_ERROR, OPEN

_log = Logger()


class Pinger:
    """
    The pings of one WebSocket connection (see the module docstring).

    @ivar _interval: C{wsPingInterval}, in seconds (none if not positive).
    @ivar _timeout: C{wsPingTimeout}, in seconds.
    @ivar _pingCall: sends the next ping, or L{None}.
    @ivar _pongCall: gives up on the peer, or L{None} (no ping
        unanswered).
    """

    __slots__ = ("_connection", "_interval", "_pingCall", "_pongCall", "_reactor", "_timeout")

    def __init__(self, connection, reactor, settings):
        """
        @param connection: the connection it pings for.
        @type connection: L{WebSocketConnection
            <gracehttp._protocols.websocket.connection.WebSocketConnection>}
        @param reactor: the clock.
        @param settings: the WebSocket layer's settings.
        @type settings: L{WebSocketSettings
            <gracehttp._protocols.websocket.switch.WebSocketSettings>}
        """
        self._connection = connection
        self._reactor = reactor
        self._interval = settings.wsPingInterval
        self._timeout = settings.wsPingTimeout
        self._pingCall = None
        self._pongCall = None

    def start(self):
        """
        Send a ping in C{wsPingInterval} seconds, if it is positive.
        """
        interval = self._interval
        if interval > 0:
            self._pingCall = self._reactor.callLater(interval, self._ping)

    def stop(self):
        """
        No more pings, and no answer awaited.
        """
        call = self._pingCall
        if call is not None:
            self._pingCall = None
            call.cancel()
        call = self._pongCall
        if call is not None:
            self._pongCall = None
            call.cancel()

    def _ping(self):
        """
        Send a ping (unless one is unanswered) and time the answer.
        """
        self._pingCall = None
        connection = self._connection
        if connection.state is not OPEN:
            return
        if self._pongCall is None:
            connection._heard = False
            connection._writeControl(Ping())
            self._pongCall = self._reactor.callLater(self._timeout, self._timedOut)
        self.start()

    def _timedOut(self):
        """
        The ping's time is up: a peer heard from since, or one we stopped
        reading from, is alive; a silent one is disconnected.
        """
        self._pongCall = None
        connection = self._connection
        if connection.state is not OPEN or connection._heard or connection._readPaused:
            return
        session = connection.session
        _log.info(
            "WebSocket peer {client} did not answer a ping within {timeout} s",
            client=session.client,
            timeout=self._timeout,
        )
        connection._failed = True
        connection._writeControl(CloseConnection(code=INTERNAL_ERROR, reason="ping timeout"))
        session.disconnect(CLIENT_DISCONNECTED, ABNORMAL_CLOSURE, "ping timeout")
        connection._closer.closing()
        connection.transport.abortConnection()
