"""
The parts of RFC 9112 and RFC 9110 request syntax that C{httptools}
(llhttp) leaves to L{gracehttp._protocols.http11}: the C{Host} field, transfer codings,
chunk-size lines with their extensions, methods it does not know, and
finding where a request head ends in bytes llhttp has already accepted.

Each check runs on bytes llhttp has parsed (or is about to be given), so
these are small and exact: they never have to re-validate what llhttp
already refuses.

HTTP/2 (L{gracehttp._protocols.http2}) has no llhttp: its field names,
field values, methods, schemes and request targets arrive as HPACK
decoded them, and are checked here too (L{fieldNameValid},
L{fieldValueValid}, L{isToken}, L{schemeValid}, L{targetValid}), with the
same C{Host} rule (L{validHost}).
"""

import ipaddress
import re

import httptools

CHUNK_LINE_LIMIT = 4096
"""
Bytes accepted in one chunk-size line (the size, its extensions and CRLF,
RFC 9112 section 7.1); a longer line is answered 400.  Chunk extensions are
read and discarded, so a line needs no more than a few signatures' worth.
"""

_TCHAR = rb"!#$%&'*+\-.^_`|~0-9A-Za-z"
_TOKEN = rb"[" + _TCHAR + rb"]+"
# RFC 9110 section 5.6.4: DQUOTE *( qdtext / quoted-pair ) DQUOTE.
_QUOTED = rb'"(?:[\t !#-\[\]-~\x80-\xff]|\\[\t -~\x80-\xff])*"'
_PARAMETER = rb"[ \t]*;[ \t]*" + _TOKEN + rb"[ \t]*=[ \t]*(?:" + _TOKEN + rb"|" + _QUOTED + rb")"

# RFC 9112 section 7.1.1: chunk-size [ chunk-ext ] CRLF, where
# chunk-ext = *( BWS ";" BWS chunk-ext-name [ BWS "=" BWS chunk-ext-val ] ).
_chunkLine = re.compile(
    rb"([0-9A-Fa-f]+)(?:[ \t]*;[ \t]*"
    + _TOKEN
    + rb"(?:[ \t]*=[ \t]*(?:"
    + _TOKEN
    + rb"|"
    + _QUOTED
    + rb"))?)*\r\n"
).fullmatch

# RFC 9112 section 7: transfer-coding = token *( OWS ";" OWS
# transfer-parameter ).
_transferCoding = re.compile(_TOKEN + rb"(?:" + _PARAMETER + rb")*").fullmatch

# RFC 9112 section 3.2 and RFC 3986 section 3.2.2: uri-host [ ":" port ],
# uri-host = IP-literal / IPv4address / reg-name (an IPv4 address is a
# reg-name syntactically).  Group 1 is an IP-literal's content.
_SUBDELIMS = rb"!$&'()*+,;="
_host = re.compile(
    rb"(?:\[([0-9A-Fa-f:.]+|[vV][0-9A-Fa-f]+\.[A-Za-z0-9\-._~"
    + _SUBDELIMS
    + rb":]+)\]|(?:[A-Za-z0-9\-._~"
    + _SUBDELIMS
    + rb"]|%[0-9A-Fa-f]{2})*)(?::[0-9]*)?"
).fullmatch

# The authority of an absolute-form request target (RFC 9112 section
# 3.2.2; RFC 3986 section 3).
_authority = re.compile(rb"[A-Za-z][A-Za-z0-9+.\-]*://([^/?#]*)").match

# RFC 9112 section 3: method SP request-target SP HTTP-version CRLF.
_requestLine = re.compile(_TOKEN + rb" [\x21-\x7e]+ HTTP/[0-9]\.[0-9]\r\n").fullmatch
_methodPrefix = re.compile(rb"[" + _TCHAR + rb"]*").match

# RFC 9113 section 8.2.1: a field name is a token in lowercase.
_LOWER_TOKEN_CHARS = b"!#$%&'*+-.^_`|~0123456789abcdefghijklmnopqrstuvwxyz"
_TOKEN_CHARS = _LOWER_TOKEN_CHARS + b"ABCDEFGHIJKLMNOPQRSTUVWXYZ"

# RFC 9110 section 5.5 and RFC 9113 section 8.2.1: a field value is
# visible characters (and obs-text) with spaces and tabs inside, never at
# either end, and no other control character.
_fieldValue = re.compile(rb"(?:[!-~\x80-\xff](?:[\t -~\x80-\xff]*[!-~\x80-\xff])?)?").fullmatch

# RFC 3986 section 3.1: scheme = ALPHA *( ALPHA / DIGIT / "+" / "-" / "." ).
_scheme = re.compile(rb"[A-Za-z][A-Za-z0-9+.\-]*").fullmatch

