"""
Tests for L{gracehttp._apps.asgi.websocket}: the ASGI C{websocket} scope,
driven with a recording session channel, a L{Clock} and a fresh asyncio
event loop per test.
"""

import asyncio

from twisted.logger import LogLevel
from zope.interface.verify import verifyObject

from gracehttp._apps.asgi import websocket as _websocket
from gracehttp._core.exchange import ABORTED, CANCELLED, COMPLETED, SHUTDOWN
from gracehttp._core.interfaces import ISessionAdapter
from gracehttp._core.responsehead import InvalidResponse
from gracehttp._core.session import Session
from gracehttp._errors import ClientDisconnected

from .test_asgi import ASGITestCase, spin
from .test_session import RecordingSessionChannel


class WebSocketTestCase(ASGITestCase):
    """
    An L{ASGITestCase} that also captures this module's log.
    """

    def setUp(self):
        super().setUp()
        from twisted.logger import Logger

        self.patch(_websocket, "_log", Logger(observer=self.logged.append))

    def start(self, app, adapter=None, **fields):
        """
        Start C{app} for one session and run the loop until it settles.

        @return: C{(session, channel, adapter)}
        """
        if adapter is None:
            adapter = self.adapter(app)
        channel = RecordingSessionChannel()
        session = Session(channel, self.clock, 3.0)
        session.rawPath = b"/ws"
        session.queryString = b"a=1"
        session.headers = [(b"host", b"example.com")]
        session.client = ("127.0.0.1", 50000)
        session.server = ("127.0.0.1", 8000)
        for name, value in fields.items():
            setattr(session, name, value)
        adapter.handleSession(session)
        spin(self.loop)
        return session, channel, adapter


async def acceptAndRecord(scope, receive, send, seen):
    """
    Accept, then record every event until the disconnect.
    """
    seen.append(await receive())
    await send({"type": "websocket.accept"})
    while True:
        message = await receive()
        seen.append(message)
        if message["type"] == "websocket.disconnect":
            return


class ScopeTests(WebSocketTestCase):
    def test_interface(self):
        """ASGIAdapter provides ISessionAdapter."""

        async def app(scope, receive, send):
            pass

        self.assertTrue(verifyObject(ISessionAdapter, self.adapter(app)))

    def test_scope(self):
        """
        The websocket scope has every key of the ASGI WebSocket spec 2.5,
        the websocket.http.response extension, and the lifespan state.
        """
        scopes = []

        async def app(scope, receive, send):
            scopes.append(scope)
            await receive()
            await send({"type": "websocket.close"})

        adapter = self.adapter(app, rootPath="/api")
        adapter._state = {"greeting": "hi"}
        self.start(app, adapter, scheme="wss", subprotocols=["chat", "v2"], rawPath=b"/caf%C3%A9")
        [scope] = scopes
        self.assertEqual(
            scope,
            {
                "type": "websocket",
                "asgi": {"version": "3.0", "spec_version": "2.5"},
                "http_version": "1.1",
                "scheme": "wss",
                "path": "/api/caf\u00e9",
                "raw_path": b"/caf%C3%A9",
                "query_string": b"a=1",
                "root_path": "/api",
                "headers": [(b"host", b"example.com")],
                "client": ("127.0.0.1", 50000),
                "server": ("127.0.0.1", 8000),
                "subprotocols": ["chat", "v2"],
                "state": {"greeting": "hi"},
                "extensions": {"websocket.http.response": {}},
            },
        )


