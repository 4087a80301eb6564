"""
Tests for L{gracehttp._protocols.http11.upgrade}: a protocol switch taking
an HTTP/1.1 connection over after an C{Upgrade} request, and the same
requests answered as plain HTTP without one.  Driven with
L{StringTransport} and a L{MemoryReactorClock}, as in L{tests.test_http11}.
"""

from unittest import TestCase, mock

from twisted.internet.error import ConnectionDone
from twisted.internet.protocol import Protocol
from twisted.internet.testing import MemoryReactorClock, StringTransport
from twisted.logger import Logger
from twisted.python.failure import Failure
from zope.interface import implementer
from zope.interface.verify import verifyObject

from gracehttp._core.exchange import COMPLETED
from gracehttp._core.serverstate import IConnection
from gracehttp._protocols.http11 import (
    HOLD_SIZE,
    ConnectionState,
    HTTPFactory,
    IProtocolSwitch,
    upgrade,
)
from gracehttp._settings import HTTPSettings

from .test_http11 import ManualAdapter, respond

UPGRADE = b"GET /echo HTTP/1.1\r\nHost: x\r\nConnection: upgrade\r\nUpgrade: echo\r\n\r\n"
SWITCHED = b"HTTP/1.1 101 Switching Protocols\r\nConnection: upgrade\r\nUpgrade: echo\r\n\r\n"
GET = b"GET /%d HTTP/1.1\r\nHost: x\r\n\r\n"


class Echo(Protocol):
    """
    The protocol a switch hands the connection to: it registers itself as
    its transport's producer, answers 101, then sends back every byte it
    receives; when its connection is lost it ends the upgrade request
    (status 101, completed).

    @ivar request: the upgrade request it took over.
    @ivar received: what it was given, in order.
    @ivar lost: the reason its connection was lost, or L{None}.
    """

    def __init__(self, request):
        self.request = request
        self.received = []
        self.lost = None

    def connectionMade(self):
        self.transport.registerProducer(self, True)
        self.transport.write(SWITCHED)

    def pauseProducing(self):
        pass

    def resumeProducing(self):
        pass

    def stopProducing(self):
        pass

    def dataReceived(self, data):
        self.received.append(data)
        self.transport.write(data)

    def connectionLost(self, reason):
        self.lost = reason
        self.request.status = 101
        self.request.outcome = COMPLETED
        self.request.appFinished()


@implementer(IConnection)
class StoppableEcho(Echo):
    """
    An L{Echo} that hears of a graceful stop.

    @ivar stops: the L{IConnection} calls it got, in order.
    """

    def __init__(self, request):
        Echo.__init__(self, request)
        self.stops = []

    def stopKeepAlive(self):
        self.stops.append("stopKeepAlive")

    def abortForShutdown(self):
        self.stops.append("abortForShutdown")


@implementer(IProtocolSwitch)
class EchoSwitch:
    """
    Takes over every request it is offered with a new C{protocol()}, or
    declines them all, or fails.

    @ivar offered: the requests it was offered, in order.
    @ivar protocols: the protocols it returned.
    """

    def __init__(self, protocol=Echo, take=True, fail=False):
        self.protocol = protocol
        self.take = take
        self.fail = fail
        self.offered = []
        self.protocols = []

    def takeOver(self, request):
        self.offered.append(request)
        if self.fail:
            raise RuntimeError("switch failed")
        if not self.take:
            return None
        protocol = self.protocol(request)
        self.protocols.append(protocol)
        return protocol


class UpgradeTestsMixin:
    switch = None
    settings = HTTPSettings(timeoutHeader=10.0, timeoutKeepAlive=5.0)

    def setUp(self):
        self.reactor = MemoryReactorClock()
        self.adapter = ManualAdapter()
        self.factory = HTTPFactory(
            self.adapter, self.reactor, self.settings, protocolSwitch=self.makeSwitch()
        )
        self.logged = []
        self.factory.serverState.requestLog = self.logged.append
        self.channel = self.factory.buildProtocol(None)
        self.transport = StringTransport()
        self.channel.makeConnection(self.transport)

    def makeSwitch(self):
        return EchoSwitch()

    def take(self):
        value = self.transport.value()
        self.transport.clear()
        return value


