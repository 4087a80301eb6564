"""
What an application may put in a response head, on every interface: the
status range, header names and values that cannot split the response, and
the hop-by-hop rule (the server owns the connection and the framing).
Likewise for response trailers (L{checkTrailers}), which HTTP/2 sends.
"""

import re

from twisted.logger import Logger

_log = Logger()

TOKEN_CHARS = b"!#$%&'*+-.^_`|~0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
"""
The characters of an RFC 9110 section 5.6.2 token (C{tchar}).  A header
name is a token if deleting these characters from it leaves nothing.
"""

# A header value must not contain CR, LF or NUL (RFC 9110 section 5.5),
# which would let an application split the response.
_unsafeValue = re.compile(rb"[\r\n\0]").search

HOP_BY_HOP = frozenset(
    [
        b"connection",
        b"keep-alive",
        b"proxy-connection",
        b"te",
        b"trailer",
        b"transfer-encoding",
        b"upgrade",
    ]
)
"""
Response fields that describe one connection, not the response (RFC 9110
section 7.6.1; RFC 9113 section 8.2.2 forbids them in HTTP/2): the server
owns the connection and the framing, so an application's are not sent,
on either interface.  C{Connection: close} is honoured (the connection
closes after the response, as gunicorn and uvicorn do); the others are
dropped.  Each name is logged once per process, as a warning, the first
time an application sends it.
"""

NOT_IN_TRAILERS = HOP_BY_HOP | frozenset(
    [
        b"authorization",
        b"content-encoding",
        b"content-length",
        b"content-range",
        b"content-type",
        b"host",
        b"set-cookie",
    ]
)
"""
Fields a response trailer section must not carry (RFC 9110 section
6.5.1: framing, routing, authentication, content metadata, and the
hop-by-hop fields): L{checkTrailers} drops them.
"""

_warnedHopByHop: set[bytes] = set()


class InvalidResponse(ValueError):
    """
    The application's response cannot be sent as given (bad status, a header
    with CR/LF/NUL, a second start).  The adapter answers 500 instead.
    """


def checkResponseHead(status, headers):
    """
    Check an application's response status and headers.

    @param status: HTTP status code, 100-599 (RFC 9110 section 15).
    @type status: L{int}
    @param headers: response header fields in order.
    @type headers: iterable of (L{bytes}, L{bytes})
    @return: the fields to send, names lowercased, without the
        L{HOP_BY_HOP} ones; and whether the application asked for
        C{Connection: close}.
    @rtype: L{tuple} of (L{list} of (L{bytes}, L{bytes}), L{bool})
    @raise InvalidResponse: the status is out of range, a header name is
        not a token, a value contains CR, LF or NUL, or a Content-Length is
        not a decimal number.
    """
    if type(status) is not int or not 100 <= status <= 599:
        raise InvalidResponse(f"invalid status {status!r}")
    checked = []
    append = checked.append
    close = False
    for name, value in headers:
        try:
            unsafe = name.translate(None, TOKEN_CHARS) or not name or _unsafeValue(value)
        except TypeError:
            raise InvalidResponse(f"header {name!r}: {value!r} is not bytes") from None
        if unsafe:
            raise InvalidResponse(f"invalid header {name!r}: {value!r}")
        name = name.lower()
        if name in HOP_BY_HOP:
            close = _hopByHop(name, value) or close
            continue
        if name == b"content-length" and not value.isdigit():
            raise InvalidResponse(f"invalid content-length {value!r}")
        append((name, value))
    return checked, close


def checkTrailers(fields):
    """
    Check an application's response trailer fields (ASGI
    C{http.response.trailers}).

    @param fields: trailer fields in order.
    @type fields: iterable of (L{bytes}, L{bytes})
    @return: the fields to send, names lowercased, without those of
        L{NOT_IN_TRAILERS}.
    @rtype: L{list} of (L{bytes}, L{bytes})
    @raise InvalidResponse: a name is not a token or a value contains CR,
        LF or NUL.
    """
    checked = []
    for name, value in fields:
        try:
            unsafe = name.translate(None, TOKEN_CHARS) or not name or _unsafeValue(value)
        except TypeError:
            raise InvalidResponse(f"trailer {name!r}: {value!r} is not bytes") from None
        if unsafe:
            raise InvalidResponse(f"invalid trailer {name!r}: {value!r}")
        name = name.lower()
        if name not in NOT_IN_TRAILERS:
            checked.append((name, value))
    return checked


def _hopByHop(name, value):
    """
    Apply L{HOP_BY_HOP}'s rule to one of the application's fields.

    @type name: L{bytes}
    @type value: L{bytes}
    @return: whether it is a C{Connection} field with the C{close} option.
    @rtype: L{bool}
    """
    if name not in _warnedHopByHop:
        _warnedHopByHop.add(name)
        _log.warn(
            "The application sent the hop-by-hop response header {name!r}; "
            "gracehttp does not pass it on (the server owns the connection{close})",
            name=name.decode("latin-1"),
            close="; 'connection: close' is honoured" if name == b"connection" else "",
        )
    return name == b"connection" and b"close" in [
        token.strip() for token in value.lower().split(b",")
    ]
