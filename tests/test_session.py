"""
Tests for L{gracehttp._core.session}: the WebSocket session between a
protocol and an adapter, driven with a recording channel and a L{Clock}.
"""

from unittest import TestCase

from twisted.internet.task import Clock
from zope.interface import implementer
from zope.interface.verify import verifyObject

from gracehttp._core.exchange import (
    ABORTED,
    CANCELLED,
    CLIENT_DISCONNECTED,
    COMPLETED,
    REJECTED,
    SHUTDOWN,
)
from gracehttp._core.interfaces import ISessionChannel
from gracehttp._core.lifecycle import DONE, GRACE
from gracehttp._core.responsehead import InvalidResponse
from gracehttp._core.session import (
    CLOSED,
    CONNECTING,
    DENIED,
    OPEN,
    QUEUE_BYTES,
    QUEUE_MESSAGES,
    Session,
    checkCloseCode,
)
from gracehttp._errors import ClientDisconnected


@implementer(ISessionChannel)
class RecordingSessionChannel:
    """
    An L{ISessionChannel} that records what a session asks of it.

    @ivar calls: C{(method name, arguments...)} in order.
    @ivar consumed: how many times the queue said it drained.
    @ivar finished: the sessions reported finished.
    """

    def __init__(self):
        self.calls = []
        self.consumed = 0
        self.finished = []

    def acceptSession(self, session, subprotocol, headers):
        self.calls.append(("accept", subprotocol, headers))

    def denySession(self, session, status, headers, body):
        self.calls.append(("deny", status, headers, body))

    def sendMessage(self, session, data):
        self.calls.append(("send", data))

    def closeSession(self, session, code, reason):
        self.calls.append(("close", code, reason))

    def messagesConsumed(self, session):
        self.consumed += 1

    def sessionFinished(self, session):
        self.finished.append(session)


def makeSession(grace=3.0):
    """
    A session on a L{RecordingSessionChannel} and a L{Clock}.

    @return: C{(session, channel, clock)}
    """
    clock = Clock()
    clock.advance(1000)
    channel = RecordingSessionChannel()
    return Session(channel, clock, grace), channel, clock


class Woken:
    """
    A wake callback that counts its calls.
    """

    def __init__(self):
        self.count = 0

    def __call__(self):
        self.count += 1


class HandshakeTests(TestCase):
    def test_channelInterface(self):
        """The recording channel provides ISessionChannel, as the protocol's must."""
        self.assertTrue(verifyObject(ISessionChannel, RecordingSessionChannel()))

    def test_accept(self):
        """
        accept() hands the subprotocol and the application's headers to the
        channel (names lowercased; hop-by-hop fields and those the handshake
        sets dropped) and opens the session with status 101.
        """
        session, channel, _ = makeSession()
        session.accept(
            "chat",
            [
                (b"X-Token", b"1"),
                (b"connection", b"close"),
                (b"sec-websocket-accept", b"forged"),
                (b"sec-websocket-extensions", b"x"),
            ],
        )
        self.assertEqual(channel.calls, [("accept", "chat", [(b"x-token", b"1")])])
        self.assertEqual((session.phase, session.status), (OPEN, 101))

    def test_subprotocolFromHeaders(self):
        """
        A sec-websocket-protocol field stands for the subprotocol when the
        application gave none (the ASGI spec asks for the key; some set the
        field).
        """
        session, channel, _ = makeSession()
        session.accept(None, [(b"sec-websocket-protocol", b"graphql-ws")])
        self.assertEqual(channel.calls, [("accept", "graphql-ws", [])])

    def test_badAccept(self):
        """
        A subprotocol that is not a token, or a header that could split the
        response, is refused before anything is sent.
        """
        for subprotocol, headers in [
            ("two words", ()),
            ("", ()),
            (b"bytes", ()),
            (None, [(b"x", b"a\r\nb")]),
        ]:
            session, channel, _ = makeSession()
            with self.assertRaises(InvalidResponse, msg=(subprotocol, headers)):
                session.accept(subprotocol, headers)
            self.assertEqual((channel.calls, session.phase), ([], CONNECTING))

    def test_answeredOnce(self):
        """The handshake is answered once: a second accept or a deny raises."""
        session, _, _ = makeSession()
        session.accept()
        with self.assertRaises(RuntimeError):
            session.accept()
        with self.assertRaises(RuntimeError):
            session.deny(403)

    def test_deny(self):
        """
        deny() hands the channel a complete response (the application's
        content-length dropped: the channel sets it), ends the session
        without a close code, and counts the body as sent.
        """
        session, channel, _ = makeSession()
        woken = session.wake = Woken()
        session.deny(401, [(b"Content-Length", b"99"), (b"x", b"y")], b"no token")
        self.assertEqual(channel.calls, [("deny", 401, [(b"x", b"y")], b"no token")])
        self.assertEqual((session.phase, session.status, session.ended), (DENIED, 401, True))
        self.assertEqual((session.closeCode, session.bytesSent, woken.count), (None, 8, 1))

    def test_denyStatus(self):
        """A denial must be a final response: a 1xx status is refused."""
        session, channel, _ = makeSession()
        for status in (101, 100, "403", 600):
            with self.assertRaises(InvalidResponse):
                session.deny(status)
        self.assertEqual(channel.calls, [])

    def test_afterDisconnect(self):
        """Once the peer is gone, answering the handshake raises ClientDisconnected."""
        session, channel, _ = makeSession()
        session.disconnect()
        with self.assertRaises(ClientDisconnected):
            session.accept()
        with self.assertRaises(ClientDisconnected):
            session.deny(403)
        self.assertEqual(channel.calls, [])


