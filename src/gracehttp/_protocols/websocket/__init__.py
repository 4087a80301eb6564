"""
WebSockets (RFC 6455) on wsproto, taken over from HTTP/1.1 at an
C{Upgrade: websocket} request: the switch (L{switch}), the opening
handshake (L{handshake}), the connection (L{connection}) and its parts:
the handshake until the application decides (L{pending}), the states
(L{states}), the close (L{closing}) and the pings (L{pinger}); the size
limit and permessage-deflate (L{extensions}).  Each session is a
L{Session<gracehttp._core.session.Session>}, run by an
L{ISessionAdapter<gracehttp._core.interfaces.ISessionAdapter>}.
"""

from gracehttp._protocols.websocket.connection import WebSocketConnection
from gracehttp._protocols.websocket.switch import WebSocketSettings, WebSocketSwitch

__all__ = ["WebSocketConnection", "WebSocketSettings", "WebSocketSwitch"]
