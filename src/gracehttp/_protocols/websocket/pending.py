"""
A WebSocket connection before its application decides: the session made
from the upgrade request, a malformed handshake refused, what the client
sends early held, the handshake accepted.

Theory of operation
===================

The HTTP/1.1 channel hands the connection over
(L{gracehttp._protocols.http11.upgrade}): L{WebSocketConnection
<gracehttp._protocols.websocket.connection.WebSocketConnection>} is
connected to the transport, makes the session, and its
L{PendingHandshake} fills the session in from the upgrade request and
hands it to the adapter (the application decides the handshake).  A
handshake L{readOpening<gracehttp._protocols.websocket.handshake.readOpening>}
refused is answered here (400 or 426) without reaching the application,
and logged with the C{rejected} outcome.

Until the application accepts, what the client sends (nothing, if it
follows RFC 6455 section 4.1) is held (L{PendingHandshake.hold}), and past
L{HOLD_SIZE} bytes the connection pauses the transport; it is parsed once
the handshake is accepted.  Accepting negotiates the extensions (the
message size limit, permessage-deflate:
L{negotiate<gracehttp._protocols.websocket.extensions.negotiate>}) and
gives the C{101} response's head (L{PendingHandshake.accept}).
"""

from gracehttp._core.exchange import REJECTED
from gracehttp._protocols.websocket.extensions import negotiate
from gracehttp._protocols.websocket.handshake import BadHandshake, acceptValue, switchingHead

HOLD_SIZE = 16 * 1024
"""
Bytes a client may send before its handshake is accepted before the
transport is paused.
"""


class PendingHandshake:
    """
    The opening handshake of one WebSocket connection, until its
    application decides (see the module docstring).

    @ivar _switch: what made the connection: the server state and
        settings.
    @type _switch: L{WebSocketSwitch
        <gracehttp._protocols.websocket.switch.WebSocketSwitch>}
    @ivar _request: the upgrade request.
    @type _request: L{Exchange<gracehttp._core.exchange.Exchange>}
    @ivar _opening: what its handshake asks for, or why it is refused.
    @type _opening: L{Opening<gracehttp._protocols.websocket.handshake.Opening>}
        or L{BadHandshake}
    @ivar _early: what the client sent before the handshake was accepted.
    @ivar _earlySize: its size, in bytes.
    """

    __slots__ = ("_early", "_earlySize", "_opening", "_request", "_switch")

    def __init__(self, switch, request, opening):
        """
        @param switch: see L{_switch}.
        @param request: see L{_request}.
        @param opening: see L{_opening}.
        """
        self._switch = switch
        self._request = request
        self._opening = opening
        self._early = []
        self._earlySize = 0

    def start(self, session, adapter):
        """
        Fill C{session} in from the upgrade request, then refuse a
        malformed handshake or hand the session to C{adapter}.

        @type session: L{Session<gracehttp._core.session.Session>}
        @type adapter: L{ISessionAdapter<gracehttp._core.interfaces.ISessionAdapter>}
        """
        request = self._request
        session.startTime = request.startTime
        session.method = request.method
        session.rawPath = request.rawPath
        session.queryString = request.queryString
        session.httpVersion = request.httpVersion
        session.headers = request.headers
        session.client = request.client
        session.server = request.server
        session.mount = request.mount
        session.scheme = "wss" if request.scheme in ("https", "wss") else "ws"
        opening = self._opening
        if isinstance(opening, BadHandshake):
            self._refuse(session, opening)
            return
        session.subprotocols = opening.subprotocols
        adapter.handleSession(session)

    def _refuse(self, session, bad):
        """
        Answer a handshake that cannot be accepted (400, 426) without the
        application, and log it as rejected.

        @type bad: L{BadHandshake}
        """
        body = f"Bad WebSocket handshake: {bad}\n".encode()
        session.deny(bad.status, bad.headers, body)
        session.outcome = REJECTED
        session.appFinished()

    def hold(self, data):
        """
        Keep what the client sent before its handshake is accepted.

        @type data: L{bytes}
        @return: whether more than L{HOLD_SIZE} bytes are held (the
            transport is to be paused).
        @rtype: L{bool}
        """
        self._early.append(data)
        self._earlySize += len(data)
        return self._earlySize > HOLD_SIZE

    def accept(self, subprotocol, headers):
        """
        The application accepted the handshake: negotiate the extensions.

        @param subprotocol: the subprotocol chosen, or L{None}.
        @param headers: more response fields from the application.
        @return: the C{101} response's head, wsproto's extensions, the
            permessage-deflate extension (or L{None}), and what the client
            sent early (given up here).
        @rtype: L{tuple}
        """
        settings = self._switch.settings
        opening = self._opening
        extensions, deflate, offered = negotiate(
            opening.extensions, settings.wsPerMessageDeflate, settings.wsMaxSize
        )
        head = switchingHead(
            acceptValue(opening.key),
            subprotocol,
            offered,
            headers,
            self._switch.serverState.dateHeader(),
        )
        early = b"".join(self._early)
        self._early = []
        self._earlySize = 0
        return head, extensions, deflate, early
