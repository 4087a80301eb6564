"""
The server side of the WebSocket opening handshake (RFC 6455 section 4),
from an upgrade request HTTP/1.1 has already parsed: which requests are
WebSocket ones, what they ask for, and the responses that answer them.

Theory of operation
===================

A request is a WebSocket opening handshake (L{isWebSocketUpgrade}) when it
is an HTTP/1.1 C{GET} whose C{Upgrade} field lists C{websocket} (RFC 6455
section 4.2.1 items 1 and 3, compared without case); llhttp has already
checked C{Connection: upgrade}, C{Host} and the absence of a body.  Any
other upgrade request is not ours: HTTP/1.1 answers it as plain HTTP.

L{readOpening} then reads what it asks for, or refuses it with the status
RFC 6455 gives: C{426 Upgrade Required} with C{Sec-WebSocket-Version: 13}
for another protocol version (section 4.4), C{400 Bad Request} for a
missing or malformed C{Sec-WebSocket-Key} (section 4.2.1 item 5).  The
subprotocols and extension offers are lists of comma-separated values
over every field of that name, as wsproto reads them (an extension
parameter with a quoted comma is not supported).

The responses: L{switchingHead} (C{101 Switching Protocols} with the
C{Sec-WebSocket-Accept} value of section 4.2.2 item 5.4) and
L{httpResponse} (a complete response that closes the connection, for a
denial or a refusal).
"""

import base64
import binascii
import hashlib
from http import HTTPStatus

GUID = b"258EAFA5-E914-47DA-95CA-C5AB0DC85B11"
"""
The globally unique identifier of RFC 6455 section 1.3, appended to the
client's key to make C{Sec-WebSocket-Accept}.
"""

VERSION = b"13"
"""
The one C{Sec-WebSocket-Version} RFC 6455 defines.
"""


class BadHandshake(Exception):
    """
    A WebSocket opening handshake that cannot be accepted.

    @ivar status: the HTTP status to answer: 400 or 426.
    @ivar headers: more response fields, e.g. C{Sec-WebSocket-Version}.
    @type headers: L{list} of (L{bytes}, L{bytes})
    """

    def __init__(self, status, message, headers=()):
        super().__init__(message)
        self.status = status
        self.headers = list(headers)


class Opening:
    """
    What a WebSocket opening handshake asks for.

    @ivar key: the C{Sec-WebSocket-Key} value.
    @type key: L{bytes}
    @ivar subprotocols: the C{Sec-WebSocket-Protocol} values, in order.
    @type subprotocols: L{list} of L{str}
    @ivar extensions: the C{Sec-WebSocket-Extensions} offers, in order,
        each an extension name with its parameters.
    @type extensions: L{list} of L{str}
    """

    __slots__ = ("extensions", "key", "subprotocols")

    def __init__(self, key, subprotocols, extensions):
        self.key = key
        self.subprotocols = subprotocols
        self.extensions = extensions


def _values(value):
    """
    The comma-separated values of a field, stripped, without empty ones.

    @type value: L{bytes}
    @rtype: L{list} of L{str}
    """
    return [part.strip() for part in value.decode("latin-1").split(",") if part.strip()]


def isWebSocketUpgrade(request):
    """
    Is C{request} a WebSocket opening handshake (an HTTP/1.1 C{GET} with
    C{websocket} among its C{Upgrade} protocols)?

    @type request: L{Exchange<gracehttp._core.exchange.Exchange>}
    @rtype: L{bool}
    """
    if request.method != "GET" or request.httpVersion != "1.1":
        return False
    for name, value in request.headers:
        if name == b"upgrade" and "websocket" in _values(value.lower()):
            return True
    return False


