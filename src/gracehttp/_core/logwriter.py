"""
Writing log lines in batches: one C{write()} per reactor turn, not one per
line.

A busy server finishes many requests in one turn of the reactor (one
return from C{epoll}), and each is one access log line.  Written one by one,
with a flush after each (as L{twisted.logger.FileLogObserver} does), every
line is one C{write()} system call; at tens of thousands of requests a
second that costs as much as the rest of the access log.  A
L{BatchedWriter} keeps the lines of a turn in a list and writes them with
one C{write()} when the turn is over (a C{callLater(0)}, which runs at the
start of the next turn, after the I/O of this one).

Nothing logged is lost when the process ends, other than by a signal that
cannot be caught (C{SIGKILL}) or C{os._exit()} within the same turn:

  - while the reactor is not running (before it starts, after it stopped)
    a line is written at once;
  - the reactor's C{shutdown} trigger (phase C{after}) writes what is
    pending when it stops, orderly or not (C{reactor.stop()} after an
    unhandled error, a C{SIGTERM});
  - an C{atexit} handler writes what is pending when the interpreter exits
    by another way (an exception out of C{reactor.run()}, C{sys.exit()}).

L{ProcessLogObserver} is the observer C{twist gracehttp} gives C{twist}
for the process's log (in place of C{twist}'s own
L{textFileLogObserver<twisted.logger.textFileLogObserver>} or
L{jsonFileLogObserver<twisted.logger.jsonFileLogObserver>}): it writes the
same text or JSON, through a L{BatchedWriter}.  An access log event
(L{AccessEvent<gracehttp._core.accesslog.AccessEvent>}) formats itself
from its fields, without Twisted's generic formatting and flattening, and
waits for the end of the turn; any other event is formatted by Twisted and
written at once, after the access lines before it, so an error is seen
when it happens.
"""

import atexit
import contextlib
import sys

from twisted.logger import (
    ILogObserver,
    LogLevel,
    formatEvent,
    formatEventAsClassicLogText,
    formatTime,
    globalLogPublisher,
)
from twisted.logger import eventAsJSON as _eventAsJSON
from twisted.python.compat import ioType
from twisted.python.threadable import isInIOThread
from zope.interface import implementer

from gracehttp._core.accesslog import DROP, NAMESPACE, AccessEvent, requestJSON, requestLine


class BatchedWriter:
    """
    Writes text to a file in batches, one C{write()} and C{flush()} per
    reactor turn; see the module docstring.
    """

    def __init__(self, outFile, reactor, registerAtExit=atexit.register):
        """
        @param outFile: where the text goes: a text file (written L{str}) or
            a binary one (written UTF-8).
        @param reactor: the reactor whose turns the batches follow.
        @type reactor: L{twisted.internet.interfaces.IReactorTime} and
            L{twisted.internet.interfaces.IReactorCore}
        @param registerAtExit: registers a callable to run at interpreter
            exit (L{atexit.register}).
        """
        self._file = outFile
        self._encoding = None if ioType(outFile) is str else "utf-8"
        self._reactor = reactor
        self._pending = []
        self._call = None
        reactor.addSystemEventTrigger("after", "shutdown", self.flush)
        registerAtExit(self.flush)

    def write(self, text):
        """
        Write C{text} at the end of this reactor turn (at once if the
        reactor is not running).  Only from the reactor's thread.

        @type text: L{str}
        """
        self._pending.append(text)
        if self._call is None:
            if self._reactor.running:
                self._call = self._reactor.callLater(0, self.flush)
            else:
                self.flush()

    def writeNow(self, text):
        """
        Write C{text} at once: after the pending lines, from the reactor's
        thread; alone, from another thread (a WSGI application's, logging),
        which leaves the pending lines and the reactor's timers alone.

        @type text: L{str}
        """
        if isInIOThread():
            self._pending.append(text)
            self.flush()
        else:
            self._write(text)

    def flush(self):
        """
        Write what is pending now, with one C{write()}, and flush the file.
        A write that fails (a full disk, a closed pipe) drops what was
        pending and says so on standard error.
        """
        call, self._call = self._call, None
        if call is not None and call.active():
            call.cancel()
        if not self._pending:
            return
        text = "".join(self._pending)
        self._pending = []
        self._write(text)

    def _write(self, text):
        """
        Write C{text} to the file and flush it; see L{flush}.
        """
        if self._encoding is not None:
            text = text.encode(self._encoding)
        try:
            self._file.write(text)
            self._file.flush()
        except (OSError, ValueError) as e:
            with contextlib.suppress(Exception):
                sys.stderr.write(f"gracehttp: cannot write the log: {e}\n")


