"""
Tests for L{gracehttp._core.serverstate}: the counts, limits, draining and
C{Date} header every connection reports to.
"""

from unittest import TestCase

from twisted.internet.task import Clock
from zope.interface import implementer
from zope.interface.verify import verifyObject

from gracehttp._core.serverstate import IConnection, IServerState, ServerState
from gracehttp._protocols.http11 import HTTPChannel


@implementer(IConnection)
class RecordingConnection:
    """
    An L{IConnection} that records what the state asks of it.
    """

    def __init__(self):
        self.calls = []

    def stopKeepAlive(self):
        self.calls.append("stopKeepAlive")

    def abortForShutdown(self):
        self.calls.append("abortForShutdown")


class ServerStateTests(TestCase):
    def setUp(self):
        self.clock = Clock()
        self.clock.advance(1_000_000_000)

    def test_interfaces(self):
        """
        ServerState provides IServerState; the HTTP/1.1 channel and the test double provide
        IConnection.
        """
        self.assertTrue(verifyObject(IServerState, ServerState(self.clock)))
        self.assertTrue(verifyObject(IConnection, RecordingConnection()))
        self.assertTrue(IConnection.implementedBy(HTTPChannel))

    def test_connectionLimit(self):
        """
        Past limitConnections a new connection is refused and not counted; a closed one makes room.
        """
        state = ServerState(self.clock, limitConnections=2)
        first, second, third = RecordingConnection(), RecordingConnection(), RecordingConnection()
        self.assertTrue(state.connectionOpened(first))
        self.assertTrue(state.connectionOpened(second))
        self.assertFalse(state.connectionOpened(third))
        self.assertEqual(state.connections, {first, second})
        state.connectionClosed(first)
        self.assertTrue(state.connectionOpened(third))

    def test_concurrencyLimit(self):
        """Past limitConcurrency a request is not admitted but still counted until it finishes."""
        state = ServerState(self.clock, limitConcurrency=1)
        self.assertTrue(state.requestStarted())
        self.assertFalse(state.requestStarted())
        self.assertEqual(state.requestsInFlight, 2)
        state.requestFinished("refused")
        state.requestFinished("first")
        self.assertTrue(state.requestStarted())

    def test_log(self):
        """Finished and rejected requests go to the request log; only finished ones were counted."""
        logged = []
        state = ServerState(self.clock, requestLog=logged.append)
        state.requestStarted()
        state.requestFinished("done")
        state.requestRejected("refused")
        self.assertEqual(logged, ["done", "refused"])
        self.assertEqual(state.requestsInFlight, 0)

    def test_drain(self):
        """whenDrained fires once no request is in flight and no connection is open, not before."""
        state = ServerState(self.clock)
        connection = RecordingConnection()
        state.connectionOpened(connection)
        state.requestStarted()
        drained = state.whenDrained()
        self.assertFalse(drained.called)
        state.requestFinished("r")
        self.assertFalse(drained.called)
        state.connectionClosed(connection)
        self.assertTrue(drained.called)
        self.assertTrue(state.whenDrained().called)

    def test_closeAndCut(self):
        """closeIdleConnections and disconnectAll reach every open connection."""
        state = ServerState(self.clock)
        connections = [RecordingConnection(), RecordingConnection()]
        for connection in connections:
            state.connectionOpened(connection)
        state.closeIdleConnections()
        state.disconnectAll()
        self.assertEqual(
            [c.calls for c in connections], [["stopKeepAlive", "abortForShutdown"]] * 2
        )

    def test_dateHeader(self):
        """The Date line is formatted once per second (RFC 9110 section 6.6.1)."""
        state = ServerState(self.clock)
        first = state.dateHeader()
        self.clock.advance(0.5)
        self.assertIs(state.dateHeader(), first)
        self.clock.advance(0.5)
        self.assertEqual(state.dateHeader(), b"date: Sun, 09 Sep 2001 01:46:41 GMT\r\n")
