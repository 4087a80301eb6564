"""
Tests for L{gracehttp._protocols.http11.states}: the connection states'
table driven directly, and each state reached by the channel on a
L{StringTransport}, as in L{tests.test_http11}.
"""

from unittest import TestCase

from twisted.internet.testing import MemoryReactorClock, StringTransport

from gracehttp._protocols.http11 import ConnectionState, HTTPFactory, IllegalMove
from gracehttp._protocols.http11.states import MOVES, checkMove
from gracehttp._settings import HTTPSettings

from .test_http11 import ManualAdapter, respond
from .test_http11_upgrade import UPGRADE, EchoSwitch

GET = b"GET / HTTP/1.1\r\nHost: x\r\n\r\n"
BAD = b"GET / HTTP/1.1\r\nBad Header: x\r\n\r\n"

LEGAL = {
    ("open", "rejecting"),
    ("open", "finishing"),
    ("open", "switching"),
    ("open", "switched"),
    ("open", "closing"),
    ("open", "closed"),
    ("rejecting", "closing"),
    ("rejecting", "closed"),
    ("finishing", "closing"),
    ("finishing", "closed"),
    ("switching", "switched"),
    ("switching", "finishing"),
    ("switching", "closing"),
    ("switching", "closed"),
    ("switched", "closed"),
    ("closing", "closed"),
}


class TableTests(TestCase):
    def test_legalMoves(self):
        """Exactly the documented moves are legal; checkMove returns the new state."""
        for current in ConnectionState:
            for new in ConnectionState:
                with self.subTest(current=current, new=new):
                    if (current.value, new.value) in LEGAL:
                        self.assertIs(checkMove(current, new), new)
                    else:
                        self.assertRaises(IllegalMove, checkMove, current, new)

    def test_everyStateListed(self):
        """Every state has its row in the table; CLOSED leads nowhere."""
        self.assertEqual(set(MOVES), set(ConnectionState))
        self.assertEqual(MOVES[ConnectionState.CLOSED], frozenset())


class ChannelStateTests(TestCase):
    def setUp(self):
        self.reactor = MemoryReactorClock()
        self.adapter = ManualAdapter()
        self.factory = HTTPFactory(self.adapter, self.reactor, HTTPSettings(timeoutHeader=10.0))

    def connect(self):
        channel = self.factory.buildProtocol(None)
        channel.makeConnection(StringTransport())
        return channel

    def test_open(self):
        """A new connection, and one serving requests, is OPEN."""
        channel = self.connect()
        self.assertIs(channel.state, ConnectionState.OPEN)
        channel.dataReceived(GET)
        respond(self.adapter.exchanges[0])
        self.assertIs(channel.state, ConnectionState.OPEN)

    def test_rejecting(self):
        """
        A bad request behind a running one: REJECTING until the running one
        is answered, then CLOSING.
        """
        channel = self.connect()
        channel.dataReceived(GET + BAD)
        self.assertIs(channel.state, ConnectionState.REJECTING)
        respond(self.adapter.exchanges[0])
        self.assertIs(channel.state, ConnectionState.CLOSING)

    def test_rejectedAloneCloses(self):
        """A bad request with nothing queued: CLOSING at once."""
        channel = self.connect()
        channel.dataReceived(BAD)
        self.assertIs(channel.state, ConnectionState.CLOSING)

    def test_finishing(self):
        """
        An upgrade request without a protocol switch: FINISHING until it is
        answered, then CLOSING.
        """
        channel = self.connect()
        channel.dataReceived(UPGRADE)
        self.assertIs(channel.state, ConnectionState.FINISHING)
        respond(self.adapter.exchanges[0])
        self.assertIs(channel.state, ConnectionState.CLOSING)

    def test_switching(self):
        """
        An upgrade request behind a running one, with a switch: SWITCHING,
        then SWITCHED once it is offered and taken.
        """
        self.factory.protocolSwitch = EchoSwitch()
        channel = self.connect()
        channel.dataReceived(GET + UPGRADE)
        self.assertIs(channel.state, ConnectionState.SWITCHING)
        respond(self.adapter.exchanges[0])
        self.assertIs(channel.state, ConnectionState.SWITCHED)

    def test_idleTimeoutCloses(self):
        """A connection that sends nothing is CLOSING at the head timeout."""
        channel = self.connect()
        self.reactor.advance(10)
        self.assertIs(channel.state, ConnectionState.CLOSING)

    def test_closed(self):
        """connectionLost makes a connection CLOSED, from any state; only once."""
        for data in (b"", GET + BAD, UPGRADE):
            with self.subTest(data=data):
                channel = self.connect()
                channel.dataReceived(data)
                channel.connectionLost(None)
                self.assertIs(channel.state, ConnectionState.CLOSED)
                self.assertRaises(IllegalMove, channel.connectionLost, None)
