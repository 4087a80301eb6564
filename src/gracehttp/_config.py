"""
The settings of a gracehttp server, in one table.

Theory of operation
===================

Every setting is one field of L{Config}, a frozen dataclass, and the field
is the whole description of the setting: its name (the
L{gracehttp.makeService} keyword), its default, and, in the field's
metadata, a L{Setting}: the command-line option and its aliases, the
L{Kind} of value (how it is written on the command line, its unit and its
check), and its help text.  L{SETTINGS} lists them in order.  Everything
else is derived from it, so that nothing can drift:

  - L{gracehttp.makeService} takes one keyword per setting and builds a
    L{Config} from them;
  - L{gracehttp.tap.Options} has one C{opt_*} handler per option (and
    alias), whose C{--help} text is the setting's help and default, and
    builds a L{Config} from what it parsed;
  - the HTTP layer reads its part through
    L{HTTPSettings<gracehttp._settings.HTTPSettings>}, made from a
    L{Config};
  - the options reference (C{docs/reference/options.rst}), the keyword
    table of the API reference (C{docs/reference/api.rst}) and the
    README's options table are written from L{SETTINGS} by
    C{docs/optionstables.py}, and a test fails when a committed one is
    stale.

A value is checked once, when a L{Config} is made: the setting's
L{Kind.check} normalises it (one endpoint string becomes a tuple of one,
a comma-separated address string a tuple, seconds a L{float}) and raises
a one-line L{ValueError} for a bad one, naming the setting in words
(C{"limit request body must be a whole number of at least 0, not -1"}).
The command line first turns each string into a value with L{Kind.parse},
whose errors name the option (C{"--threads must be a whole number, not
'x'"}), then makes the L{Config}.

A L{Config} holds only plain values, so it crosses a process boundary as
JSON: L{Config.toDict} and L{Config.fromDict}.

This module imports nothing heavy: no reactor, no protocol.
"""

import math
from collections.abc import Callable
from dataclasses import dataclass, field, fields
from typing import Any

from gracehttp._core.accesslog import DEFAULT_FORMAT as DEFAULT_ACCESS_LOG_FORMAT
from gracehttp._core.accesslog import checkFormat
from gracehttp._core.proxy import trustedNetwork

DEFAULT_LISTEN = "tcp:8000:interface=127.0.0.1"
"""
The endpoint served when none is given: port 8000 on the loopback
interface only.
"""

INTERFACES = ("auto", "asgi3", "asgi2", "asgi", "wsgi")
"""
The C{interface} values: detect, ASGI 3, ASGI 2, ASGI with its version
detected, WSGI (see L{gracehttp._loader.resolveInterface}).
"""

LOOPS = ("auto", "asyncio", "uvloop")
"""
The C{loop} values: the asyncio event loop under Twisted's asyncio reactor
(see L{gracehttp._service.newEventLoop}).
"""

LIFESPAN_MODES = ("auto", "on", "off")
"""
The C{lifespan} values (see L{gracehttp._apps.asgi.lifespan}).
"""

WSGI_CHUNKED_BODY_MODES = ("spool", "stream")
"""
The C{wsgiChunkedBody} values (see L{gracehttp._apps.wsgi.adapter}).
"""

WS_MODES = ("auto", "on", "off")
"""
The C{ws} values: WebSockets for an ASGI application (C{auto}, C{on}) or
never (C{off}); see L{gracehttp._protocols.websocket}.
"""


class Kind:
    """
    A kind of setting value: how it is written on the command line, what
    it is in Python, its unit, and its check.

    @cvar metavar: what the option's value is called in the docs, e.g.
        C{"S"}; L{None} for a flag.
    @cvar unit: C{"seconds"}, C{"bytes"}, C{"count"} or L{None}.
    @cvar pythonType: the Python type L{gracehttp.makeService} takes, in
        words.
    @cvar takesValue: false for a flag, an option given without a value.
    @cvar repeatable: the option may be given several times, each adding
        one value.
    """

    metavar: str | None = "VALUE"
    unit: str | None = None
    pythonType = "str"
    takesValue = True
    repeatable = False

    def parse(self, text: str, option: str) -> Any:
        """
        Turn a command-line value into a setting value.

        @param text: the value as given.
        @param option: the option, e.g. C{"--threads"}, to name in an error.
        @return: the value, to be checked by L{check}.
        @raise ValueError: C{text} does not say a value of this kind (a
            one-line message naming C{option}).
        """
        return text

    def check(self, value: Any, label: str) -> Any:
        """
        Check a value and normalise it.

        @param value: what L{gracehttp.makeService} was given, or what
            L{parse} returned.
        @param label: the setting in words, e.g. C{"threads"}, to name in
            an error.
        @return: the value as L{Config} stores it.
        @raise ValueError: it is out of range or of the wrong type (a
            one-line message).
        """
        return value