_SYSTEM = f" [{NAMESPACE}#info] "


@implementer(ILogObserver)
class ProcessLogObserver:
    """
    The process's log, as C{twist} writes it (text or JSON), through a
    L{BatchedWriter}; see the module docstring.
    """

    def __init__(self, writer, logFormat="text"):
        """
        @param writer: where the text goes.
        @type writer: L{BatchedWriter}
        @param logFormat: C{"text"} (C{twist}'s text: an RFC 3339
            timestamp, C{[namespace#level]}, the message) or C{"json"}
            (one JSON object per event after an RS character, as
            L{eventAsJSON<twisted.logger.eventAsJSON>} makes it).
        @type logFormat: L{str}
        """
        self._writer = writer
        self._json = logFormat == "json"
        # (second, its RFC 3339 text) of the last access event's log_time.
        self._time = (None, "")

    def __call__(self, event):
        writer = self._writer
        if type(event) is AccessEvent:
            if self._json:
                self.writeJSON(event.json())
            else:
                self._writeLine(event["log_time"], event.line())
            return
        if self._json:
            text = "\x1e" + _eventAsJSON(event) + "\n"
        else:
            text = formatEventAsClassicLogText(event)
        if text:
            writer.writeNow(text)

    def writeJSON(self, text):
        """
        Write an event already serialised: one JSON object.

        @type text: L{str}
        """
        self._writer.write("\x1e" + text + "\n")

    def writeRequestJSON(self, record):
        """
        Write an HTTP request's access event, as JSON, from its fields.

        @param record: see L{requestJSON<gracehttp._core.accesslog.requestJSON>}.
        """
        self._writer.write("\x1e" + requestJSON(record) + "\n")

    def writeRequestText(self, record):
        """
        Write an HTTP request's access event, as text, from its fields.

        @param record: see L{requestLine<gracehttp._core.accesslog.requestLine>}.
        """
        self._writeLine(record[1], requestLine(record))

    def _writeLine(self, when, line):
        """
        Write an access log line as C{twist}'s text log does: timestamp,
        C{[gracehttp.access#info]}, the line (a line break in it followed
        by a tab).

        @param when: the event's C{log_time}.
        """
        if "\n" in line:
            line = line.replace("\n", "\n\t")
        self._writer.write(self._timestamp(when) + _SYSTEM + line + "\n")

    def _timestamp(self, when):
        """
        @param when: a POSIX timestamp.
        @return: C{twist}'s timestamp of it, computed once per second.
        @rtype: L{str}
        """
        second = int(when)
        cached = self._time
        if cached[0] != second:
            cached = self._time = (second, formatTime(second))
        return cached[1]