class HandshakeTests(WebSocketTestCase):
    def test_accept(self):
        """
        websocket.connect comes first; websocket.accept accepts with its
        subprotocol and headers.
        """

        async def app(scope, receive, send):
            assert (await receive()) == {"type": "websocket.connect"}
            await send(
                {"type": "websocket.accept", "subprotocol": "chat", "headers": [(b"x-a", b"1")]}
            )
            await send({"type": "websocket.close"})

        session, channel, _ = self.start(app)
        self.assertEqual(channel.calls, [("accept", "chat", [(b"x-a", b"1")]), ("close", 1000, "")])
        self.assertEqual(session.outcome, COMPLETED)

    def test_closeBeforeAccept(self):
        """websocket.close before accepting denies the handshake with 403."""

        async def app(scope, receive, send):
            await receive()
            await send({"type": "websocket.close", "code": 4000})

        session, channel, _ = self.start(app)
        self.assertEqual(channel.calls, [("deny", 403, [], b"")])
        self.assertEqual((session.status, session.outcome), (403, COMPLETED))

    def test_httpResponse(self):
        """
        websocket.http.response.start and .body deny the handshake with that
        response, its body gathered until more_body is false.
        """

        async def app(scope, receive, send):
            await receive()
            await send(
                {
                    "type": "websocket.http.response.start",
                    "status": 401,
                    "headers": [(b"content-type", b"text/plain")],
                }
            )
            await send({"type": "websocket.http.response.body", "body": b"no ", "more_body": True})
            await send({"type": "websocket.http.response.body", "body": b"token"})

        session, channel, _ = self.start(app)
        self.assertEqual(
            channel.calls, [("deny", 401, [(b"content-type", b"text/plain")], b"no token")]
        )
        self.assertEqual(session.status, 401)
        self.assertNoErrorLogged()

    def test_receiveAfterDenial(self):
        """After a denial receive() returns websocket.disconnect with 1006."""
        seen = []

        async def app(scope, receive, send):
            await receive()
            await send({"type": "websocket.close"})
            seen.append(await receive())

        self.start(app)
        self.assertEqual(seen, [{"type": "websocket.disconnect", "code": 1006, "reason": ""}])

    def test_returnedWithoutAnswer(self):
        """An application that returns without answering the handshake gets a 500, logged."""

        async def app(scope, receive, send):
            await receive()

        _, channel, _ = self.start(app)
        self.assertEqual([call[:2] for call in channel.calls], [("deny", 500)])
        self.assertIn(LogLevel.error, self.levels())

    def test_raisedBeforeAnswer(self):
        """An application that raises before answering gets a 500 and its traceback logged."""

        async def app(scope, receive, send):
            raise ValueError("nope")

        _, channel, _ = self.start(app)
        self.assertEqual([call[:2] for call in channel.calls], [("deny", 500)])
        [failure] = [e["log_failure"] for e in self.logged if "log_failure" in e]
        self.assertIsInstance(failure.value, ValueError)

    def test_badMessages(self):
        """Out-of-turn and unknown events raise RuntimeError, bad headers InvalidResponse."""
        errors = []

        async def app(scope, receive, send):
            await receive()
            for message in (
                {"type": "websocket.send", "text": "early"},
                {"type": "http.response.start", "status": 200},
                {"type": "websocket.accept", "headers": [(b"x", b"\r\n")]},
            ):
                try:
                    await send(message)
                except (RuntimeError, InvalidResponse) as e:
                    errors.append(type(e))
            await send({"type": "websocket.accept"})
            await send({"type": "websocket.close"})
            try:
                await send({"type": "websocket.send", "text": "late"})
            except RuntimeError as e:
                errors.append(str(e))

        self.start(app)
        self.assertEqual(
            errors,
            [
                RuntimeError,
                RuntimeError,
                InvalidResponse,
                "unexpected ASGI message 'websocket.send' (the WebSocket is closed)",
            ],
        )