class SwitchTests(UpgradeTestsMixin, TestCase):
    def test_interface(self):
        """The test switch provides IProtocolSwitch."""
        self.assertTrue(verifyObject(IProtocolSwitch, self.factory.protocolSwitch))

    def test_takesOver(self):
        """
        An upgrade request goes to the switch, not the application; the
        protocol it returns gets the transport and the bytes read after the
        request's head, then every later read, and the connection's loss.
        """
        self.channel.dataReceived(UPGRADE + b"hello")
        switch = self.factory.protocolSwitch
        [request] = switch.offered
        self.assertEqual((request.method, request.rawPath), ("GET", b"/echo"))
        self.assertIn((b"upgrade", b"echo"), request.headers)
        self.assertEqual(self.adapter.exchanges, [])
        [echo] = switch.protocols
        self.assertIs(echo.transport, self.transport)
        self.assertEqual(self.take(), SWITCHED + b"hello")
        self.assertIs(self.channel.state, ConnectionState.SWITCHED)
        # Bytes that look like HTTP are the new protocol's too.
        self.channel.dataReceived(GET % 1)
        self.assertEqual(self.take(), GET % 1)
        self.assertEqual(echo.received, [b"hello", GET % 1])
        reason = Failure(ConnectionDone())
        self.channel.connectionLost(reason)
        self.assertIs(echo.lost, reason)
        self.assertIs(self.channel.state, ConnectionState.CLOSED)

    def test_handOver(self):
        """
        At the switch the channel stops producing (the new protocol is the
        transport's producer) and timing; the upgrade request is the new
        protocol's: it stays counted in flight and is not logged until that
        protocol ends it; the connection stays counted until it is lost.
        """
        self.channel.dataReceived(UPGRADE)
        [echo] = self.factory.protocolSwitch.protocols
        self.assertIs(self.transport.producer, echo)
        self.assertEqual(self.reactor.getDelayedCalls(), [])
        state = self.factory.serverState
        self.assertEqual(state.requestsInFlight, 1)
        self.assertEqual(self.logged, [])
        self.assertEqual(state.connections, {self.channel})
        self.reactor.advance(100)
        self.assertFalse(self.transport.disconnecting)
        self.channel.connectionLost(None)
        self.assertEqual(state.connections, set())
        self.assertEqual(state.requestsInFlight, 0)
        [record] = self.logged
        self.assertIs(record, echo.request)
        self.assertEqual((record.status, record.outcome), (101, COMPLETED))

    def test_afterPipelinedRequests(self):
        """
        An upgrade request pipelined behind others is offered once they are
        answered; what arrives meanwhile is held, never parsed, and given
        to the new protocol in order.
        """
        self.channel.dataReceived(GET % 1 + UPGRADE + b"early ")
        self.channel.dataReceived(GET % 2)
        switch = self.factory.protocolSwitch
        self.assertEqual(switch.offered, [])
        [first] = self.adapter.exchanges
        self.assertIs(self.channel.state, ConnectionState.SWITCHING)
        respond(first, b"one")
        written = self.take()
        self.assertTrue(written.startswith(b"HTTP/1.1 200 OK\r\n"))
        self.assertTrue(written.endswith(b"one" + SWITCHED + b"early " + GET % 2))
        [echo] = switch.protocols
        self.assertEqual(echo.received, [b"early " + GET % 2])
        self.assertEqual(len(self.adapter.exchanges), 1)

    def test_heldBytesBounded(self):
        """
        While an upgrade request waits its turn, what arrives is held up to
        HOLD_SIZE bytes, then the transport pauses; the switch resumes it.
        """
        self.channel.dataReceived(GET % 1 + UPGRADE)
        self.channel.dataReceived(b"a" * HOLD_SIZE)
        self.assertEqual(self.transport.producerState, "producing")
        self.channel.dataReceived(b"b")
        self.assertEqual(self.transport.producerState, "paused")
        respond(self.adapter.exchanges[0])
        [echo] = self.factory.protocolSwitch.protocols
        self.assertEqual(echo.received, [b"a" * HOLD_SIZE + b"b"])
        self.assertEqual(self.transport.producerState, "producing")

    def test_withBodyNotOffered(self):
        """
        An upgrade request with a body is answered as plain HTTP (llhttp
        does not read that body), and the connection closes after it.
        """
        self.channel.dataReceived(
            b"POST / HTTP/1.1\r\nHost: x\r\nConnection: upgrade\r\nUpgrade: echo\r\n"
            b"Content-Length: 5\r\n\r\nhello"
        )
        self.assertEqual(self.factory.protocolSwitch.offered, [])
        [exchange] = self.adapter.exchanges
        respond(exchange)
        self.assertTrue(self.take().startswith(b"HTTP/1.1 200 OK\r\n"))
        self.assertTrue(self.transport.disconnecting)

    def test_overConcurrencyNotOffered(self):
        """
        An upgrade request over limitConcurrency is answered 503 and never
        offered.
        """
        self.factory.serverState._limitConcurrency = 0
        self.channel.dataReceived(UPGRADE)
        self.assertEqual(self.factory.protocolSwitch.offered, [])
        self.assertTrue(self.take().startswith(b"HTTP/1.1 503 "))
        self.assertTrue(self.transport.disconnecting)

    def test_stoppingServerDeclines(self):
        """
        A server that is stopping (keep-alive ended while the upgrade
        request arrived) does not switch: the request is answered as plain
        HTTP, with connection: close.
        """
        self.channel.dataReceived(UPGRADE[:20])
        self.factory.serverState.closeIdleConnections()
        self.channel.dataReceived(UPGRADE[20:])
        self.assertEqual(self.factory.protocolSwitch.offered, [])
        [exchange] = self.adapter.exchanges
        respond(exchange)
        self.assertIn(b"connection: close\r\n", self.take())
        self.assertTrue(self.transport.disconnecting)

    def test_gracefulStopReachesProtocol(self):
        """
        closeIdleConnections and disconnectAll reach a protocol that took
        the connection over if it provides IConnection.
        """
        self.factory.protocolSwitch = EchoSwitch(StoppableEcho)
        channel = self.factory.buildProtocol(None)
        channel.makeConnection(StringTransport())
        channel.dataReceived(UPGRADE)
        [echo] = self.factory.protocolSwitch.protocols
        self.factory.serverState.closeIdleConnections()
        self.factory.serverState.disconnectAll()
        self.assertEqual(echo.stops, ["stopKeepAlive", "abortForShutdown"])

    def test_gracefulStopAbortsOtherwise(self):
        """
        A protocol that does not provide IConnection is left alone by
        closeIdleConnections, and disconnectAll aborts its transport.
        """
        self.channel.dataReceived(UPGRADE)
        self.factory.serverState.closeIdleConnections()
        self.assertFalse(self.transport.disconnecting)
        self.factory.serverState.disconnectAll()
        self.assertTrue(self.transport.disconnected)


