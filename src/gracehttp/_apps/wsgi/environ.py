"""
The WSGI C{environ} (PEP 3333, "environ Variables") built from a request
exchange, and the C{wsgi.errors} stream.

Everything that is the same for every request is computed once per adapter
(L{EnvironBuilder.__init__}); per request the builder copies that dict and
adds the request's own keys.  Header names map to their CGI keys through a
bounded cache, so a request costs one dict lookup per header.
"""

from urllib.parse import unquote_to_bytes

from twisted.logger import Logger

from gracehttp._apps.wsgi.response import FileWrapper

_log = Logger()

# CGI names for request header fields (RFC 3875 section 4.1.18: prefix
# HTTP_, upper case, "-" becomes "_"); Content-Type and Content-Length have
# their own variables (RFC 3875 sections 4.1.2, 4.1.3).  Filled on demand.
_KEYS = {b"content-type": "CONTENT_TYPE", b"content-length": "CONTENT_LENGTH"}
_MAX_KEYS = 512

_PROTOCOLS = {"1.0": "HTTP/1.0", "1.1": "HTTP/1.1", "2": "HTTP/2"}
_DEFAULT_PORTS = {"http": "80", "https": "443"}


def _environKey(name):
    """
    The CGI variable for a request header field name.

    A name containing C{"_"} gets none (the field is dropped): C{"-"} and
    C{"_"} both become C{"_"}, so a client could otherwise impersonate a
    header a proxy sets (nginx, Apache and gunicorn drop them too).

    @param name: the field name, lowercased.
    @type name: L{bytes}
    @return: e.g. C{"HTTP_X_FORWARDED_FOR"}, or C{""} to drop the field.
    @rtype: L{str}
    """
    if b"_" in name:
        return ""
    return "HTTP_" + name.decode("latin-1").upper().replace("-", "_")


def _splitHost(host, defaultPort):
    """
    Split a C{Host} field value (RFC 9110 section 7.2) into C{SERVER_NAME}
    and C{SERVER_PORT}.  An IPv6 literal keeps its brackets, as in a URL.

    @type host: L{str}
    @param defaultPort: the port when the value names none.
    @type defaultPort: L{str}
    @rtype: L{tuple} of (L{str}, L{str})
    """
    name, colon, port = host.rpartition(":")
    if colon and port.isdecimal():
        return name, port
    return host, defaultPort


class ErrorStream:
    """
    C{wsgi.errors} (PEP 3333, "Input and Error Streams"): text written to it
    is logged through L{twisted.logger} at error level, one event per
    C{write()}.  Safe to use from any thread.
    """

    __slots__ = ()

    def write(self, s):
        """
        Log C{s}.

        @type s: L{str}
        """
        text = s.rstrip("\n")
        if text:
            _log.error("{text}", text=text)

    def writelines(self, seq):
        """
        Log each string of C{seq}.

        @type seq: iterable of L{str}
        """
        for s in seq:
            self.write(s)

    def flush(self):
        """
        Nothing to do: every write is logged at once.
        """


class EnvironBuilder:
    """
    Builds the C{environ} of each request for one application.

    @ivar scriptName: C{SCRIPT_NAME}, the root path without a trailing
        slash, as a PEP 3333 "bytes as latin-1" string.
    """

    __slots__ = ("_base", "scriptName")

    def __init__(self, rootPath="", errors=None, multiprocess=False):
        """
        @param rootPath: the URL path the application is mounted at, e.g.
            C{"/app"}; becomes C{SCRIPT_NAME} and is stripped from the front
            of C{PATH_INFO} when present there.
        @type rootPath: L{str}
        @param errors: the C{wsgi.errors} stream; an L{ErrorStream} by
            default.
        @param multiprocess: C{wsgi.multiprocess} (PEP 3333): other
            processes serve the same application.
        @type multiprocess: L{bool}
        """
        self.scriptName = rootPath.rstrip("/").encode("utf-8").decode("latin-1")
        self._base = {
            "SCRIPT_NAME": self.scriptName,
            "wsgi.version": (1, 0),
            "wsgi.errors": ErrorStream() if errors is None else errors,
            "wsgi.multithread": True,
            "wsgi.multiprocess": multiprocess,
            "wsgi.run_once": False,
            "wsgi.input_terminated": True,
            "wsgi.file_wrapper": FileWrapper,
        }

    def pathInfo(self, rawPath):
        """
        C{PATH_INFO} for a request target's path: percent-decoded bytes as
        latin-1 (PEP 3333, "Unicode Issues"), without the root path.

        @type rawPath: L{bytes}
        @rtype: L{str}
        """
        if b"%" in rawPath:
            rawPath = unquote_to_bytes(rawPath)
        path = rawPath.decode("latin-1")
        root = self.scriptName
        if root and path.startswith(root):
            rest = path[len(root) :]
            if not rest or rest[0] == "/":
                return rest
        return path

    def build(self, exchange):
        """
        Build one request's C{environ}, without the keys the adapter adds:
        C{wsgi.input} and C{gracehttp.disconnected}.

        Duplicate header fields are joined with C{","} (RFC 9110 section
        5.3), C{Cookie} fields with C{"; "} (RFC 9113 section 8.2.3, RFC
        6265 section 5.4).  C{CONTENT_TYPE} and C{CONTENT_LENGTH} are set
        only when the request has them; a chunked body has no
        C{CONTENT_LENGTH} here (the adapter adds one once it spooled the
        body, L{gracehttp._apps.wsgi.spool}; streamed, C{wsgi.input} reads it to
        its end: C{wsgi.input_terminated}).  C{SERVER_NAME} and
        C{SERVER_PORT} come from the C{Host} field, else from the local
        address, else are C{"localhost"} and the scheme's default port.
        C{REMOTE_ADDR} and C{REMOTE_PORT} are absent when the peer has no
        address (a UNIX socket).

        @param exchange: the request; only its request fields are read.
        @type exchange: L{gracehttp._core.exchange.Exchange}
        @rtype: L{dict}
        """
        environ = self._base.copy()
        environ["REQUEST_METHOD"] = exchange.method
        environ["PATH_INFO"] = self.pathInfo(exchange.rawPath)
        environ["QUERY_STRING"] = exchange.queryString.decode("latin-1")
        environ["SERVER_PROTOCOL"] = (
            _PROTOCOLS.get(exchange.httpVersion) or "HTTP/" + exchange.httpVersion
        )
        scheme = exchange.scheme
        environ["wsgi.url_scheme"] = scheme
        keys = _KEYS
        for name, value in exchange.headers:
            key = keys.get(name)
            if key is None:
                key = _environKey(name)
                if len(keys) < _MAX_KEYS:
                    keys[name] = key
            if not key:
                continue
            if key in environ:
                separator = "; " if key == "HTTP_COOKIE" else ","
                environ[key] += separator + value.decode("latin-1")
            else:
                environ[key] = value.decode("latin-1")
        host = environ.get("HTTP_HOST")
        if host:
            name, port = _splitHost(host, _DEFAULT_PORTS.get(scheme, "80"))
        elif exchange.server is not None and exchange.server[1] is not None:
            name, port = exchange.server[0], str(exchange.server[1])
        else:
            name, port = "localhost", _DEFAULT_PORTS.get(scheme, "80")
        environ["SERVER_NAME"] = name
        environ["SERVER_PORT"] = port
        client = exchange.client
        if client is not None:
            environ["REMOTE_ADDR"] = client[0]
            environ["REMOTE_PORT"] = str(client[1])
        return environ
