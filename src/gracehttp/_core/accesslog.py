"""
The access log: one Twisted log event, or one line, per finished request.

Each finished request (L{IServerState.requestLog<gracehttp._core.serverstate.IServerState>})
becomes one C{info} event in the C{gracehttp.access} namespace of
L{twisted.logger}, so it goes wherever the process logs (C{twist
--log-format json} gives JSON), or, with C{--access-log PATH}, to a file of
its own.  The event (an L{AccessEvent}, a plain L{dict} to any observer)
carries the request's fields as plain values, so a JSON log has every one
of them; its C{log_format} is the access log format.  An L{AccessEvent}
formats itself (L{AccessEvent.line}, L{AccessEvent.json}) faster than
Twisted's generic formatting and flattening would.

When the event would only be turned into a line and written (the access
log file; C{twist}'s log while it has no other observer: see
L{gracehttp._core.logwriter}), an HTTP request is not made an event at
all: L{AccessLog.direct<AccessLog>} gives a writer, which gets the
request's fields as a tuple (the I{record}) and makes the line from it
(L{requestLine}: the default format as an f-string; L{requestJSON}: a
template), the same line the event would give.  The Apache timestamp, the
one costly field (about 2 us), is a string computed once per second and
reused by every request that starts within that second.

The default format is Apache's "combined" format (see
L{DEFAULT_FORMAT}) followed by the request's duration in milliseconds and
how it ended (its outcome, see L{FIELDS}).

A WebSocket session (L{Session<gracehttp._core.session.Session>}) is
logged once, when it ends, as the request that opened it: its status is
101 (or the status of the response that denied it), its duration runs to
the close, and its size is the bytes of the messages sent.  Its event
also carries the messages and bytes each way and the close code (fields
that are C{-} for an HTTP request); with the default format its line
ends with them (L{DEFAULT_SESSION_FORMAT}).  A format given by the user
is used for both.
"""

import json
import string
import time
from json.encoder import encode_basestring_ascii as _string

from twisted.logger import Logger, LogLevel, formatEvent

from gracehttp._core.session import Session

NAMESPACE = "gracehttp.access"
"""
The L{twisted.logger} namespace of access log events.
"""

DEFAULT_FORMAT = (
    '{client} - - [{time}] "{request}" {status} {size} "{referer}" "{userAgent}"'
    " {durationMs:.1f} {outcome}"
)
"""
Apache combined (C{%h %l %u %t "%r" %>s %b "%{Referer}i" "%{User-agent}i"})
plus the duration in milliseconds and the outcome.
"""

DEFAULT_SESSION_FORMAT = (
    DEFAULT_FORMAT + " ws in={messagesIn}/{bytesIn} out={messagesOut}/{bytesOut} close={closeCode}"
)
"""
The default format's line for a WebSocket session: L{DEFAULT_FORMAT}, then
the messages/bytes received and sent and the close code.
"""

FIELDS = {
    "client": "the client's address (C{-} for a UNIX socket)",
    "time": "when the request head arrived, as Apache's C{%t} "
    "(C{10/Oct/2000:13:55:36 +0000}, local time)",
    "request": "the request line, e.g. C{GET /a?b=1 HTTP/1.1} (what was parsed of it, "
    "or C{-}, for a request rejected before its line was complete)",
    "method": "the request method",
    "path": "the request target: path and C{?query}, percent-encoded as sent",
    "httpVersion": "C{1.0} or C{1.1}",
    "status": "the response status, or C{-} if no response started",
    "size": "response body bytes, or C{-} for none (Apache C{%b})",
    "bytes": "response body bytes, a number (Apache C{%B})",
    "referer": "the C{Referer} request header, or C{-}",
    "userAgent": "the C{User-Agent} request header, or C{-}",
    "duration": "seconds from the request head to the end of the response for the "
    "client: its last byte handed to the connection, or the client's disconnect "
    "if that came first (work the application does after its response is not counted)",
    "durationMs": "the same in milliseconds",
    "outcome": "how the request ended: C{completed}, C{client-disconnected}, "
    "C{cancelled}, C{shutdown}, C{aborted} or C{rejected} (see "
    "L{gracehttp._core.exchange}; for a WebSocket session, L{gracehttp._core.session})",
    "mount": "the prefix of the mounted application that answered (C{/} for the root "
    "one), or C{-} when the server serves one application or no mount matched",
    "messagesIn": "WebSocket messages received from the client (C{-} for an HTTP request)",
    "bytesIn": "their payload bytes, text counted as UTF-8 (C{-} for an HTTP request)",
    "messagesOut": "WebSocket messages sent to the client (C{-} for an HTTP request)",
    "bytesOut": "their payload bytes (C{-} for an HTTP request)",
    "closeCode": "the WebSocket close code that ended the session (RFC 6455 section 7.4; "
    "1006 for a connection lost without a close frame), or C{-} (an HTTP request, or a "
    "denied handshake)",
}
"""
The fields an access log format may use (C{{name}} or C{{name:spec}},
Python's format syntax), with what they hold.
"""

_MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")


def _commonLogTime(seconds):
    """
    @param seconds: a POSIX timestamp.
    @return: Apache's C{%t} without brackets, in local time, e.g.
        C{10/Oct/2000:13:55:36 -0700} (English month names whatever the
        locale).
    @rtype: L{str}
    """
    t = time.localtime(seconds)
    offset = t.tm_gmtoff // 60
    sign = "-" if offset < 0 else "+"
    offset = abs(offset)
    return (
        f"{t.tm_mday:02d}/{_MONTHS[t.tm_mon - 1]}/{t.tm_year}:"
        f"{t.tm_hour:02d}:{t.tm_min:02d}:{t.tm_sec:02d} {sign}{offset // 60:02d}{offset % 60:02d}"
    )


def checkFormat(logFormat):
    """
    Check an access log format before serving with it.

    @param logFormat: Python format syntax over L{FIELDS}, e.g.
        C{"{client} {request} {status} {durationMs:.0f}"}.
    @type logFormat: L{str}
    @raise ValueError: the format does not parse, names a field that does
        not exist, or has a format spec that does not fit its field (a
        one-line message).
    """
    if not isinstance(logFormat, str):
        raise ValueError(f"access log format must be a string, not {logFormat!r}")
    try:
        for _literal, field, _spec, _conversion in string.Formatter().parse(logFormat):
            if field is not None and field not in FIELDS:
                raise ValueError(
                    f"unknown access log field {{{field}}}; fields: {', '.join(FIELDS)}"
                )
    except ValueError as e:
        raise ValueError(f"bad access log format {logFormat!r}: {e}") from None
    sample = {
        "client": "127.0.0.1",
        "time": _commonLogTime(0),
        "request": "GET / HTTP/1.1",
        "method": "GET",
        "path": "/",
        "httpVersion": "1.1",
        "status": 200,
        "size": 2,
        "bytes": 2,
        "referer": "-",
        "userAgent": "-",
        "duration": 0.001,
        "durationMs": 1.0,
        "outcome": "completed",
        "mount": "/",
        "messagesIn": 1,
        "bytesIn": 2,
        "messagesOut": 1,
        "bytesOut": 2,
        "closeCode": 1000,
    }
    try:
        logFormat.format(**sample)
    except (ValueError, TypeError, KeyError, IndexError) as e:
        raise ValueError(f"bad access log format {logFormat!r}: {e}") from None


class AccessEvent(dict):
    """
    An access log event: a L{twisted.logger} event (a L{dict}) like any
    other, which can also format itself fast, from its own fields.  The
    process's log (L{gracehttp._core.logwriter}) and the access log file
    use these; any other observer sees a plain event.
    """

    __slots__ = ()

    def line(self):
        """
        @return: the access log line: C{log_format} over the fields, as
            L{formatEvent<twisted.logger.formatEvent>} would render it (and
            as it does, if that fails: say, a format spec for a number met
            the C{-} of a field without a value).
        @rtype: L{str}
        """
        try:
            return self["log_format"].format_map(self)
        except Exception:
            return formatEvent(self)

    def json(self):
        """
        @return: the event as one line of JSON, as
            L{eventAsJSON<twisted.logger.eventAsJSON>} makes it but without
            its C{log_flattened} copy of the fields, and, for an HTTP
            request, with C{log_time} and C{duration} to the microsecond
            (C{durationMs} to the thousandth); the same keys and values
            otherwise: L{eventFromJSON<twisted.logger.eventFromJSON>}
            reads it back, and L{formatEvent<twisted.logger.formatEvent>}
            renders that from the fields.
        @rtype: L{str}
        """
        try:
            if self["messagesIn"] == "-" and type(self["bytes"]) is int:
                return requestJSON(tuple(self[key] for key in _RECORD))
        except (KeyError, TypeError):
            pass
        event = dict(self)
        event.pop("log_flattened", None)
        return _encodeJSON(event)


_LEVEL_JSON = {"name": "info", "__class_uuid__": "02e59486-f24d-46ad-8224-3acdf2a5732a"}
"""
C{LogLevel.info} as L{eventAsJSON<twisted.logger.eventAsJSON>} writes it.
"""


def _jsonDefault(value):
    if value is LogLevel.info:
        return _LEVEL_JSON
    if isinstance(value, LogLevel.info.__class__):
        return {"name": value.name, "__class_uuid__": _LEVEL_JSON["__class_uuid__"]}
    if isinstance(value, bytes):
        return value.decode("charmap")
    return {"unpersistable": True}


_encodeJSON = json.JSONEncoder(default=_jsonDefault, skipkeys=True).encode