class Choice(Kind):
    """
    One of a few words.
    """

    def __init__(self, choices: tuple[str, ...]):
        self.choices = choices
        self.metavar = "|".join(choices)

    def parse(self, text: str, option: str) -> str:
        return self.check(text, option)

    def check(self, value: Any, label: str) -> str:
        if value not in self.choices:
            raise ValueError(f"{label} must be one of {', '.join(self.choices)}, not {value!r}")
        return value


class Count(Kind):
    """
    A whole number of at least C{minimum}, in C{unit}; L{None} for no limit
    when C{optional}.
    """

    def __init__(self, minimum: int = 1, optional: bool = False, unit: str = "count"):
        self.minimum = minimum
        self.optional = optional
        self.unit = unit
        self.metavar = "BYTES" if unit == "bytes" else "N"
        self.pythonType = "int or None (no limit)" if optional else "int"

    def parse(self, text: str, option: str) -> int:
        try:
            return int(text)
        except ValueError:
            raise ValueError(f"{option} must be a whole number, not {text!r}") from None

    def check(self, value: Any, label: str) -> int | None:
        if value is None and self.optional:
            return None
        if type(value) is not int or value < self.minimum:
            raise ValueError(
                f"{label} must be a whole number of at least {self.minimum}, not {value!r}"
            )
        return value


class Seconds(Kind):
    """
    A finite number of seconds, with a fraction if wanted: any, at least
    C{minimum}, or C{positive}.
    """

    metavar = "S"
    unit = "seconds"
    pythonType = "float"

    def __init__(self, minimum: float | None = None, positive: bool = False):
        self.minimum = minimum
        self.positive = positive

    def parse(self, text: str, option: str) -> float:
        try:
            seconds = float(text)
        except ValueError:
            seconds = math.nan
        if not math.isfinite(seconds):
            raise ValueError(f"{option} must be a number of seconds, not {text!r}")
        return seconds

    def check(self, value: Any, label: str) -> float:
        if (
            not isinstance(value, (int, float))
            or isinstance(value, bool)
            or not math.isfinite(value)
            or (self.positive and value <= 0)
            or (self.minimum is not None and value < self.minimum)
        ):
            if self.positive:
                kind = "a positive number"
            elif self.minimum is None:
                kind = "a number"
            else:
                kind = "a non-negative number"
            raise ValueError(f"{label} must be {kind} of seconds, not {value!r}")
        return float(value)


class Flag(Kind):
    """
    On or off; on the command line, an option without a value turns it on.
    """

    metavar = None
    pythonType = "bool"
    takesValue = False

    def check(self, value: Any, label: str) -> bool:
        if not isinstance(value, bool):
            raise ValueError(f"{label} must be True or False, not {value!r}")
        return value


class OnOff(Kind):
    """
    On or off, written C{on} or C{off} on the command line (for a setting
    that is on by default, which a L{Flag} cannot turn off).
    """

    metavar = "on|off"
    pythonType = "bool"

    def parse(self, text: str, option: str) -> bool:
        if text not in ("on", "off"):
            raise ValueError(f"{option} must be on or off, not {text!r}")
        return text == "on"

    def check(self, value: Any, label: str) -> bool:
        if not isinstance(value, bool):
            raise ValueError(f"{label} must be True or False, not {value!r}")
        return value


class Text(Kind):
    """
    A string, checked by a function of its own.
    """

    def __init__(self, check: Callable[[Any, str], None], pythonType: str = "str"):
        self._check = check
        self.pythonType = pythonType

    def check(self, value: Any, label: str) -> Any:
        self._check(value, label)
        return value


class Addresses(Kind):
    """
    Trusted proxies: IP addresses and CIDR networks, or C{"*"}; on the
    command line one comma-separated list.
    """

    metavar = "LIST"
    pythonType = "list of str, or one comma-separated str"

    def parse(self, text: str, option: str) -> tuple[str, ...]:
        return parseAddressList(text)

    def check(self, value: Any, label: str) -> tuple[str, ...]:
        if isinstance(value, str):
            value = parseAddressList(value)
        entries = _tupleOf(value, label)
        if not entries:
            raise ValueError(f"{label} must name at least one address or '*'")
        for entry in entries:
            trustedNetwork(entry)
        return entries


class Endpoints(Kind):
    """
    Twisted server endpoint descriptions
    (L{twisted.internet.endpoints.serverFromString}); on the command line
    one per option, repeated.  They are parsed when the service is made,
    which takes a reactor.
    """

    metavar = "ENDPOINT"
    pythonType = "list of str (or one str)"
    repeatable = True

    def check(self, value: Any, label: str) -> tuple[str, ...]:
        if isinstance(value, str):
            value = (value,)
        entries = _tupleOf(value, label)
        if not entries:
            raise ValueError("at least one endpoint to listen on is needed")
        for entry in entries:
            if not isinstance(entry, str):
                raise ValueError(f"{label}: {entry!r} is not an endpoint description (a string)")
        return entries