class MessageTests(TestCase):
    def open(self):
        session, channel, clock = makeSession()
        session.accept()
        channel.calls.clear()
        return session, channel, clock

    def test_send(self):
        """send() passes text and bytes on and counts them, text as UTF-8."""
        session, channel, _ = self.open()
        session.send("h\u00e9")
        session.send(b"\x00\x01")
        self.assertEqual(channel.calls, [("send", "h\u00e9"), ("send", b"\x00\x01")])
        self.assertEqual((session.messagesSent, session.bytesSent), (2, 5))

    def test_sendOutOfTurn(self):
        """send() before the accept or after the close raises RuntimeError."""
        session, channel, _ = makeSession()
        with self.assertRaises(RuntimeError):
            session.send("early")
        session.accept()
        session.close()
        with self.assertRaises(RuntimeError):
            session.send("late")
        self.assertNotIn(("send", "early"), channel.calls)

    def test_sendAfterDisconnect(self):
        """send() after the peer left raises ClientDisconnected, an OSError."""
        session, channel, _ = self.open()
        session.disconnect()
        with self.assertRaises(ClientDisconnected) as caught:
            session.send("x")
        self.assertIsInstance(caught.exception, OSError)
        self.assertEqual(channel.calls, [])

    def test_receive(self):
        """Received messages queue in order, are counted, and wake the adapter."""
        session, _, _ = self.open()
        woken = session.wake = Woken()
        self.assertFalse(session.receiveMessage("\u00e9t\u00e9"))
        self.assertFalse(session.receiveMessage(b"ab"))
        self.assertEqual(woken.count, 2)
        self.assertEqual((session.messagesReceived, session.bytesReceived), (2, 7))
        self.assertEqual(
            [session.nextMessage(), session.nextMessage(), session.nextMessage()],
            ["\u00e9t\u00e9", b"ab", None],
        )

    def test_queueBoundByMessages(self):
        """
        The queue is full at QUEUE_MESSAGES messages; the channel hears once
        that it may read on when the adapter took one.
        """
        session, channel, _ = self.open()
        full = [session.receiveMessage(b"m") for _ in range(QUEUE_MESSAGES)]
        self.assertEqual(full, [False] * (QUEUE_MESSAGES - 1) + [True])
        self.assertEqual(channel.consumed, 0)
        session.nextMessage()
        session.nextMessage()
        self.assertEqual(channel.consumed, 1)

    def test_queueBoundByBytes(self):
        """
        The queue is full at QUEUE_BYTES bytes (one large message fills it);
        it drains below both bounds before the channel reads on.
        """
        session, channel, _ = self.open()
        self.assertFalse(session.receiveMessage(b"a" * (QUEUE_BYTES - 1)))
        self.assertTrue(session.receiveMessage(b"b"))
        session.nextMessage()
        self.assertEqual(channel.consumed, 1)
        self.assertTrue(session.receiveMessage(b"c" * QUEUE_BYTES))

    def test_receiveAfterClose(self):
        """Messages that arrive after the application closed are dropped."""
        session, _, _ = self.open()
        session.close()
        self.assertFalse(session.receiveMessage("late"))
        self.assertIsNone(session.nextMessage())
        self.assertEqual(session.messagesReceived, 0)

    def test_writePausing(self):
        """pauseWriting sets writePaused; resumeWriting clears it and wakes the adapter."""
        session, _, _ = self.open()
        woken = session.wake = Woken()
        session.pauseWriting()
        self.assertTrue(session.writePaused)
        session.resumeWriting()
        self.assertEqual((session.writePaused, woken.count), (False, 1))