_JSON_HEAD = (
    '{"log_logger": {"unpersistable": true}, "log_level": '
    + _encodeJSON(_LEVEL_JSON)
    + f', "log_namespace": "{NAMESPACE}", "log_source": null, "log_format": '
)
"""
How an HTTP request's JSON record begins, up to its C{log_format}.
"""

_JSON_TAIL = (
    ', "messagesIn": "-", "bytesIn": "-", "messagesOut": "-", "bytesOut": "-", "closeCode": "-"}'
)
"""
How it ends: the WebSocket fields, which an HTTP request has not.
"""


_NOT_A_SESSION = {
    "messagesIn": "-",
    "bytesIn": "-",
    "messagesOut": "-",
    "bytesOut": "-",
    "closeCode": "-",
}
"""
The WebSocket fields of an HTTP request's event: none apply.
"""

_formatsJSON: dict[str, str] = {}
"""
Each access log format met, to its JSON string (a server has one or two).
"""


def _number(value):
    """
    @return: JSON for a field that is a number or C{-}.
    """
    return str(value) if type(value) is int else '"-"' if value == "-" else _string(str(value))


_RECORD = (
    "log_format",
    "log_time",
    "client",
    "time",
    "request",
    "method",
    "path",
    "httpVersion",
    "status",
    "size",
    "bytes",
    "referer",
    "userAgent",
    "duration",
    "outcome",
    "mount",
)
"""
The fields of an HTTP request's I{record}: the tuple of their values, in
this order, that L{AccessLog} hands to L{AccessLog.direct<AccessLog>}'s
writers (C{durationMs} and the WebSocket fields follow from them).
"""


def requestJSON(record):
    """
    @param record: an HTTP request's fields (see L{_RECORD}).
    @type record: L{tuple}
    @return: its event's JSON (see L{AccessEvent.json}), from a template
        (the keys and constant values written in it).
    @rtype: L{str}
    """
    (
        logFormat,
        logTime,
        client,
        startTime,
        request,
        method,
        path,
        httpVersion,
        status,
        size,
        sent,
        referer,
        userAgent,
        duration,
        outcome,
        mount,
    ) = record
    s = _string
    formatJSON = _formatsJSON.get(logFormat)
    if formatJSON is None:
        formatJSON = _formatsJSON[logFormat] = s(logFormat)
    # The time (made here), the version (digits) and the outcome (a
    # constant) need no escaping.
    return (
        f'{_JSON_HEAD}{formatJSON}, "log_time": {logTime:.6f}, "client": {s(client)}, '
        f'"time": "{startTime}", "request": {s(request)}, "method": {s(method)}, '
        f'"path": {s(path)}, "httpVersion": "{httpVersion}", "status": {_number(status)}, '
        f'"size": {_number(size)}, "bytes": {sent:d}, "referer": {s(referer)}, '
        f'"userAgent": {s(userAgent)}, "duration": {duration:.6f}, '
        f'"durationMs": {duration * 1000.0:.3f}, "outcome": "{outcome}", '
        f'"mount": {s(mount)}{_JSON_TAIL}'
    )


def requestLine(record):
    """
    @param record: an HTTP request's fields (see L{_RECORD}).
    @type record: L{tuple}
    @return: its access log line, as L{AccessEvent.line} makes it from
        its event (the default format without the general formatting
        machinery).
    @rtype: L{str}
    """
    logFormat = record[0]
    if logFormat == DEFAULT_FORMAT:
        (
            _,
            _,
            client,
            startTime,
            request,
            _,
            _,
            _,
            status,
            size,
            _,
            referer,
            userAgent,
            duration,
            outcome,
            _,
        ) = record
        return (
            f'{client} - - [{startTime}] "{request}" {status} {size} "{referer}" '
            f'"{userAgent}" {duration * 1000.0:.1f} {outcome}'
        )
    fields = dict(zip(_RECORD[2:], record[2:], strict=True), **_NOT_A_SESSION)
    fields["durationMs"] = record[13] * 1000.0
    try:
        return logFormat.format_map(fields)
    except Exception:
        return formatEvent(dict(fields, log_format=logFormat))


def DROP(record):
    """
    What L{AccessLog.direct<AccessLog>} returns when the event would be
    dropped (the log level is above C{info}): nothing is built.
    """


