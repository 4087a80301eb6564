"""
The ASGI C{websocket} scope (ASGI WebSocket spec, version 2.5): one asyncio
task per L{Session<gracehttp._core.session.Session>}, as the HTTP scope
has one per exchange (L{gracehttp._apps.asgi.adapter}).

Theory of operation
===================

The application decides the handshake: its first C{receive()} returns
C{websocket.connect}; then

  - C{websocket.accept} (with C{subprotocol} and C{headers}) accepts it
    (L{Session.accept<gracehttp._core.session.Session.accept>});
  - C{websocket.close} before accepting denies it with C{403 Forbidden}
    (the spec's rule);
  - C{websocket.http.response.start} then C{websocket.http.response.body}
    (the C{websocket.http.response} extension, listed in the scope's
    C{extensions}) denies it with that response: the body events are
    gathered until one has C{more_body} false, and the response is sent
    whole, with a C{Content-Length}.

Once accepted, C{receive()} returns each message (C{websocket.receive}
with C{text} or C{bytes}) and C{send()} takes C{websocket.send} and
C{websocket.close} (with C{code} and C{reason}).

The disconnect rules are those of HTTP (L{gracehttp._core.lifecycle}):
when the peer leaves (its close frame, a lost connection, a ping
unanswered, a graceful stop), C{receive()} returns C{websocket.disconnect}
with the session's close code and reason once the messages received before
are taken, and C{send()} raises L{ClientDisconnected}; the grace period
then runs, and the task is cancelled if it is still running.  After the
application's own close or denial, C{receive()} returns
C{websocket.disconnect} too (with its code, or 1006 for a denial, as
browsers report one).

When the application ends: one that returned after accepting without
closing is closed with 1000; one that raised after accepting, with 1011
(the outcome is C{aborted}); one that ended before answering the handshake
is answered C{500 Internal Server Error}.  An exception that is the
disconnect surfacing (L{ClientDisconnected} from C{send()} or the grace
period's cancellation, as such or under a framework's exception) is not
logged as an error, as for HTTP.
"""

import asyncio

from twisted.logger import Logger, LogLevel
from twisted.python.failure import Failure

from gracehttp._apps.asgi.waiting import Waiters
from gracehttp._core.exchange import SERVER_ERROR_BODY, SERVER_ERROR_HEADERS
from gracehttp._core.session import CONNECTING, DENIED, OPEN
from gracehttp._errors import ClientDisconnected

_log = Logger()

EXTENSION = "websocket.http.response"
"""
The ASGI extension that lets an application deny a handshake with any HTTP
response (listed in the scope's C{extensions}).
"""

_FORBIDDEN = 403
_ABNORMAL_CLOSURE = 1006


def websocketScope(session, asgiInfo, rootPath, state, path):
    """
    The connection scope of a WebSocket session (ASGI WebSocket spec,
    "Websocket Connection Scope").

    @type session: L{Session<gracehttp._core.session.Session>}
    @param asgiInfo: the scope's C{asgi} entry.
    @param rootPath: the C{root_path}.
    @param state: a copy of the lifespan state.
    @param path: the decoded C{path}, under the root path.
    @rtype: L{dict}
    """
    return {
        "type": "websocket",
        "asgi": asgiInfo,
        "http_version": session.httpVersion,
        "scheme": session.scheme,
        "path": path,
        "raw_path": session.rawPath,
        "query_string": session.queryString,
        "root_path": rootPath,
        "headers": session.headers,
        "client": session.client,
        "server": session.server,
        "subprotocols": list(session.subprotocols),
        "state": state,
        "extensions": {EXTENSION: {}},
    }


async def runSession(app, scope, cycle, tasks):
    """
    Run the application for one session, then end what it left open, and
    tell the session, in the same task step as the application's last.

    @type cycle: L{SessionCycle}
    @param tasks: the adapter's running tasks, this one among them.
    @type tasks: L{set}
    """
    session = cycle.session
    try:
        await app(scope, cycle.receive, cycle.send)
    except (Exception, asyncio.CancelledError) as error:
        _report(error, session)
    else:
        _report(None, session)
    finally:
        tasks.discard(cycle.task)
        cycle.task = None
        session.appFinished()


def _report(error, session):
    """
    Log how an application ended and end what it left open.

    @param error: what it raised, or L{None} if it returned.
    @type session: L{Session<gracehttp._core.session.Session>}
    """
    from gracehttp._apps.asgi.adapter import _fromDisconnect

    if error is not None:
        if session.disconnected and _fromDisconnect(error):
            _log.info(
                "ASGI WebSocket application stopped after the client disconnected ({error})",
                error=type(error).__name__,
            )
            return
        _log.failure(
            "ASGI WebSocket application raised",
            Failure(error, type(error), error.__traceback__),
            level=LogLevel.error,
        )
    if session.ended:
        return
    if session.phase is CONNECTING:
        if error is None:
            _log.error("ASGI WebSocket application returned without answering the handshake")
        session.deny(500, SERVER_ERROR_HEADERS, SERVER_ERROR_BODY)
    elif error is None:
        session.close()
    else:
        session.abort()


