"""
From an HTTP/2 request's header list to what an L{Exchange} needs: the
rules of RFC 9113 section 8, and the same limits and checks as HTTP/1.1.

Theory of operation
===================

C{h2} is configured not to validate or normalise what it receives; every
rule is checked here, once, on the decoded field list, and a request that
breaks one never reaches an application: L{readRequest} raises
L{Refused} with the status to answer (400, 413, 431 or 501), and the
connection answers it on that stream alone (RFC 9113 section 8.1.1 makes
a malformed request a stream error; the server may answer it first).

  - pseudo-header fields (RFC 9113 section 8.3): only C{:method},
    C{:scheme}, C{:authority} and C{:path}, each at most once, all before
    the regular fields; C{:method}, C{:scheme} and C{:path} present (a
    C{CONNECT} request, which has none but C{:authority}, is answered 501:
    gracehttp does not tunnel).  C{:path} is origin-form, or C{*} for
    C{OPTIONS} (L{targetValid<gracehttp._protocols.syntax.targetValid>});
    a fragment is cut off as HTTP/1.1 does.
  - field names are lowercase tokens, values have no control character
    and no space at either end (RFC 9113 section 8.2.1).
  - connection-specific fields (C{Connection}, C{Keep-Alive},
    C{Proxy-Connection}, C{Transfer-Encoding}, C{Upgrade}) make a request
    malformed, and C{TE} may only say C{trailers} (RFC 9113 section
    8.2.2).
  - C{:authority} is a valid host (C{uri-host [":" port]}, no user
    information: L{validHost<gracehttp._protocols.syntax.validHost>});
    it becomes the application's C{Host} field when the request has none,
    and a C{Host} field that names another host makes the request
    malformed (RFC 9113 section 8.3.1).  At most one C{Host} field.
  - C{Cookie} fields are joined with C{"; "} into one (RFC 9113 section
    8.2.3), as an HTTP/1.1 application expects.
  - limits, counted as HTTP/1.1 counts them: more than
    C{limitRequestHeaders} fields, or a head (the C{:path} plus each
    field's name and value plus 4) over C{limitRequestHeaderSize} bytes:
    431.  A C{Content-Length} over C{limitRequestBody}: 413.  (C{h2}
    itself checks that C{Content-Length} is a number and that the body
    matches it, both as connection errors.)

Request trailers (L{checkTrailers}) follow the field rules, carry no
pseudo-header field, count against the same limits, and are discarded
(RFC 9110 section 6.5.1), as HTTP/1.1 discards them.
"""

from gracehttp._protocols.syntax import (
    fieldNameValid,
    fieldValueValid,
    isToken,
    schemeValid,
    targetValid,
    validHost,
)

CONNECTION_FIELDS = frozenset(
    [b"connection", b"keep-alive", b"proxy-connection", b"transfer-encoding", b"upgrade"]
)
"""
Fields that describe one connection, which HTTP/2 does not use: a request
with one is malformed (RFC 9113 section 8.2.2).
"""

_PSEUDO = frozenset([b":method", b":scheme", b":authority", b":path"])


class Refused(Exception):
    """
    A request the server answers itself.

    @ivar status: 400, 413, 431 or 501.
    @ivar reason: what was wrong, in a few words, for the log.
    @ivar head: what was read of the request before the refusal, for the
        access log: a L{RequestHead} with what is known.
    """

    def __init__(self, status, reason, head):
        Exception.__init__(self, status, reason)
        self.status = status
        self.reason = reason
        self.head = head


class RequestHead:
    """
    What an HTTP/2 request's header list says.

    @ivar method: e.g. C{b"GET"}; C{b""} if not read yet.
    @ivar path: the C{:path}, without a fragment; C{b""} if not read yet.
    @ivar scheme: the C{:scheme}, or L{None}.
    @ivar headers: the regular fields for the application: C{Host} (from
        C{:authority}) first if the request had none, C{Cookie} fields
        joined.
    @type headers: L{list} of (L{bytes}, L{bytes})
    @ivar contentLength: the C{Content-Length}, or L{None}.
    @ivar expectContinue: the client sent C{Expect: 100-continue}.
    @ivar trailers: the client accepts response trailers (C{TE: trailers}).
    """

    __slots__ = (
        "contentLength",
        "expectContinue",
        "headers",
        "method",
        "path",
        "scheme",
        "trailers",
    )

    def __init__(self):
        self.method = b""
        self.path = b""
        self.scheme = None
        self.headers = []
        self.contentLength = None
        self.expectContinue = False
        self.trailers = False