class Strings(Kind):
    """
    Strings (directories, glob patterns); on the command line one per
    option, repeated.
    """

    pythonType = "list of str (or one str)"
    repeatable = True

    def __init__(self, metavar: str):
        self.metavar = metavar

    def check(self, value: Any, label: str) -> tuple[str, ...]:
        if isinstance(value, str):
            value = (value,)
        entries = _tupleOf(value, label)
        for entry in entries:
            if not isinstance(entry, str) or not entry:
                raise ValueError(f"{label}: {entry!r} is not a non-empty string")
        return entries


def _tupleOf(value: Any, label: str) -> tuple[Any, ...]:
    try:
        return tuple(value)
    except TypeError:
        raise ValueError(f"{label} must be a list of strings, not {value!r}") from None


def parseAddressList(value: str) -> tuple[str, ...]:
    """
    Parse a C{--forwarded-allow-ips} value.

    @param value: comma-separated addresses and CIDR networks, or C{"*"}.
    @return: the entries, stripped, empty ones dropped.
    """
    return tuple(entry.strip() for entry in value.split(",") if entry.strip())


def _checkRootPath(value: Any, label: str) -> None:
    if not isinstance(value, str) or (value and not value.startswith("/")):
        raise ValueError(f"{label} must be empty or start with '/', not {value!r}")


def _checkAccessLog(value: Any, label: str) -> None:
    if value is not None and not isinstance(value, str):
        raise ValueError(f"{label} must be '-', a file path, 'off' or None, not {value!r}")


def _checkReadinessListen(value: Any, label: str) -> None:
    if value is not None and not (isinstance(value, str) and value):
        raise ValueError(f"{label} must be an endpoint description or None, not {value!r}")


def _checkFormat(value: Any, label: str) -> None:
    checkFormat(value)


@dataclass(frozen=True)
class Setting:
    """
    One row of the settings table: everything said about one setting.

    @ivar name: the L{gracehttp.makeService} keyword and L{Config} field,
        e.g. C{"limitRequestBody"}.
    @ivar default: the value when it is not given.
    @ivar option: the command-line option without its dashes, e.g.
        C{"limit-request-body"}.
    @ivar kind: its values, their unit and their check.
    @ivar help: what it does, one paragraph without the default
        (C{--help} and the README add it); code is marked C{`like this`}
        (shown as Markdown code in the README, without the marks by
        C{--help}).
    @ivar doc: what it does for the options reference, reStructuredText.
    @ivar label: the setting in words, as its errors name it.
    @ivar aliases: other options for it, each with why it exists, e.g.
        C{("asgi-disconnect-grace-period", "the name gunicorn uses")}.
    @ivar metavar: the option's value in the docs, e.g. C{"BYTES"}.
    @ivar defaultText: the default in words, when its value does not say
        it well (the access log format).
    """

    name: str
    default: Any
    option: str
    kind: Kind
    help: str
    doc: str
    label: str
    aliases: tuple[tuple[str, str], ...]
    metavar: str | None
    defaultText: str | None

    def shownDefault(self) -> tuple[str, bool]:
        """
        The default as the docs show it.

        @return: the text, and whether it is the value as written on the
            command line (rather than words: C{"no limit"}, C{"empty"},
            C{"off"}).
        """
        value = self.default
        if self.defaultText is not None:
            return self.defaultText, False
        if value is None:
            return "no limit", False
        if value is False:
            return "off", False
        if value is True:
            return "on", True
        if value == "":
            return "empty", False
        if isinstance(value, tuple):
            return ",".join(value), True
        if isinstance(value, float) and value.is_integer():
            return str(int(value)), True
        return str(value), True


def _setting(
    default: Any,
    option: str,
    kind: Kind,
    help: str,
    doc: str,
    *,
    label: str | None = None,
    aliases: tuple[tuple[str, str], ...] = (),
    metavar: str | None = None,
    defaultText: str | None = None,
) -> Any:
    """
    A L{Config} field: the default, and the rest of its L{Setting} in the
    field's metadata (see L{Setting} for the parameters; C{label} defaults
    to the option's words, C{metavar} to the kind's).
    """
    return field(
        default=default,
        metadata={
            "setting": {
                "option": option,
                "kind": kind,
                "help": help,
                "doc": doc,
                "label": label or option.replace("-", " "),
                "aliases": aliases,
                "metavar": metavar or kind.metavar,
                "defaultText": defaultText,
            }
        },
    )