# An origin-form request target (RFC 9112 section 3.2.1) as llhttp accepts
# one: "/" then visible ASCII characters.
_originTarget = re.compile(rb"/[!-~]*").fullmatch

NOT_HTTP_METHOD = "Invalid method for HTTP/x.x request"
"""
How llhttp refuses a method it knows from RTSP (C{DESCRIBE}, C{PLAY}...)
in an HTTP request, once it has read the request line up to the version: a
token, so answered 501 like any method we do not implement.
"""


def validHost(value):
    """
    Whether C{value} is a valid C{Host} field value (RFC 9112 section 3.2):
    C{uri-host [ ":" port ]}, where the host is a registered name (possibly
    empty), an IPv4 address or a bracketed IPv6 address or IPvFuture
    (RFC 3986 section 3.2.2).

    @param value: the field's value as llhttp gives it: without leading
        whitespace, but with any trailing whitespace (OWS, RFC 9112 section
        5), which is not part of it.
    @type value: L{bytes}
    @rtype: L{bool}
    """
    match = _host(value.rstrip(b" \t"))
    if match is None:
        return False
    literal = match.group(1)
    if literal is None or literal[:1] in b"vV":
        return True
    try:
        ipaddress.IPv6Address(literal.decode("ascii"))
    except ValueError:
        return False
    return True


def targetAuthority(target):
    """
    The authority (C{host[:port]}) of an absolute-form request target, which
    an origin server uses in place of the C{Host} field (RFC 9112 section
    3.2.2).

    @param target: a request target that does not start with C{/}.
    @type target: L{bytes}
    @return: the authority, or L{None} if the target has none or it is not
        a valid non-empty host (a user name in it is not: RFC 9110 section
        4.2.4).
    @rtype: L{bytes} or L{None}
    """
    match = _authority(target)
    if match is None:
        return None
    authority = match.group(1)
    if not authority or authority[:1] == b":" or not validHost(authority):
        return None
    return authority


def transferCodingStatus(value):
    """
    Judge a request's C{Transfer-Encoding} (all its fields, joined by
    commas).  Chunked must be the final coding and appear once, or the body
    length cannot be known: 400 (RFC 9112 section 6.3).  Any coding before
    it is one we do not decode: 501 (RFC 9112 section 6.1).

    @type value: L{bytes}
    @return: L{None} when the value is exactly C{chunked} (empty list
        elements aside, RFC 9110 section 5.6.1), else 400 or 501.
    @rtype: L{int} or L{None}
    """
    codings = [coding.strip(b" \t") for coding in value.split(b",")]
    codings = [coding.lower() for coding in codings if coding]
    if not codings or codings[-1] != b"chunked":
        return 400
    others = codings[:-1]
    if not others:
        return None
    if b"chunked" in others or not all(_transferCoding(coding) for coding in others):
        return 400
    return 501


def chunkSize(line):
    """
    Check one chunk-size line (RFC 9112 section 7.1.1) and take its size.

    @param line: the line, up to and including its LF, at most
        L{CHUNK_LINE_LIMIT} bytes.
    @type line: L{bytes}
    @return: the size's hexadecimal digits as sent, or L{None} if the line
        is invalid (bad size, bad extension, bare LF).
    @rtype: L{bytes} or L{None}
    """
    match = _chunkLine(line)
    return None if match is None else match.group(1)


def methodStatus(head):
    """
    The answer to a request whose method llhttp refused, from the bytes of
    the request so far: 501 (RFC 9110 section 15.6.2) if the method is a
    token (RFC 9110 section 9.1) in a well-formed request line, 400 if the
    line is not, or L{None} if the line is not complete yet and its method
    could still be a token.

    @param head: the request's bytes from its first one.
    @type head: L{bytes}
    @rtype: L{int} or L{None}
    """
    end = _methodPrefix(head).end()
    if (end == 0 and head) or (end < len(head) and head[end] != 0x20):
        return 400
    newline = head.find(b"\n")
    if newline < 0:
        return None
    return 501 if _requestLine(head[: newline + 1]) else 400


def refusesMethod(head):
    """
    Whether llhttp refuses the method of the request that starts C{head}.

    @param head: the first bytes of a request line: a method is refused
        within its first 14 bytes (the longest method llhttp knows has 13
        characters), so 32 are enough.
    @type head: L{bytes}
    @rtype: L{bool}
    """
    parser = httptools.HttpRequestParser(object())
    try:
        parser.feed_data(head)
    except httptools.HttpParserInvalidMethodError:
        return True
    except httptools.HttpParserError:
        pass
    return False