def readRequest(fields, limitSize, limitFields, limitBody):
    """
    Check an HTTP/2 request's decoded header list (see the module
    docstring) and read it.

    @param fields: the header list, in order, as HPACK decoded it.
    @type fields: iterable of (L{bytes}, L{bytes})
    @param limitSize: C{limitRequestHeaderSize}, in bytes.
    @param limitFields: C{limitRequestHeaders}.
    @param limitBody: C{limitRequestBody}, in bytes, or L{None}.
    @rtype: L{RequestHead}
    @raise Refused: the request is malformed or over a limit.
    """
    head = RequestHead()
    pseudo = {}
    regular = head.headers
    size = 0
    host = cookie = None
    for name, value in fields:
        if name[:1] == b":":
            if regular or name not in _PSEUDO or name in pseudo:
                raise Refused(400, "misplaced, unknown or repeated pseudo-header field", head)
            pseudo[name] = value
            continue
        if not fieldNameValid(name) or not fieldValueValid(value):
            raise Refused(400, "invalid field name or value", head)
        size += len(name) + len(value) + 4
        if name in CONNECTION_FIELDS or (name == b"te" and value.lower() != b"trailers"):
            raise Refused(400, "connection-specific field", head)
        if name == b"host":
            if host is not None:
                raise Refused(400, "more than one Host field", head)
            host = value
        elif name == b"cookie":
            if cookie is not None:
                # RFC 9113 section 8.2.3: one field for the application.
                regular[cookie] = (name, regular[cookie][1] + b"; " + value)
                continue
            cookie = len(regular)
        elif name == b"content-length":
            if not value.isdigit():
                raise Refused(400, "invalid Content-Length", head)
            head.contentLength = int(value)
        elif name == b"te":
            head.trailers = True
        elif name == b"expect" and value.lower() == b"100-continue":
            head.expectContinue = True
        regular.append((name, value))
    _readPseudo(head, pseudo)
    authority = pseudo.get(b":authority")
    if authority is not None:
        _checkAuthority(head, authority, host)
    if len(regular) > limitFields or size + len(head.path) > limitSize:
        raise Refused(431, "head over the limit", head)
    if limitBody is not None and head.contentLength is not None and head.contentLength > limitBody:
        raise Refused(413, "Content-Length over the limit", head)
    return head


def _readPseudo(head, pseudo):
    """
    Check the request's pseudo-header fields and keep them in C{head}.

    @type head: L{RequestHead}
    @param pseudo: the pseudo-header fields, by name.
    @type pseudo: L{dict}
    @raise Refused: one is missing or invalid, or the request is a
        C{CONNECT} (501).
    """
    method = pseudo.get(b":method")
    if method is None or not isToken(method):
        raise Refused(400, "missing or invalid :method", head)
    head.method = method
    path = pseudo.get(b":path")
    if path is not None:
        # Not part of a request target (RFC 9112 section 3.2).
        head.path = path.partition(b"#")[0]
    if method == b"CONNECT":
        raise Refused(501, "CONNECT is not supported", head)
    scheme = pseudo.get(b":scheme")
    if scheme is None or path is None or not schemeValid(scheme):
        raise Refused(400, "missing or invalid :scheme or :path", head)
    head.scheme = scheme
    if not targetValid(head.path, method):
        raise Refused(400, "invalid :path", head)


def _checkAuthority(head, authority, host):
    """
    Check C{:authority} against the C{Host} rule, and give the application
    a C{Host} field from it if the request had none.

    @type head: L{RequestHead}
    @param authority: the C{:authority} value.
    @param host: the C{Host} field's value, or L{None}.
    @raise Refused: C{:authority} is not a valid host, or C{Host} names
        another.
    """
    if not authority or not validHost(authority):
        raise Refused(400, "invalid :authority", head)
    if host is None:
        head.headers.insert(0, (b"host", authority))
    elif host.lower() != authority.lower():
        raise Refused(400, "Host differs from :authority", head)


def checkTrailers(fields, limitSize, limitFields):
    """
    Check a request's trailer section (see the module docstring).

    @param fields: the trailer fields as HPACK decoded them.
    @param limitSize: C{limitRequestHeaderSize}, in bytes.
    @param limitFields: C{limitRequestHeaders}.
    @return: L{None} if they are acceptable, else what is wrong.
    @rtype: L{str} or L{None}
    """
    size = count = 0
    for name, value in fields:
        if not fieldNameValid(name) or not fieldValueValid(value):
            return "invalid trailer field"
        if name in CONNECTION_FIELDS:
            return "connection-specific trailer field"
        size += len(name) + len(value) + 4
        count += 1
    if count > limitFields or size > limitSize:
        return "trailers over the limit"
    return None