def readOpening(request):
    """
    Read what a WebSocket opening handshake asks for.

    @param request: a request L{isWebSocketUpgrade} accepted.
    @type request: L{Exchange<gracehttp._core.exchange.Exchange>}
    @rtype: L{Opening}
    @raise BadHandshake: its version is not 13 (426), or its key is
        missing, repeated or not 16 bytes in base64 (400).
    """
    keys = []
    versions = []
    subprotocols = []
    extensions = []
    for name, value in request.headers:
        if name == b"sec-websocket-key":
            keys.append(value)
        elif name == b"sec-websocket-version":
            versions.append(value.strip())
        elif name == b"sec-websocket-protocol":
            subprotocols.extend(_values(value))
        elif name == b"sec-websocket-extensions":
            extensions.extend(_values(value))
    if versions != [VERSION]:
        raise BadHandshake(
            426,
            "WebSocket version 13 is required",
            [(b"sec-websocket-version", VERSION)],
        )
    if len(keys) != 1:
        raise BadHandshake(400, "one Sec-WebSocket-Key field is required")
    key = keys[0].strip()
    try:
        valid = len(base64.b64decode(key, validate=True)) == 16
    except (binascii.Error, ValueError):
        valid = False
    if not valid:
        raise BadHandshake(400, "Sec-WebSocket-Key must be 16 bytes in base64")
    return Opening(key, subprotocols, extensions)


def acceptValue(key):
    """
    The C{Sec-WebSocket-Accept} value for a client's key (RFC 6455
    section 4.2.2 item 5.4).

    @type key: L{bytes}
    @rtype: L{bytes}
    """
    return base64.b64encode(hashlib.sha1(key + GUID).digest())


def _statusLine(status):
    try:
        phrase = HTTPStatus(status).phrase
    except ValueError:
        phrase = ""
    return b"HTTP/1.1 %d %s\r\n" % (status, phrase.encode("ascii"))


def _fields(headers, date):
    """
    The header lines of C{headers}, then the C{date} line unless the
    application gave a C{date} field.
    """
    lines = [name + b": " + value + b"\r\n" for name, value in headers]
    if not any(name == b"date" for name, _ in headers):
        lines.append(date)
    return b"".join(lines)


def switchingHead(accept, subprotocol, extensions, headers, date):
    """
    The C{101 Switching Protocols} response that completes the handshake
    (RFC 6455 section 4.2.2 item 5).

    @param accept: the L{acceptValue}.
    @type accept: L{bytes}
    @param subprotocol: the C{Sec-WebSocket-Protocol} value, or L{None}.
    @type subprotocol: L{str} or L{None}
    @param extensions: the C{Sec-WebSocket-Extensions} value, or L{None}.
    @type extensions: L{bytes} or L{None}
    @param headers: the application's fields, checked.
    @type headers: L{list} of (L{bytes}, L{bytes})
    @param date: the C{date} header line, CRLF-terminated (not sent if
        C{headers} has one).
    @type date: L{bytes}
    @rtype: L{bytes}
    """
    lines = [
        b"HTTP/1.1 101 Switching Protocols\r\n"
        b"upgrade: websocket\r\n"
        b"connection: Upgrade\r\n"
        b"sec-websocket-accept: " + accept + b"\r\n"
    ]
    if subprotocol is not None:
        lines.append(b"sec-websocket-protocol: " + subprotocol.encode("ascii") + b"\r\n")
    if extensions is not None:
        lines.append(b"sec-websocket-extensions: " + extensions + b"\r\n")
    lines.append(_fields(headers, date))
    lines.append(b"\r\n")
    return b"".join(lines)


def httpResponse(status, headers, body, date):
    """
    A complete HTTP/1.1 response after which the connection closes: a
    denied or refused handshake.

    @param status: 200-599.
    @type status: L{int}
    @param headers: its fields, checked, without C{content-length} and
        C{connection} (added here).
    @type headers: L{list} of (L{bytes}, L{bytes})
    @type body: L{bytes}
    @param date: the C{date} header line, CRLF-terminated (not sent if
        C{headers} has one).
    @type date: L{bytes}
    @rtype: L{bytes}
    """
    return b"".join(
        [
            _statusLine(status),
            _fields(headers, date),
            b"content-length: %d\r\n" % len(body),
            b"connection: close\r\n",
            b"\r\n",
            body,
        ]
    )