def headEnd(tail, data, pos=0):
    """
    Where the head (or trailer section) under way ends in C{data}: at its
    first empty line.  One llhttp accepts has no bare CR or LF, so its first
    CRLFCRLF ends it.

    @param tail: the last (up to three) bytes received before C{data[pos:]};
        the head began before them.
    @type tail: L{bytes}
    @type data: L{bytes}
    @param pos: where in C{data} the head continues.
    @type pos: L{int}
    @return: the offset in C{data} just past the empty line, or -1 if it is
        not in C{data}.
    @rtype: L{int}
    """
    # A head's first byte, a method character, is in the tail or before it
    # (a trailer section's tail is the last-chunk line's CRLF), so an end
    # found across the two is the head's own.
    found = (tail + data[pos : pos + 3]).find(b"\r\n\r\n")
    if found >= 0:
        return pos + found + 4 - len(tail)
    found = data.find(b"\r\n\r\n", pos)
    return found + 4 if found >= 0 else -1


def heads(data, pos):
    """
    Find the request heads that begin in C{data}, given where the first one
    may begin.  llhttp has parsed (and accepted) every request before the
    last one found, so their framing is simple: empty lines before a
    request line are skipped (RFC 9112 section 2.2), the head ends at its
    first CRLFCRLF, and a body follows only with a C{Content-Length} (a
    chunked one ends the search: see L{gracehttp._protocols.http11}).

    @type data: L{bytes}
    @param pos: where the first request may begin (after the end of the one
        under way when C{data} was read).
    @type pos: L{int}
    @return: an iterator of C{(start, end)}: where each request line begins
        and where its head ends (-1 if not in C{data}).
    """
    size = len(data)
    while True:
        while pos < size and data[pos] in b"\r\n":
            pos += 1
        if pos >= size:
            return
        end = data.find(b"\r\n\r\n", pos)
        if end < 0:
            yield pos, -1
            return
        end += 4
        yield pos, end
        pos = end + contentLength(data[pos:end])


def field(head, name):
    """
    The value of field C{name} in a request head llhttp has accepted (so
    with no whitespace before a colon, no obs-fold, at most one
    C{Content-Length}).

    @param head: the head, request line to empty line.
    @type head: L{bytes}
    @param name: the field name, lowercase.
    @type name: L{bytes}
    @return: the value without surrounding whitespace, or L{None}.
    @rtype: L{bytes} or L{None}
    """
    lowered = head.lower()
    found = lowered.find(b"\r\n" + name + b":")
    if found < 0:
        return None
    start = found + len(name) + 3
    return head[start : head.index(b"\r\n", start)].strip(b" \t")


def contentLength(head):
    """
    @param head: a request head llhttp has accepted.
    @type head: L{bytes}
    @return: its C{Content-Length}, or 0 if it has none.
    @rtype: L{int}
    """
    value = field(head, b"content-length")
    return 0 if value is None else int(value)


def isToken(value):
    """
    Whether C{value} is a token (RFC 9110 section 5.6.2), as a method
    (RFC 9110 section 9.1) must be.

    @type value: L{bytes}
    @rtype: L{bool}
    """
    return bool(value) and not value.translate(None, _TOKEN_CHARS)


def fieldNameValid(name):
    """
    Whether C{name} is a valid HTTP/2 field name: a token in lowercase
    (RFC 9113 section 8.2.1; an uppercase character makes a request
    malformed).

    @type name: L{bytes}
    @rtype: L{bool}
    """
    return bool(name) and not name.translate(None, _LOWER_TOKEN_CHARS)


def fieldValueValid(value):
    """
    Whether C{value} is a valid field value (RFC 9110 section 5.5, RFC 9113
    section 8.2.1): no NUL, CR, LF or other control character but tab, and
    no space or tab at either end.

    @type value: L{bytes}
    @rtype: L{bool}
    """
    return _fieldValue(value) is not None


def schemeValid(scheme):
    """
    Whether C{scheme} is a URI scheme (RFC 3986 section 3.1), as the
    C{:scheme} pseudo-header must be (RFC 9113 section 8.3.1).

    @type scheme: L{bytes}
    @rtype: L{bool}
    """
    return _scheme(scheme) is not None


def targetValid(target, method):
    """
    Whether C{target} is a request target gracehttp serves: origin-form
    (RFC 9112 section 3.2.1: C{/} then visible ASCII), or C{*} for
    C{OPTIONS} (asterisk-form, RFC 9112 section 3.2.4).  The C{:path} of
    an HTTP/2 request (RFC 9113 section 8.3.1) is checked with it.

    @type target: L{bytes}
    @param method: the request method.
    @type method: L{bytes}
    @rtype: L{bool}
    """
    if target == b"*":
        return method == b"OPTIONS"
    return _originTarget(target) is not None
