"""
The protocol switch that takes WebSocket upgrade requests over from
HTTP/1.1, and the settings of the WebSocket layer.

Theory of operation
===================

The HTTP/1.1 factory holds one L{WebSocketSwitch} when WebSockets are on
(C{--ws}; an ASGI application).  Each upgrade request it is offered
(L{IProtocolSwitch<gracehttp._protocols.http11.upgrade.IProtocolSwitch>})
is taken over if it is a WebSocket opening handshake
(L{isWebSocketUpgrade<gracehttp._protocols.websocket.handshake.isWebSocketUpgrade>}),
with a new L{WebSocketConnection}; any other upgrade is declined and
answered as plain HTTP by the application.  A WebSocket handshake that is
malformed is taken over too, and refused by the connection (400 or 426)
without reaching the application.

The request stays counted in flight by the server state from its head to
the end of the session; the connection reports the session, with its own
access log record, when the application is done with it.
"""

from dataclasses import dataclass, fields

from zope.interface import implementer

from gracehttp._config import DEFAULTS
from gracehttp._protocols.http11.upgrade import IProtocolSwitch
from gracehttp._protocols.websocket.connection import WebSocketConnection
from gracehttp._protocols.websocket.handshake import (
    BadHandshake,
    isWebSocketUpgrade,
    readOpening,
)


@dataclass(frozen=True)
class WebSocketSettings:
    """
    How the WebSocket layer treats peers.  Every field but L{timeoutClose}
    is the setting of the same name (see L{gracehttp._config.Config}),
    with its default: sizes in bytes, times in seconds.

    @ivar timeoutClose: not a setting: seconds a close may take (the
        peer's answering close frame, the TCP close, over TLS the
        C{close_notify}) before the connection is aborted; the HTTP
        layer's, for the same reasons
        (L{HTTPSettings<gracehttp._settings.HTTPSettings>}).
    """

    wsMaxSize: int = DEFAULTS["wsMaxSize"]
    wsPingInterval: float = DEFAULTS["wsPingInterval"]
    wsPingTimeout: float = DEFAULTS["wsPingTimeout"]
    wsPerMessageDeflate: bool = DEFAULTS["wsPerMessageDeflate"]
    disconnectGracePeriod: float = DEFAULTS["disconnectGracePeriod"]
    timeoutClose: float = 15.0

    @classmethod
    def fromConfig(cls, config):
        """
        The WebSocket layer's settings in C{config}.

        @type config: L{Config<gracehttp._config.Config>}
        @rtype: L{WebSocketSettings}
        """
        return cls(
            **{f.name: getattr(config, f.name) for f in fields(cls) if f.name != "timeoutClose"}
        )


@implementer(IProtocolSwitch)
class WebSocketSwitch:
    """
    Takes WebSocket opening handshakes over (see the module docstring).

    @ivar adapter: runs the application's sessions.
    @type adapter: L{ISessionAdapter<gracehttp._core.interfaces.ISessionAdapter>}
    @ivar route: gives the adapter of an upgrade request's session, or
        L{None} when the application it is routed to has no WebSockets
        (a WSGI mount: the request is answered as plain HTTP).
    @type route: callable taking an
        L{Exchange<gracehttp._core.exchange.Exchange>}
    @ivar reactor: the clock of pings, closes and grace periods.
    @ivar serverState: what sessions are reported to.
    @type serverState: L{IServerState<gracehttp._core.serverstate.IServerState>}
    @ivar settings: the limits and timeouts.
    @type settings: L{WebSocketSettings}
    """

    def __init__(self, adapter, reactor, serverState, settings=None, route=None):
        """
        @param settings: L{None} for the defaults.
        @param route: L{None} to give every session to C{adapter}.
        """
        self.adapter = adapter
        self.route = (lambda request: adapter) if route is None else route
        self.reactor = reactor
        self.serverState = serverState
        self.settings = WebSocketSettings() if settings is None else settings

    def takeOver(self, request):
        """
        A L{WebSocketConnection} for a WebSocket opening handshake, or
        L{None} for another upgrade.

        @type request: L{Exchange<gracehttp._core.exchange.Exchange>}
        @rtype: L{WebSocketConnection} or L{None}
        """
        if not isWebSocketUpgrade(request):
            return None
        adapter = self.route(request)
        if adapter is None:
            return None
        try:
            opening = readOpening(request)
        except BadHandshake as bad:
            opening = bad
        return WebSocketConnection(self, request, opening, adapter)