class ProcessLog:
    """
    The process's log under C{twist gracehttp}: the factory C{twist} makes
    its log observer with (a L{ProcessLogObserver}), and the shortest way
    for access log events to reach it.

    C{twist} puts its observer on the global log publisher behind a level
    filter; every event goes through both, which costs more than writing
    the line.  While that observer is the publisher's only one, an access
    log event is handed to it directly (if the log level lets C{info}
    events through: the filter's verdict for the C{gracehttp.access}
    namespace, taken once), and an HTTP request's is not even built: its
    line is made from its fields (L{direct}).  As soon as another observer is added (an
    application's, a monitoring library's), access events go through the
    publisher again, so every observer of the C{gracehttp.access}
    namespace gets them.
    """

    def __init__(self, logFormat, reactor, level=LogLevel.info, publisher=globalLogPublisher):
        """
        @param logFormat: C{"text"} or C{"json"}; see L{ProcessLogObserver}.
        @param reactor: see L{BatchedWriter}.
        @param level: the lowest level C{twist} logs.
        @type level: L{LogLevel}
        @param publisher: the global log publisher.
        @type publisher: L{twisted.logger.LogPublisher}
        """
        self._format = logFormat
        self._reactor = reactor
        self._infoLogged = not LogLevel.info < level
        self._publisher = publisher
        self._wrapper = None
        self.observer = None

    def __call__(self, outFile):
        """
        Make the observer of the process's log (what C{twist} calls its
        C{fileLogObserverFactory}).

        @param outFile: the log file.
        @rtype: L{ProcessLogObserver}
        """
        self.observer = ProcessLogObserver(BatchedWriter(outFile, self._reactor), self._format)
        return self.observer

    def serve(self, accessLog):
        """
        Make C{accessLog} write through this log: its events through
        L{publishAccess}, an HTTP request's line straight from its fields
        through L{direct}.

        @type accessLog: L{AccessLog<gracehttp._core.accesslog.AccessLog>}
        """
        accessLog.observer = self.publishAccess
        accessLog.direct = self.direct

    def publishAccess(self, event):
        """
        Log an access log event: straight to L{observer} while it is the
        publisher's only observer, else through the publisher.

        @type event: L{AccessEvent}
        """
        if self._alone():
            if self._infoLogged:
                self.observer(event)
        else:
            self._publisher(event)

    def direct(self):
        """
        @return: while L{observer} is the publisher's only observer, a
            callable that writes an HTTP request's access event from its
            fields (or L{DROP}, if the log level drops C{info} events),
            for L{AccessLog.direct<gracehttp._core.accesslog.AccessLog>};
            otherwise L{None}.
        """
        if not self._alone():
            return None
        if not self._infoLogged:
            return DROP
        if self._format == "json":
            return self.observer.writeRequestJSON
        return self.observer.writeRequestText

    def _alone(self):
        """
        @return: whether the publisher's one observer is C{twist}'s filter
            in front of L{observer} (looked for in the publisher's list of
            observers, a private attribute; without it, never).
        @rtype: L{bool}
        """
        observers = getattr(self._publisher, "_observers", ())
        if len(observers) != 1:
            return False
        if observers[0] is self._wrapper:
            return True
        if self.observer is not None and getattr(observers[0], "_observer", None) is self.observer:
            self._wrapper = observers[0]
            return True
        return False


@implementer(ILogObserver)
class AccessLogFile:
    """
    The observer of C{--access-log PATH}: each access log event is one line
    of text (the formatted line, nothing else), written through a
    L{BatchedWriter}.
    """

    def __init__(self, writer):
        """
        @type writer: L{BatchedWriter}
        """
        self._writer = writer

    def __call__(self, event):
        line = event.line() if type(event) is AccessEvent else formatEvent(event)
        self._writer.write(line + "\n")

    def flush(self):
        """
        Write the pending lines now.
        """
        self._writer.flush()

    def direct(self):
        """
        @return: what writes an HTTP request's line from its fields, for
            L{AccessLog.direct<gracehttp._core.accesslog.AccessLog>}.
        """
        return self._writeRequest

    def _writeRequest(self, record):
        self._writer.write(requestLine(record) + "\n")


def accessLogFile(path, reactor):
    """
    The observer that appends each access log event to a file as one line.

    @param path: the file; created if missing, appended to.
    @type path: L{str}
    @param reactor: see L{BatchedWriter}.
    @rtype: L{AccessLogFile}
    @raise OSError: the file cannot be opened.
    """
    outFile = open(path, "a", encoding="utf-8", errors="replace")
    return AccessLogFile(BatchedWriter(outFile, reactor))