class MessageTests(WebSocketTestCase):
    def test_echo(self):
        """Messages received come as text or bytes; messages sent go out as given."""

        async def app(scope, receive, send):
            await receive()
            await send({"type": "websocket.accept"})
            for _ in range(2):
                message = await receive()
                if message.get("text") is not None:
                    await send({"type": "websocket.send", "text": message["text"]})
                else:
                    await send({"type": "websocket.send", "bytes": message["bytes"]})

        session, channel, _ = self.start(app)
        session.receiveMessage("h\u00e9")
        session.receiveMessage(b"\x00")
        spin(self.loop)
        self.assertEqual(
            channel.calls[1:], [("send", "h\u00e9"), ("send", b"\x00"), ("close", 1000, "")]
        )

    def test_receiveEvents(self):
        """A text message has only the text key, a binary one only bytes."""
        seen = []

        async def app(scope, receive, send):
            await acceptAndRecord(scope, receive, send, seen)

        session, _, _ = self.start(app)
        session.receiveMessage("t")
        session.receiveMessage(b"b")
        session.disconnect()
        spin(self.loop)
        self.assertEqual(
            seen[1:3],
            [
                {"type": "websocket.receive", "text": "t"},
                {"type": "websocket.receive", "bytes": b"b"},
            ],
        )

    def test_badSend(self):
        """websocket.send needs exactly one of text (str) and bytes."""
        errors = []

        async def app(scope, receive, send):
            await receive()
            await send({"type": "websocket.accept"})
            for message in ({}, {"text": "a", "bytes": b"b"}, {"text": b"a"}, {"bytes": "b"}):
                try:
                    await send({"type": "websocket.send", **message})
                except RuntimeError:
                    errors.append(message)

        _, channel, _ = self.start(app)
        self.assertEqual(len(errors), 4)
        self.assertNotIn("send", [call[0] for call in channel.calls])

    def test_closeCodeAndReason(self):
        """
        websocket.close sends the application's code and reason; receive()
        then ends with them.
        """
        seen = []

        async def app(scope, receive, send):
            await receive()
            await send({"type": "websocket.accept"})
            await send({"type": "websocket.close", "code": 4001, "reason": "bye"})
            seen.append(await receive())

        _, channel, _ = self.start(app)
        self.assertEqual(channel.calls[-1], ("close", 4001, "bye"))
        self.assertEqual(seen, [{"type": "websocket.disconnect", "code": 4001, "reason": "bye"}])

    def test_backpressure(self):
        """send() waits while the transport is above its high-water mark."""
        sent = []

        async def app(scope, receive, send):
            await receive()
            await send({"type": "websocket.accept"})
            await send({"type": "websocket.send", "bytes": b"1"})
            sent.append(1)
            await send({"type": "websocket.send", "bytes": b"2"})
            sent.append(2)
            await send({"type": "websocket.close"})

        channel = RecordingSessionChannel()
        session = Session(channel, self.clock, 3.0)
        session.pauseWriting()
        self.adapter(app).handleSession(session)
        spin(self.loop)
        self.assertEqual(sent, [])
        session.resumeWriting()
        spin(self.loop)
        self.assertEqual(sent, [1, 2])