class AccessLog:
    """
    Logs finished requests; an instance is the server state's C{requestLog}.

    It builds the L{twisted.logger} event itself (the keys
    L{Logger.emit<twisted.logger.Logger.emit>} would add: C{log_logger},
    C{log_level}, C{log_namespace}, C{log_source}, C{log_format},
    C{log_time}) and hands it to the observer, which skips C{emit}'s
    per-call level validation: this runs once per request.  The event is
    an L{AccessEvent}, which formats itself fast for the observers that
    know it.

    @ivar observer: where events go (see L{__init__}); C{twist gracehttp}
        sets it to L{ProcessLog.publishAccess
        <gracehttp._core.logwriter.ProcessLog.publishAccess>}.
    @type observer: L{twisted.logger.ILogObserver}
    @ivar direct: L{None}, or a callable that returns L{None} or, when an
        HTTP request's event would only be turned into a line (text or
        JSON) and written (the access log file; C{twist}'s log while it
        has no other observer), a callable that takes the request's
        fields as a tuple (see L{requestLine}, L{requestJSON}) and writes
        its line: the event is not built at all (or L{DROP}: the request
        is not logged).  The access log file's observer sets it
        (L{AccessLogFile.direct
        <gracehttp._core.logwriter.AccessLogFile.direct>}), C{twist
        gracehttp} sets it to L{ProcessLog.direct
        <gracehttp._core.logwriter.ProcessLog.direct>}.
    """

    __slots__ = ("_clock", "_format", "_logger", "_sessionFormat", "_time", "direct", "observer")

    def __init__(self, clock, logFormat=DEFAULT_FORMAT, observer=None):
        """
        @param clock: gives the end time of each request.
        @type clock: L{twisted.internet.interfaces.IReactorTime}
        @param logFormat: see L{checkFormat} (checked there, not here).
        @type logFormat: L{str}
        @param observer: where events go; L{None} means Twisted's global
            log publisher (the process's log).
        @type observer: L{twisted.logger.ILogObserver}
        """
        self._clock = clock
        self._format = logFormat
        self._sessionFormat = DEFAULT_SESSION_FORMAT if logFormat == DEFAULT_FORMAT else logFormat
        self._logger = Logger(namespace=NAMESPACE, observer=observer)
        self.observer = self._logger.observer
        self.direct = getattr(observer, "direct", None)
        # (second, Apache time string) of the last request start logged.
        self._time = (None, "")

    def flush(self):
        """
        Write out the lines the observer holds back (those of the current
        reactor turn, see L{gracehttp._core.logwriter}), if it does; the
        service calls this when it has stopped.
        """
        flush = getattr(self.observer, "flush", None)
        if flush is not None:
            flush()

    def __call__(self, exchange):
        """
        Log one finished request or WebSocket session.

        @type exchange: L{gracehttp._core.exchange.Exchange} or
            L{gracehttp._core.session.Session}
        """
        write = None
        direct = self.direct
        if direct is not None and type(exchange) is not Session:
            write = direct()
            if write is DROP:
                return
        now = self._clock.seconds()
        start = exchange.startTime
        duration = exchange.endTime - start
        second = int(start)
        startTime = self._time
        if startTime[0] != second:
            startTime = self._time = (second, _commonLogTime(second))
        client = exchange.client
        status = exchange.status
        sent = exchange.bytesSent
        method = exchange.method
        version = exchange.httpVersion
        target = exchange.rawPath.decode("latin-1")
        if exchange.queryString:
            target += "?" + exchange.queryString.decode("latin-1")
        if method is None:
            # Rejected before its request line was parsed.
            request = method = target = "-"
        elif version is None:
            request = f"{method} {target}"
        else:
            request = f"{method} {target} HTTP/{version}"
        referer = userAgent = "-"
        for name, value in exchange.headers:
            if name == b"referer":
                referer = value.decode("latin-1")
            elif name == b"user-agent":
                userAgent = value.decode("latin-1")
        client = client[0] if client is not None else "-"
        status = "-" if status is None else status
        mount = exchange.mount or "-"
        record = (
            self._format,
            now,
            client,
            startTime[1],
            request,
            method,
            target,
            version or "-",
            status,
            sent or "-",
            sent,
            referer,
            userAgent,
            duration,
            exchange.outcome,
            mount,
        )
        if write is not None:
            write(record)
            return
        self.observer(self._event(exchange, record))

    def _event(self, exchange, record):
        """
        The log event of a finished request or WebSocket session, for
        observers of the C{gracehttp.access} namespace.

        @param record: its fields (see L{_RECORD}).
        @rtype: L{AccessEvent}
        """
        event = AccessEvent(
            zip(_RECORD, record, strict=True),
            log_logger=self._logger,
            log_level=LogLevel.info,
            log_namespace=NAMESPACE,
            log_source=None,
            durationMs=record[13] * 1000.0,
            **_NOT_A_SESSION,
        )
        if type(exchange) is Session:
            code = exchange.closeCode
            event["log_format"] = self._sessionFormat
            event["messagesIn"] = exchange.messagesReceived
            event["bytesIn"] = exchange.bytesReceived
            event["messagesOut"] = exchange.messagesSent
            event["bytesOut"] = exchange.bytesSent
            event["closeCode"] = "-" if code is None else code
        return event
