"""
What the whole server knows, shared by every connection whatever its
protocol: the open connections, the requests in flight, the limits on
both, draining for a graceful stop, the access log, and the C{Date}
header value of the current second.

Theory of operation
===================

One L{ServerState} per service.  Every connection reports to it, through
L{IServerState}: an HTTP/1.1 connection and the WebSocket connection that
takes one over (its session is the upgrade request's unit of work, in
flight until the session ends) today; an HTTP/2 connection and each of
its streams later, the same way.

  - A connection asks L{ServerState.connectionOpened} whether it may
    stay (C{limitConnections}); one that may reports
    L{ServerState.connectionClosed} when it ends.  An open connection
    provides L{IConnection}: the state can end its keep-alive and cut it.
  - A unit of work (a request) is announced with
    L{ServerState.requestStarted}, which says whether it is admitted
    (C{limitConcurrency}); it is counted in flight from then until
    L{ServerState.requestFinished}, which also logs it.  A request the
    server answers itself before it becomes one
    (L{ServerState.requestRejected}) is only logged.
  - A graceful stop calls L{ServerState.closeIdleConnections}, waits on
    L{ServerState.whenDrained} (no request in flight and no connection
    open; nothing polls: the check runs when a count drops) and, if its
    timeout runs out, L{ServerState.disconnectAll}.

The service depends on L{IServerState} only; the protocols' factories
hold the state and hand it to their connections.
"""

from email.utils import formatdate

from twisted.internet.defer import Deferred
from zope.interface import Attribute, Interface, implementer


class IConnection(Interface):
    """
    A connection, as the server state sees it.
    """

    def stopKeepAlive():
        """
        Serve nothing after what is in progress: close now if idle, else
        once the current work is done.
        """

    def abortForShutdown():
        """
        Cut the connection at the end of a graceful stop: its requests are
        disconnected with the C{shutdown} outcome, then get the grace
        period.
        """


class IServerState(Interface):
    """
    The counts, limits and shared values of one server (see the module
    docstring).
    """

    connections = Attribute("The open connections: a L{set} of L{IConnection}.")
    requestsInFlight = Attribute(
        "Requests started and not finished, across all connections (L{int})."
    )
    requestLog = Attribute(
        "Called with each finished or rejected request record (the access log), or L{None}."
    )

    def connectionOpened(connection):
        """
        A connection was made.

        @type connection: L{IConnection}
        @return: whether it is counted and may stay; C{False} when
            C{limitConnections} connections are open already (the caller
            closes it at once and does not report it closed).
        @rtype: L{bool}
        """

    def connectionClosed(connection):
        """
        A connection that L{connectionOpened} admitted is gone.

        @type connection: L{IConnection}
        """

    def requestStarted():
        """
        A request (a unit of work) was parsed and is counted in flight
        until L{requestFinished}.

        @return: whether it is admitted; C{False} when C{limitConcurrency}
            requests were in flight already (it is counted all the same,
            and answered 503 by its protocol).
        @rtype: L{bool}
        """

    def requestFinished(record):
        """
        A request's application finished (or was never started): it is no
        longer in flight; log it.

        @param record: the request, with its outcome.
        @type record: L{gracehttp._core.exchange.Exchange}
        """

    def requestRejected(record):
        """
        A request answered by the server before it was counted in flight
        (a malformed, oversized or timed-out head): log it.

        @type record: L{gracehttp._core.exchange.Exchange}
        """

    def closeIdleConnections():
        """
        End keep-alive on every connection (L{IConnection.stopKeepAlive}).
        """

    def disconnectAll():
        """
        Cut every connection (L{IConnection.abortForShutdown}).
        """

    def whenDrained():
        """
        @return: a Deferred that fires once no request is in flight and no
            connection is open.
        @rtype: L{Deferred}
        """

    def dateHeader():
        """
        @return: the C{date} header line for now (RFC 9110 section
            6.6.1): C{b"date: <IMF-fixdate>\\r\\n"}.
        @rtype: L{bytes}
        """


@implementer(IServerState)
class ServerState:
    """
    The one L{IServerState} of a service.

    @ivar connections: see L{IServerState}.
    @ivar requestsInFlight: see L{IServerState}.
    @ivar requestLog: see L{IServerState}.
    @ivar _clock: gives the C{Date} header's time.
    @ivar _limitConnections: open connections allowed, or L{None}.
    @ivar _limitConcurrency: requests in flight allowed, or L{None}.
    @ivar _drainWaiters: the L{whenDrained} Deferreds not fired yet.
    @ivar _dateSecond: the second L{_dateLine} was formatted for.
    @ivar _dateLine: the C{date} header line of L{_dateSecond}.
    """

    def __init__(self, clock, limitConnections=None, limitConcurrency=None, requestLog=None):
        """
        @param clock: gives the time for the C{Date} header.
        @type clock: L{twisted.internet.interfaces.IReactorTime}
        @param limitConnections: open connections allowed, or L{None} for
            no limit.
        @type limitConnections: L{int} or L{None}
        @param limitConcurrency: requests in flight allowed, or L{None}
            for no limit.
        @type limitConcurrency: L{int} or L{None}
        @param requestLog: the access log, or L{None}.
        """
        self.connections = set()
        self.requestsInFlight = 0
        self.requestLog = requestLog
        self._clock = clock
        self._limitConnections = limitConnections
        self._limitConcurrency = limitConcurrency
        self._drainWaiters = []
        self._dateSecond = None
        self._dateLine = b""

    def connectionOpened(self, connection):
        limit = self._limitConnections
        if limit is not None and len(self.connections) >= limit:
            return False
        self.connections.add(connection)
        return True

    def connectionClosed(self, connection):
        self.connections.discard(connection)
        if self._drainWaiters:
            self._checkDrained()

    def requestStarted(self):
        limit = self._limitConcurrency
        admitted = limit is None or self.requestsInFlight < limit
        self.requestsInFlight += 1
        return admitted

    def requestFinished(self, record):
        self.requestsInFlight -= 1
        requestLog = self.requestLog
        if requestLog is not None:
            requestLog(record)
        if self._drainWaiters:
            self._checkDrained()

    def requestRejected(self, record):
        requestLog = self.requestLog
        if requestLog is not None:
            requestLog(record)

    def closeIdleConnections(self):
        for connection in list(self.connections):
            connection.stopKeepAlive()

    def disconnectAll(self):
        for connection in list(self.connections):
            connection.abortForShutdown()

    def whenDrained(self):
        drained = Deferred()
        self._drainWaiters.append(drained)
        self._checkDrained()
        return drained

    def _checkDrained(self):
        if not self.requestsInFlight and not self.connections:
            waiters, self._drainWaiters = self._drainWaiters, []
            for drained in waiters:
                drained.callback(None)

    def dateHeader(self):
        now = int(self._clock.seconds())
        if now != self._dateSecond:
            self._dateSecond = now
            self._dateLine = b"date: %s\r\n" % formatdate(now, usegmt=True).encode("ascii")
        return self._dateLine