class CloseTests(TestCase):
    def test_closeCodes(self):
        """
        The codes an application may send are 1000-1003, 1007-1014 and
        3000-4999 (RFC 6455 section 7.4); others raise ValueError.
        """
        for code in (1000, 1001, 1003, 1007, 1011, 1012, 1014, 3000, 4999):
            checkCloseCode(code)
        for code in (999, 1004, 1005, 1006, 1015, 1016, 2999, 5000, "1000", None):
            with self.assertRaises(ValueError, msg=code):
                checkCloseCode(code)

    def test_close(self):
        """
        close() hands the code and reason to the channel, ends the session
        with that code and wakes the adapter; the peer's later close or
        drop is no disconnect.
        """
        session, channel, clock = makeSession()
        session.accept()
        woken = session.wake = Woken()
        clock.advance(2)
        session.close(4001, "bye")
        self.assertEqual(channel.calls[-1], ("close", 4001, "bye"))
        self.assertEqual((session.phase, session.ended, woken.count), (CLOSED, True, 1))
        self.assertEqual((session.closeCode, session.closeReason), (4001, "bye"))
        self.assertEqual(session.endTime, 1002)
        session.disconnect(COMPLETED, 4001, "bye")
        session.disconnect()
        self.assertFalse(session.disconnected)
        self.assertEqual(woken.count, 1)

    def test_closeInvalid(self):
        """close() with a code that may not be sent raises and sends nothing."""
        session, channel, _ = makeSession()
        session.accept()
        with self.assertRaises(ValueError):
            session.close(1006)
        self.assertEqual((session.phase, channel.calls[-1][0]), (OPEN, "accept"))

    def test_closeOutOfTurn(self):
        """
        close() of a session not open raises RuntimeError; after a
        disconnect, ClientDisconnected.
        """
        session, _, _ = makeSession()
        with self.assertRaises(RuntimeError):
            session.close()
        session.accept()
        session.disconnect()
        with self.assertRaises(ClientDisconnected):
            session.close()