class DeclineTests(UpgradeTestsMixin, TestCase):
    def makeSwitch(self):
        return EchoSwitch(take=False)

    def test_declined(self):
        """
        A declined upgrade request is answered as plain HTTP by the
        application, after it was offered; what follows it is discarded,
        and the connection closes after the response.
        """
        self.channel.dataReceived(UPGRADE + GET % 1)
        self.assertEqual(len(self.factory.protocolSwitch.offered), 1)
        [exchange] = self.adapter.exchanges
        self.assertEqual(exchange.rawPath, b"/echo")
        self.assertIs(self.channel.state, ConnectionState.FINISHING)
        respond(exchange)
        self.channel.dataReceived(GET % 2)
        self.assertEqual(len(self.adapter.exchanges), 1)
        self.assertTrue(self.take().startswith(b"HTTP/1.1 200 OK\r\n"))
        self.assertTrue(self.transport.disconnecting)

    def test_failedSwitchDeclines(self):
        """
        A switch that raises is logged, and the request is answered as
        plain HTTP.
        """
        self.factory.protocolSwitch = EchoSwitch(fail=True)
        channel = self.factory.buildProtocol(None)
        channel.makeConnection(StringTransport())
        logged = []
        with mock.patch.object(upgrade, "_log", Logger(observer=logged.append)):
            channel.dataReceived(UPGRADE)
        self.assertEqual(len(self.factory.protocolSwitch.offered), 1)
        self.assertEqual([e.rawPath for e in self.adapter.exchanges], [b"/echo"])
        [event] = logged
        self.assertIsInstance(event["log_failure"].value, RuntimeError)


class NoSwitchTests(UpgradeTestsMixin, TestCase):
    """
    Without a switch an upgrade request is served as it always was.
    """

    def makeSwitch(self):
        return None

    def test_answeredAsHTTP(self):
        """
        An upgrade request goes to the application at once; what follows
        its head is never parsed; the connection closes after the queued
        responses.
        """
        self.channel.dataReceived(GET % 1 + UPGRADE + GET % 2)
        self.assertIs(self.channel.state, ConnectionState.FINISHING)
        respond(self.adapter.exchanges[0])
        [_, second] = self.adapter.exchanges
        self.assertEqual(second.rawPath, b"/echo")
        respond(second)
        self.assertEqual(len(self.adapter.exchanges), 2)
        self.assertEqual(self.take().count(b"HTTP/1.1 200 OK\r\n"), 2)
        self.assertTrue(self.transport.disconnecting)

    def test_activeUpgradeStartsAtOnce(self):
        """
        An upgrade request that is the only one is handed to the
        application as soon as its head is parsed.
        """
        self.channel.dataReceived(UPGRADE[:-2])
        self.assertEqual(self.adapter.exchanges, [])
        self.channel.dataReceived(b"\r\nbytes of another protocol")
        [exchange] = self.adapter.exchanges
        self.assertTrue(exchange.bodyComplete)
        self.assertEqual(exchange.readBody(), b"")