class DisconnectTests(WebSocketTestCase):
    def test_disconnectAfterMessages(self):
        """
        The peer's close reaches the application as websocket.disconnect
        with its code and reason, after the messages received before it.
        """
        seen = []

        async def app(scope, receive, send):
            await acceptAndRecord(scope, receive, send, seen)

        session, _, _ = self.start(app)
        session.receiveMessage("last")
        session.disconnect(COMPLETED, 4002, "ciao")
        spin(self.loop)
        self.assertEqual(
            seen[1:],
            [
                {"type": "websocket.receive", "text": "last"},
                {"type": "websocket.disconnect", "code": 4002, "reason": "ciao"},
            ],
        )
        self.assertEqual(session.outcome, COMPLETED)

    def test_dropAtOnce(self):
        """A lost connection wakes a waiting receive() at once with 1006."""
        seen = []

        async def app(scope, receive, send):
            await acceptAndRecord(scope, receive, send, seen)

        session, _, _ = self.start(app)
        self.assertEqual(len(seen), 1)
        session.disconnect()
        spin(self.loop, 2)
        self.assertEqual(seen[-1], {"type": "websocket.disconnect", "code": 1006, "reason": ""})

    def test_sendAfterDisconnect(self):
        """
        send() after the disconnect raises ClientDisconnected, which is not
        logged as an error.
        """
        raised = []

        async def app(scope, receive, send):
            await receive()
            await send({"type": "websocket.accept"})
            await receive()
            try:
                await send({"type": "websocket.send", "text": "late"})
            except ClientDisconnected as e:
                raised.append(e)
                raise

        session, _, _ = self.start(app)
        session.disconnect()
        spin(self.loop)
        self.assertEqual(len(raised), 1)
        self.assertIsInstance(raised[0], OSError)
        self.assertNoErrorLogged()
        self.assertEqual(session.outcome, "client-disconnected")

    def test_waitingSendRaises(self):
        """
        A send() waiting for the transport to drain raises
        ClientDisconnected on the disconnect.
        """
        raised = []

        async def app(scope, receive, send):
            await receive()
            await send({"type": "websocket.accept"})
            try:
                await send({"type": "websocket.send", "text": "x"})
            except ClientDisconnected:
                raised.append(True)

        channel = RecordingSessionChannel()
        session = Session(channel, self.clock, 3.0)
        session.pauseWriting()
        self.adapter(app).handleSession(session)
        spin(self.loop)
        session.disconnect()
        spin(self.loop)
        self.assertEqual(raised, [True])

    def test_graceThenCancel(self):
        """
        An application that ignores the disconnect is cancelled when the
        grace period (on the clock) runs out; the outcome is cancelled.
        """
        events = []

        async def app(scope, receive, send):
            await receive()
            await send({"type": "websocket.accept"})
            await receive()
            try:
                await asyncio.sleep(3600)
            except asyncio.CancelledError:
                events.append("cancelled")
                raise

        session, _, _ = self.start(app)
        session.disconnect()
        spin(self.loop)
        self.clock.advance(2.9)
        spin(self.loop)
        self.assertEqual(events, [])
        self.clock.advance(0.1)
        spin(self.loop)
        self.assertEqual(events, ["cancelled"])
        self.assertEqual(session.outcome, CANCELLED)
        self.assertNoErrorLogged()

    def test_shutdownOutcome(self):
        """A session the graceful stop disconnected keeps the shutdown outcome."""

        async def app(scope, receive, send):
            await receive()
            await send({"type": "websocket.accept"})
            await receive()

        session, _, _ = self.start(app)
        session.disconnect(SHUTDOWN, 1012, "")
        spin(self.loop)
        self.assertEqual((session.outcome, session.closeCode), (SHUTDOWN, 1012))

    def test_notStartedAfterDisconnect(self):
        """A session whose peer left before its application started is not started."""
        started = []

        async def app(scope, receive, send):
            started.append(True)

        channel = RecordingSessionChannel()
        session = Session(channel, self.clock, 3.0)
        session.disconnect()
        self.adapter(app).handleSession(session)
        spin(self.loop)
        self.assertEqual((started, channel.finished), ([], [session]))


class EndingTests(WebSocketTestCase):
    def test_returnedOpen(self):
        """An application that returns with its session open closes it with 1000."""

        async def app(scope, receive, send):
            await receive()
            await send({"type": "websocket.accept"})

        session, channel, _ = self.start(app)
        self.assertEqual(channel.calls[-1], ("close", 1000, ""))
        self.assertEqual(session.outcome, COMPLETED)
        self.assertNoErrorLogged()

    def test_raisedOpen(self):
        """An application that raises after accepting is closed with 1011 and logged; aborted."""

        async def app(scope, receive, send):
            await receive()
            await send({"type": "websocket.accept"})
            raise RuntimeError("boom")

        session, channel, _ = self.start(app)
        self.assertEqual(channel.calls[-1], ("close", 1011, ""))
        self.assertEqual(session.outcome, ABORTED)
        self.assertIn(LogLevel.error, self.levels())

    def test_inFlight(self):
        """The adapter's inFlight covers session tasks, and fires when they end."""

        async def app(scope, receive, send):
            await acceptAndRecord(scope, receive, send, [])

        session, _, adapter = self.start(app)
        [running] = adapter.inFlight
        self.assertNoResult(running)
        session.disconnect()
        spin(self.loop)
        self.successResultOf(running)
        self.assertEqual(adapter.inFlight, [])