class SessionCycle(Waiters):
    """
    The C{receive} and C{send} callables of one WebSocket session.

    As for HTTP, each wait has its own future, resolved by L{wake} (the
    session's wake callback), so that C{receive} and C{send} may wait at
    the same time.

    @ivar session: the session.
    @ivar task: the asyncio task running the application for it.
    @ivar _connected: C{websocket.connect} was returned.
    @ivar _denial: the status and headers of a C{websocket.http.response}
        denial, and its body so far, or L{None}.
    """

    __slots__ = ("_connected", "_denial", "session", "task")

    def __init__(self, session, loop):
        Waiters.__init__(self, loop)
        self.session = session
        self.task = None
        self._connected = False
        self._denial = None

    async def receive(self):
        """
        The next event: C{websocket.connect} first, then each message
        received, then C{websocket.disconnect} once the session ended.

        @rtype: L{dict}
        """
        if not self._connected:
            self._connected = True
            return {"type": "websocket.connect"}
        session = self.session
        while True:
            data = session.nextMessage()
            if data is not None:
                if type(data) is str:
                    return {"type": "websocket.receive", "text": data}
                return {"type": "websocket.receive", "bytes": data}
            if session.ended:
                code = session.closeCode
                return {
                    "type": "websocket.disconnect",
                    "code": _ABNORMAL_CLOSURE if code is None else code,
                    "reason": session.closeReason,
                }
            await self._wait()

    async def send(self, message):
        """
        Send an event: the handshake's answer, then messages and the
        close.  A message waits while the transport is above its
        high-water mark.

        @param message: the ASGI event.
        @type message: L{dict}
        @raise ClientDisconnected: the peer is gone (ASGI WebSocket spec,
            "Disconnected Client - send exception").
        @raise RuntimeError: the event is of an unknown type or out of
            order.
        @raise gracehttp._core.responsehead.InvalidResponse: a status,
            header or subprotocol cannot be sent.
        @raise ValueError: a close code may not be sent.
        """
        session = self.session
        if session.disconnected:
            raise ClientDisconnected("client disconnected")
        kind = message["type"]
        phase = session.phase
        if kind == "websocket.send" and phase is OPEN:
            session.send(_data(message))
            if session.writePaused:
                await self._waitForWriting()
        elif kind == "websocket.close" and phase is OPEN:
            session.close(message.get("code") or 1000, message.get("reason") or "")
        elif phase is CONNECTING:
            self._answer(kind, message)
        else:
            state = "denied" if phase is DENIED else "closed" if session.ended else phase
            raise RuntimeError(f"unexpected ASGI message {kind!r} (the WebSocket is {state})")

    def _answer(self, kind, message):
        """
        An event that answers the handshake.
        """
        session = self.session
        denial = self._denial
        if denial is not None:
            if kind != "websocket.http.response.body":
                raise RuntimeError(f"expected websocket.http.response.body, not {kind!r}")
            denial[2].append(message.get("body", b""))
            if not message.get("more_body", False):
                session.deny(denial[0], denial[1], b"".join(denial[2]))
        elif kind == "websocket.accept":
            session.accept(message.get("subprotocol"), message.get("headers") or ())
        elif kind == "websocket.close":
            session.deny(_FORBIDDEN)
        elif kind == "websocket.http.response.start":
            self._denial = (message.get("status"), message.get("headers") or (), [])
        else:
            raise RuntimeError(f"unexpected ASGI message {kind!r} before the handshake")

    async def _waitForWriting(self):
        """
        Wait while the transport is above its high-water mark.

        @raise ClientDisconnected: the peer left meanwhile.
        """
        session = self.session
        while session.writePaused and not session.disconnected:
            await self._wait()
        if session.disconnected:
            raise ClientDisconnected("client disconnected")


def _data(message):
    """
    The payload of a C{websocket.send} event: exactly one of C{bytes} and
    C{text} is not L{None}.

    @rtype: L{str} or L{bytes}
    @raise RuntimeError: neither or both are given, or of the wrong type.
    """
    data = message.get("bytes")
    text = message.get("text")
    if (data is None) == (text is None):
        raise RuntimeError("websocket.send needs exactly one of bytes and text")
    if text is not None:
        if type(text) is not str:
            raise RuntimeError(f"websocket.send text must be str, not {type(text).__name__}")
        return text
    if not isinstance(data, (bytes, bytearray, memoryview)):
        raise RuntimeError(f"websocket.send bytes must be bytes, not {type(data).__name__}")
    return data