@dataclass(frozen=True)
class Config:
    """
    The settings of one server, checked: the table of settings is this
    class's fields (see the module docstring and L{SETTINGS}).

    Made from keyword arguments, one per setting (the names of
    L{gracehttp.makeService}'s keywords), every one optional; each is
    checked and normalised (see L{Kind.check}).  Immutable: make another
    with L{dataclasses.replace}, which checks again.

    @raise ValueError: (when made) a value is out of range or of the wrong
        type; a one-line message naming the setting.
    @raise TypeError: (when made) a keyword names no setting.
    """

    interface: str = _setting(
        "auto",
        "interface",
        Choice(INTERFACES),
        "Which specification the application follows: `auto`, `asgi3`, `asgi2`, "
        "`asgi` (ASGI, version detected) or `wsgi`. `auto` detects it: an `async def` "
        "function or `__call__`, or a callable taking `(scope, receive, send)`, is "
        "ASGI 3; one taking `(environ, start_response)` is WSGI; a class built from "
        "the scope, or a callable taking `(scope)`, is ASGI 2.",
        "Which spec the application follows.  ``asgi3`` (ASGI 3.0), ``asgi2`` (ASGI "
        "2 double-callable) and ``wsgi`` (PEP 3333) say it; ``asgi`` says ASGI and "
        "lets the version be detected; ``auto`` detects everything (see "
        ":ref:`interface-detection`).  The start-up line says what was picked.",
    )
    loop: str = _setting(
        "auto",
        "loop",
        Choice(LOOPS),
        "The asyncio event loop under Twisted's asyncio reactor (ASGI): `uvloop` "
        "(`pip install 'gracehttp[uvloop]'`), `asyncio`, or `auto`: uvloop if it is "
        "installed. Ignored for WSGI, and when a reactor is installed already "
        "(`twist --reactor`).",
        "The asyncio event loop ASGI applications, and Twisted's asyncio reactor, run "
        "on.  ``uvloop``: uvloop's (``pip install 'gracehttp[uvloop]'``; an error "
        "when it is not installed).  ``asyncio``: the standard library's.  ``auto``: "
        "uvloop if it is installed, else asyncio.  Ignored for a WSGI application "
        "(Twisted's default reactor) and when a reactor is installed already "
        "(``twist --reactor``).  The start-up line names uvloop when it is used.  "
        "See :doc:`../benchmarks`.",
    )
    listen: tuple[str, ...] = _setting(
        (DEFAULT_LISTEN,),
        "listen",
        Endpoints(),
        "A Twisted endpoint to listen on, e.g. `tcp:8000:interface=0.0.0.0`, "
        "`unix:/run/app.sock`, `ssl:8443:privateKey=key.pem`, "
        "`systemd:domain=INET:index=0`; `haproxy:` before one reads a PROXY protocol "
        "header first (behind a TCP load balancer). Repeatable. `ssl:` needs `pip "
        "install 'gracehttp[tls]'`.",
        "A Twisted server endpoint string; repeatable.  Examples: ``tcp:8000``, "
        "``tcp:8000:interface=0.0.0.0``, ``unix:/run/app.sock:mode=660``, "
        "``ssl:8443:privateKey=key.pem:certKey=cert.pem``, "
        "``systemd:domain=INET:index=0``.  ``ssl:`` needs pyOpenSSL: ``pip install "
        "'gracehttp[tls]'``; over TLS gracehttp offers ALPN ``h2`` (with ``pip "
        "install 'gracehttp[http2]'``) and ``http/1.1`` (see :doc:`../howto/twist` "
        "and :doc:`../howto/http2`).  ``haproxy:`` before any of them, e.g. "
        "``haproxy:tcp:8000``, makes every connection begin with a PROXY protocol "
        "header (version 1 or 2; before TLS for ``haproxy:ssl:``) whose client "
        "address the application sees (:doc:`../howto/proxyprotocol`).",
    )
    threads: int = _setting(
        10,
        "threads",
        Count(),
        "WSGI thread pool size: how many WSGI requests run at once. Ignored for ASGI.",
        "Size of the WSGI thread pool: how many WSGI requests run at once.  Ignored for ASGI.",
    )
    disconnectGracePeriod: float = _setting(
        3.0,
        "disconnect-grace-period",
        Seconds(),
        "Seconds an application may go on after its client disconnected before its "
        "ASGI task is cancelled (a WSGI request, which cannot be cancelled, is "
        "logged). `0` cancels at once, a negative value never cancels.",
        "Seconds between a client's disconnect and the cancellation of its request's "
        "ASGI task; a WSGI request still running then is logged.  ``0``: cancel at "
        "once.  Negative: never cancel.  See :doc:`../discussion/disconnects`.",
        aliases=(("asgi-disconnect-grace-period", "the name gunicorn uses"),),
    )
    lifespan: str = _setting(
        "auto",
        "lifespan",
        Choice(LIFESPAN_MODES),
        "ASGI lifespan protocol: `auto` (use it if the application supports it), `on`, or `off`.",
        "ASGI lifespan protocol (lifespan spec 2.0).  ``auto``: an application that "
        "raises on the lifespan scope does not support it (logged, not an error).  "
        "``on``: that is an error.  ``off``: never sent.  "
        "``lifespan.startup.failed`` is an error in every mode.",
    )
    lifespanTimeout: float = _setting(
        60.0,
        "lifespan-timeout",
        Seconds(positive=True),
        "Seconds the lifespan startup, and the lifespan shutdown, may each take.",
        "Seconds each lifespan phase (startup, shutdown) may take; past it the "
        "phase has failed (``LifespanTimeout``).",
    )
    rootPath: str = _setting(
        "",
        "root-path",
        Text(_checkRootPath),
        "The path the application is mounted at behind a proxy: ASGI `root_path`, "
        "WSGI `SCRIPT_NAME`; the application sees the full path whether the proxy "
        "strips the prefix or passes it on.",
        "The path the application is mounted at, e.g. ``/api``: ASGI "
        '``scope["root_path"]``, WSGI ``SCRIPT_NAME``.  ASGI ``path`` includes it '
        "and WSGI ``SCRIPT_NAME`` + ``PATH_INFO`` is the full path, whether the "
        "proxy passes the prefix on (``/api/items``) or strips it (``/items``): a "
        "target already under the root path is not prefixed again.  See "
        ":doc:`../howto/nginx`.",
        metavar="P",
    )
    limitRequestHeaderSize: int = _setting(
        64 * 1024,
        "limit-request-header-size",
        Count(unit="bytes"),
        "Bytes of request head (request line and header fields) accepted; a larger "
        "head is answered 431.",
        "Bytes of request head accepted, counted as the request target plus each "
        "header field's name and value plus 4.  More: ``431 Request Header Fields "
        "Too Large`` (RFC 6585 section 5) and the connection is closed.  Trailer "
        "fields count separately against the same limit.",
    )
    limitRequestHeaders: int = _setting(
        100,
        "limit-request-headers",
        Count(),
        "Header fields accepted per request; more are answered 431.",
        "Header fields accepted per request.  More: ``431`` and close.  Trailer "
        "fields count separately against the same limit.",
    )
    limitRequestBody: int | None = _setting(
        None,
        "limit-request-body",
        Count(minimum=0, optional=True, unit="bytes"),
        "Bytes of request body accepted; a larger body is answered 413, checked "
        "against `Content-Length` and while a chunked body streams in.",
        "Request body bytes accepted.  More: ``413 Content Too Large`` (RFC 9110 "
        "section 15.5.14), checked against ``Content-Length`` before the "
        "application starts and while a chunked body streams in; then the "
        "connection is closed.",
    )
    timeoutHeader: float = _setting(
        10.0,
        "timeout-header",
        Seconds(positive=True),
        "Seconds a client has to send a complete request head, then 408 and close; "
        "also the longest a request body may stop arriving while it is read, then "
        "the application is told the client left and the client gets 408.",
        "Seconds a client has to send a complete request head, counted from the "
        "connection for its first request and from the first byte for a later one; "
        "then ``408 Request Timeout`` (RFC 9110 section 15.5.9) and close "
        "(slowloris).  A connection that sends nothing in that time is closed "
        "silently.  Also the longest a request body may stop arriving (no byte at "
        "all) while gracehttp reads it; then, on both interfaces, the application "
        "is told the client is gone (ASGI ``http.disconnect``; WSGI "
        "``wsgi.input.read()`` raises ``ClientDisconnected``), the client gets "
        "``408`` (or, if the response started, the connection is closed) and the "
        "access log says ``rejected``.  While the application does not read (its "
        "body buffer is full) the client is not late.",
    )
    timeoutKeepAlive: float = _setting(
        5.0,
        "timeout-keep-alive",
        Seconds(minimum=0),
        "Seconds an idle keep-alive connection stays open between requests.",
        "Seconds an idle keep-alive connection stays open between requests (RFC "
        "9112 section 9.3); then it is closed.  ``0``: close once a response is "
        "sent.",
        label="timeout keep-alive",
    )
    limitConcurrency: int | None = _setting(
        None,
        "limit-concurrency",
        Count(optional=True),
        "Requests in flight at once; more are answered 503 with `Retry-After`.",
        "Requests in flight at once, across all connections.  More: ``503 Service "
        "Unavailable`` with ``Retry-After: 1`` (RFC 9110 section 15.6.4), and the "
        "connection is closed.",
    )
    limitConnections: int | None = _setting(
        None,
        "limit-connections",
        Count(optional=True),
        "Open connections; more are closed at once.",
        "Open connections.  More are closed as soon as they are accepted.",
    )
    h2c: bool = _setting(
        False,
        "h2c",
        Flag(),
        "Serve cleartext HTTP/2 with prior knowledge (h2c) on non-TLS endpoints too: a "
        "connection that opens with the HTTP/2 preface is HTTP/2, any other HTTP/1.1. "
        "Needs `pip install 'gracehttp[http2]'`. (Over TLS, HTTP/2 is negotiated by "
        "ALPN whenever that is installed.)",
        "Serve cleartext HTTP/2 with prior knowledge (h2c, RFC 9113 section 3.3) on "
        "``tcp:`` and ``unix:`` endpoints: a connection whose first bytes are the "
        "HTTP/2 connection preface is served HTTP/2, any other HTTP/1.1, on the same "
        "port.  Needs ``pip install 'gracehttp[http2]'``.  Over TLS, HTTP/2 is "
        "negotiated by ALPN whenever ``h2`` is installed, without this option.  "
        "``Upgrade: h2c`` is not supported (RFC 9113 deprecates it).  See "
        ":doc:`../howto/http2`.",
        label="h2c",
    )
    h2MaxConcurrentStreams: int = _setting(
        100,
        "h2-max-concurrent-streams",
        Count(),
        "HTTP/2 streams a client may have open at once on one connection "
        "(`SETTINGS_MAX_CONCURRENT_STREAMS`); more are refused with `REFUSED_STREAM`.",
        "HTTP/2 streams a client may have open at once on one connection, advertised "
        "as ``SETTINGS_MAX_CONCURRENT_STREAMS`` (RFC 9113 section 6.5.2).  A stream "
        "counts until its application is done (a stream the client reset counts "
        "through its grace period), so one connection never runs more applications "
        "than this; a stream past it is refused (``RST_STREAM`` with "
        "``REFUSED_STREAM``, which a client may retry).  See :doc:`../howto/http2`.",
        label="h2 max concurrent streams",
    )
    workers: int = _setting(
        1,
        "workers",
        Count(),
        "Worker processes. With more than 1, the parent binds every `--listen` "
        "endpoint once and supervises that many worker processes sharing the "
        "sockets: a worker that dies is restarted, SIGTERM drains them all, SIGHUP "
        "replaces them one at a time (new code loaded). The application must be a "
        "`MODULE:ATTRIBUTE` reference.",
        "Worker processes serving the same sockets.  ``1``: one process, as without "
        "this option.  More: the parent process binds every ``--listen`` endpoint "
        "once (or takes the sockets systemd passed) and starts that many workers, "
        "each of which adopts the sockets and serves the application with every "
        "other setting; the parent never imports the application.  A worker that "
        "dies is restarted after a back-off; ``SIGTERM`` (or ``SIGINT``) drains "
        "every worker (each runs the graceful stop) and the parent exits 0; "
        "``SIGHUP`` replaces the workers one at a time, each new one listening "
        "before the old one drains, so no connection is refused (new code is "
        "loaded).  WSGI ``wsgi.multiprocess`` is true.  See :doc:`../howto/workers`.",
    )
    reload: bool = _setting(
        False,
        "reload",
        Flag(),
        "For development: replace the worker(s) when a file changes under "
        "`--reload-dir`, loading the new code. Needs `pip install 'gracehttp[reload]'`.",
        "For development: watch the files under ``--reload-dir`` (those matching "
        "``--reload-include``) and, when one changes, replace the workers as "
        "``SIGHUP`` does, so the new code is served; with one worker too (a parent "
        "process then supervises it).  The application must be a "
        "``MODULE:ATTRIBUTE`` reference.  Needs ``pip install 'gracehttp[reload]'`` "
        "(watchfiles).  See :doc:`../howto/workers`.",
    )
    reloadDir: tuple[str, ...] = _setting(
        (),
        "reload-dir",
        Strings("DIR"),
        "A directory `--reload` watches, recursively. Repeatable.",
        "A directory ``--reload`` watches, recursively; repeatable.",
        defaultText="the current directory",
    )
    reloadInclude: tuple[str, ...] = _setting(
        ("*.py",),
        "reload-include",
        Strings("GLOB"),
        "A file name pattern whose changes `--reload` acts on. Repeatable.",
        "A file name pattern (``fnmatch``, matched against the file's name) whose "
        "changes ``--reload`` acts on; repeatable.  Giving it replaces the default.  "
        "Version control, virtualenv and cache directories are never watched.",
    )
    gracefulTimeout: float = _setting(
        30.0,
        "graceful-timeout",
        Seconds(minimum=0),
        "Seconds the requests in flight at a stop (SIGTERM, SIGINT) may take to "
        "finish before they are disconnected; they then get the disconnect grace "
        "period.",
        "Seconds the requests in flight at a stop (``SIGTERM``, ``SIGINT``) may take "
        "to finish.  Then they are disconnected and get ``--disconnect-grace-period`` "
        "before they are cancelled.  ``0``: disconnect at once.  See "
        ":doc:`../discussion/lifecycle`.",
    )
    readinessListen: str | None = _setting(
        None,
        "readiness-listen",
        Text(_checkReadinessListen, pythonType="str or None (off)"),
        "A Twisted endpoint of its own (e.g. `tcp:8081`) where any request gets `200 "
        "ready` once the application started and the server listens, and `503` while "
        "it starts and from the moment a stop begins until the process exits; "
        "`/livez` gets `200 alive` throughout. For load balancer and Kubernetes probes.",
        "A Twisted server endpoint of its own, e.g. ``tcp:8081``, answering probes "
        "without an application route.  Any request gets ``200 ready`` once the "
        "lifespan startup (or the WSGI thread pool) is done and every ``--listen`` "
        "endpoint listens; ``503 starting`` before, and ``503 draining`` from the "
        "moment a graceful stop begins (``SIGTERM``) until the process exits, while "
        "the main endpoints are closed and the requests in flight finish.  "
        "``GET /livez`` gets ``200 alive`` in every state (for a liveness probe).  "
        "It listens first and closes last; its requests are not in the access log.  "
        "See :doc:`../howto/kubernetes`.",
        metavar="ENDPOINT",
        defaultText="off",
    )
    proxyHeaders: bool = _setting(
        False,
        "proxy-headers",
        Flag(),
        "Trust `X-Forwarded-For`, `X-Forwarded-Proto` and `Forwarded` (RFC 7239) from "
        "the peers of `--forwarded-allow-ips`: they set the client address and the "
        "scheme.",
        "Trust ``X-Forwarded-For``, ``X-Forwarded-Proto`` and ``Forwarded`` (RFC "
        "7239) from the peers of ``--forwarded-allow-ips``: they set ASGI "
        "``client``/``scheme`` and WSGI ``REMOTE_ADDR``/``wsgi.url_scheme``.  From "
        "any other peer they are ignored.",
    )
    forwardedAllowIPs: tuple[str, ...] = _setting(
        ("127.0.0.1",),
        "forwarded-allow-ips",
        Addresses(),
        "Comma-separated IP addresses and CIDR networks of the proxies whose headers "
        "`--proxy-headers` trusts; `*` trusts every peer.",
        "Comma-separated IP addresses and CIDR networks of trusted proxies, e.g. "
        "``10.0.0.0/8,192.168.1.10,::1``; ``*`` trusts every peer (only behind a "
        "proxy that is the sole way in).",
        label="forwarded allow IPs",
    )
    accessLog: str | None = _setting(
        "-",
        "access-log",
        Text(_checkAccessLog, pythonType="str or None (off)"),
        "Where each finished request is logged: `-` to the process's log (namespace "
        "`gracehttp.access`), a file `PATH` to append lines to, or `off`.",
        "Where each finished request is logged.  ``-``: the process's log (Twisted "
        "namespace ``gracehttp.access``, so ``twist --log-format json`` makes JSON "
        "of it).  ``PATH``: lines appended to that file (not in the process's "
        "log).  ``off``: nothing, at no cost.  See :doc:`accesslog`.",
        metavar="-|PATH|off",
    )
    accessLogFormat: str = _setting(
        DEFAULT_ACCESS_LOG_FORMAT,
        "access-log-format",
        Text(_checkFormat),
        "The access log line in Python format syntax over the fields `client`, "
        "`time`, `request`, `method`, `path`, `httpVersion`, `status`, `size`, "
        "`bytes`, `referer`, `userAgent`, `duration` (seconds), `durationMs`, "
        "`outcome`, `mount` (the mount that answered), and for WebSocket sessions "
        "`messagesIn`, `bytesIn`, `messagesOut`, `bytesOut` and `closeCode`.",
        "The access log line, Python format syntax over named fields "
        '(:doc:`accesslog`), e.g. ``\'{client} "{request}" {status} '
        "{durationMs:.0f}ms {outcome}'``.",
        metavar="FMT",
        defaultText="Apache combined, then durationMs and outcome",
    )
    wsgiChunkedBody: str = _setting(
        "spool",
        "wsgi-chunked-body",
        Choice(WSGI_CHUNKED_BODY_MODES),
        "How a WSGI application gets a chunked request body: `spool` (receive it "
        "whole first, in memory or past 512 KiB in a temporary file, and give the "
        "application a `CONTENT_LENGTH`, which every framework reads) or `stream` "
        "(start the application at once, without `CONTENT_LENGTH`; for applications "
        "that read `wsgi.input` to its end). Ignored for ASGI.",
        "How a WSGI application gets a chunked request body (RFC 9112 section 7.1).  "
        "``spool``: it is received whole first (in memory up to 512 KiB, then in a "
        "temporary file), and the application gets ``CONTENT_LENGTH``, which every "
        "framework reads.  ``stream``: the application starts at once and reads the "
        "body as it arrives, without ``CONTENT_LENGTH`` "
        "(``wsgi.input_terminated``).  See :doc:`../discussion/lifecycle`.  Ignored "
        "for ASGI.",
    )
    ws: str = _setting(
        "auto",
        "ws",
        Choice(WS_MODES),
        "WebSockets: `auto` and `on` serve `Upgrade: websocket` requests to an ASGI "
        "application as its `websocket` scope; `off` answers them as plain HTTP. A WSGI "
        "application never gets WebSockets (`on` is then an error).",
        "WebSockets (RFC 6455) for an ASGI application: an ``Upgrade: websocket`` "
        "request becomes the application's ``websocket`` scope (ASGI WebSocket spec "
        "2.5).  ``off``: such requests are answered as plain HTTP, as every upgrade "
        "to another protocol is.  A WSGI application has no WebSockets: ``auto`` "
        "leaves them off, ``on`` is an error.  See :doc:`websockets`.",
        label="ws",
    )
    wsMaxSize: int = _setting(
        16 * 1024 * 1024,
        "ws-max-size",
        Count(unit="bytes"),
        "Bytes of one WebSocket message accepted (after decompression); a larger "
        "message closes the connection with 1009.",
        "Bytes of one received WebSocket message accepted, text counted as UTF-8 and "
        "a compressed message counted as it decompresses (so a small compressed "
        "message cannot expand without bound).  More: the connection is closed with "
        "code ``1009`` (message too big, RFC 6455 section 7.4.1) and the "
        "application gets ``websocket.disconnect`` with that code.",
        label="ws max size",
    )
    wsPingInterval: float = _setting(
        20.0,
        "ws-ping-interval",
        Seconds(minimum=0),
        "Seconds between the pings sent on an open WebSocket; `0` sends none.",
        "Seconds between the pings (RFC 6455 section 5.5.2) sent on an open WebSocket, "
        "to find peers that went away without closing.  ``0``: no pings.",
        label="ws ping interval",
    )
    wsPingTimeout: float = _setting(
        20.0,
        "ws-ping-timeout",
        Seconds(positive=True),
        "Seconds a WebSocket peer has to answer a ping; a silent peer is disconnected "
        "and the application told (code 1006).",
        "Seconds a WebSocket peer has to answer a ping (or send anything).  A silent "
        "peer is sent a close frame with ``1011`` and the connection is aborted; the "
        "application gets ``websocket.disconnect`` with code ``1006`` and reason "
        "``ping timeout``.",
        label="ws ping timeout",
    )
    wsPerMessageDeflate: bool = _setting(
        True,
        "ws-per-message-deflate",
        OnOff(),
        "Accept permessage-deflate compression (RFC 7692) when a WebSocket client offers it.",
        "Accept permessage-deflate compression (RFC 7692) when a WebSocket client "
        "offers it: messages are compressed both ways.  It costs CPU and memory: "
        "about 260 KiB per connection once it sent a message (zlib's compressor), "
        "40 KiB once it received one; ``off`` saves both.",
        label="ws per-message deflate",
    )

    def __post_init__(self) -> None:
        for setting in SETTINGS:
            value = setting.kind.check(getattr(self, setting.name), setting.label)
            object.__setattr__(self, setting.name, value)

    def toDict(self) -> dict[str, Any]:
        """
        The settings as plain JSON values (tuples become lists), e.g. for a
        child process.  They are also L{gracehttp.makeService} keywords:
        C{makeService(app, **config.toDict())} serves this configuration.

        @return: one entry per setting, by name.
        """
        values = {}
        for setting in SETTINGS:
            value = getattr(self, setting.name)
            values[setting.name] = list(value) if isinstance(value, tuple) else value
        return values

    @classmethod
    def fromDict(cls, values: dict[str, Any]) -> "Config":
        """
        The L{Config} a L{toDict} result describes (after a JSON round trip
        too); it is checked as any other.

        @raise ValueError: a value is bad.
        @raise TypeError: an entry names no setting.
        """
        return cls(**values)


def _table(configClass: type) -> tuple[Setting, ...]:
    return tuple(
        Setting(name=f.name, default=f.default, **f.metadata["setting"])
        for f in fields(configClass)
    )


SETTINGS: tuple[Setting, ...] = _table(Config)
"""
The settings table: one L{Setting} per field of L{Config}, in order.
"""

DEFAULTS: dict[str, Any] = {setting.name: setting.default for setting in SETTINGS}
"""
Each setting's default, by name.
"""
