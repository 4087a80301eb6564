"""
The states of a WebSocket connection, and the close codes (RFC 6455
section 7.4.1) the server gives itself.

A connection is C{CONNECTING} (the application decides), C{OPEN}
(accepted: frames flow), C{CLOSING} (a close is under way: ours or the
peer's close frame was sent, or the server gave up) and C{CLOSED} (the
connection is lost).
"""

CONNECTING = "CONNECTING"
OPEN = "OPEN"
CLOSING = "CLOSING"
CLOSED = "CLOSED"

ABNORMAL_CLOSURE = 1006
"""
The code a session is told when the connection was lost without a close
frame (RFC 6455 section 7.1.5).
"""

MESSAGE_TOO_BIG = 1009
INTERNAL_ERROR = 1011
SERVICE_RESTART = 1012