class DisconnectTests(TestCase):
    def test_disconnect(self):
        """
        The first disconnect records the close code and reason and when it
        came, and wakes the adapter, once.
        """
        session, _, clock = makeSession()
        session.accept()
        woken = session.wake = Woken()
        clock.advance(1.5)
        session.disconnect(COMPLETED, 1001, "going away")
        session.disconnect(CLIENT_DISCONNECTED, 1006, "")
        self.assertTrue(session.disconnected and session.ended)
        self.assertEqual((session.closeCode, session.closeReason), (1001, "going away"))
        self.assertEqual((session.endTime, woken.count), (1001.5, 1))
        self.assertEqual(session.disconnectReason, COMPLETED)

    def test_defaultIsDrop(self):
        """A disconnect without arguments is a lost connection: 1006, client-disconnected."""
        session, _, _ = makeSession()
        session.accept()
        session.disconnect()
        self.assertEqual((session.closeCode, session.disconnectReason), (1006, CLIENT_DISCONNECTED))

    def test_graceThenCancel(self):
        """
        A running application whose peer left is cancelled once the grace
        period elapsed, not before; the outcome is cancelled.
        """
        session, channel, clock = makeSession(grace=2.0)
        cancels = []
        session.appStarted(lambda: cancels.append(clock.seconds()))
        session.accept()
        session.disconnect()
        self.assertIs(session.lifecycleState, GRACE)
        clock.advance(1.999)
        self.assertEqual(cancels, [])
        clock.advance(0.001)
        self.assertEqual(cancels, [1002.0])
        session.appFinished()
        self.assertEqual((session.outcome, channel.finished), (CANCELLED, [session]))
        self.assertEqual(clock.getDelayedCalls(), [])

    def test_peerCloseThenCancel(self):
        """
        An application that outlives the grace period after the peer's
        close frame is cancelled too.
        """
        session, _, clock = makeSession(grace=1.0)
        session.appStarted(lambda: None)
        session.accept()
        session.disconnect(COMPLETED, 1000, "")
        clock.advance(1)
        session.appFinished()
        self.assertEqual(session.outcome, CANCELLED)

    def test_outcomeKeepsShutdownAndRejected(self):
        """A cancelled application keeps the shutdown and rejected outcomes."""
        for reason in (SHUTDOWN, REJECTED):
            session, _, _ = makeSession(grace=0)
            session.appStarted(lambda: None)
            session.accept()
            session.disconnect(reason, 1012, "")
            self.assertTrue(session.cancelled)
            session.appFinished()
            self.assertEqual(session.outcome, reason)

    def test_finishedWithinGrace(self):
        """
        An application that ends within the grace period has the
        disconnect's outcome; nothing stays scheduled.
        """
        for reason in (COMPLETED, CLIENT_DISCONNECTED):
            session, _, clock = makeSession()
            session.appStarted(lambda: None)
            session.accept()
            session.disconnect(reason, 1000, "")
            session.appFinished()
            self.assertEqual(session.outcome, reason)
            self.assertIs(session.lifecycleState, DONE)
            self.assertEqual(clock.getDelayedCalls(), [])


class OutcomeTests(TestCase):
    def finish(self, *steps):
        session, channel, _ = makeSession()
        session.appStarted(lambda: None)
        for step in steps:
            step(session)
        session.appFinished()
        self.assertEqual(channel.finished, [session])
        return session

    def test_closedByApplication(self):
        """An application that closed its session completed it."""
        session = self.finish(lambda s: s.accept(), lambda s: s.close())
        self.assertEqual((session.outcome, session.closeCode), (COMPLETED, 1000))

    def test_denied(self):
        """A denied handshake completed, with the denial's status."""
        session = self.finish(lambda s: s.deny(403))
        self.assertEqual((session.outcome, session.status), (COMPLETED, 403))

    def test_abort(self):
        """abort() after the accept closes with 1011; the outcome is aborted."""
        session = self.finish(lambda s: s.accept(), lambda s: s.abort())
        self.assertEqual((session.outcome, session.closeCode), (ABORTED, 1011))

    def test_abortAfterClose(self):
        """abort() of a session the application closed, or never accepted, does nothing."""
        session = self.finish(lambda s: s.accept(), lambda s: s.close(), lambda s: s.abort())
        self.assertEqual((session.outcome, session.closeCode), (COMPLETED, 1000))
        session, channel, _ = makeSession()
        session.abort()
        self.assertEqual(channel.calls, [])

    def test_endTime(self):
        """A session that never ended for the peer ends when its application does."""
        session, _, clock = makeSession()
        session.appStarted(lambda: None)
        clock.advance(5)
        session.appFinished()
        self.assertEqual(session.endTime, 1005)
