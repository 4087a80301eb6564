"""
A worker process: C{python -m gracehttp._workers.worker}, started by the
parent (L{gracehttp._workers.process}) with the listening sockets as
inherited descriptors.

Theory of operation
===================

The parent passes a JSON description of the worker in the environment
variable C{GRACEHTTP_WORKER} (removed before the application is imported):
the application reference and mounts, the settings
(L{Config.toDict<gracehttp._config.Config.toDict>}), each socket's
descriptor, address family and C{--listen} value, the descriptor of the
status pipe, and how to log (C{text} or C{json}, at which level; the log
goes to descriptor 1, which the parent points at its own log file).

Logging begins with Twisted's own observer (so that a failure to load
the application is logged); once the service is built, and so the reactor
chosen, the worker logs as one process does under C{twist gracehttp},
through a L{ProcessLog<gracehttp._core.logwriter.ProcessLog>} (access log
lines made from their fields and written once per reactor turn).

The worker loads the application and builds the same service a single
process would (L{gracehttp._service.buildService}), with an
L{AdoptedEndpoint<gracehttp._workers.binding.AdoptedEndpoint>} per socket,
so the lifespan startup runs before it accepts anything, as in one
process.  Once it listens it writes C{ready} on the status pipe.  A start
that fails is logged by the service and the process exits with status 1
before it said C{ready}.

C{SIGTERM} (and C{SIGINT}) run the service's graceful stop, then the
process exits 0.  Descriptor 0 is a pipe from the parent that is never
written: when it reads end-of-file the parent is gone, and the worker
stops gracefully too, so no worker outlives a parent that was killed.
"""

import io
import json
import os
import select
import sys

from twisted.logger import (
    FilteringLogObserver,
    Logger,
    LogLevel,
    LogLevelFilterPredicate,
    globalLogBeginner,
    globalLogPublisher,
    jsonFileLogObserver,
    textFileLogObserver,
)

from gracehttp._workers.process import SPEC_VARIABLE

_log = Logger()


def main(environ=os.environ):
    """
    Run one worker; see the module docstring.

    @param environ: the environment with L{SPEC_VARIABLE}; the variable is
        removed from it.
    """
    spec = json.loads(environ.pop(SPEC_VARIABLE))
    first = _beginLogging(spec["logFormat"], spec["logLevel"])
    from gracehttp import _service
    from gracehttp._config import Config
    from gracehttp._errors import AppLoadError

    config = Config.fromDict(spec["config"])
    mounts = {prefix: (reference, interface) for prefix, reference, interface in spec["mounts"]}
    try:
        service = _service.buildService(
            spec["app"],
            config,
            None,
            True,
            mounts or None,
            endpointsFor=lambda reactor: _adopted(reactor, spec["sockets"], config),
        )
    except (ValueError, OSError, AppLoadError) as e:
        _log.error("gracehttp worker failed to start: {reason}", reason=str(e))
        raise SystemExit(1) from None
    from twisted.internet import reactor

    _batchLogging(
        service,
        config.accessLog,
        first,
        spec["logFormat"],
        spec["logLevel"],
        reactor,
        globalLogPublisher,
        SharedOutput(1),
    )
    _run(service, spec["status"])


def _adopted(reactor, sockets, config):
    from gracehttp._workers.binding import AdoptedEndpoint

    return [
        AdoptedEndpoint(
            reactor, each["fd"], each["family"], each["description"], config.timeoutHeader
        )
        for each in sockets
    ]


def _beginLogging(logFormat, levelName):
    """
    Log to descriptor 1, one line (or JSON record) per event, written
    whole, at C{levelName} and above, until L{_batchLogging} takes over.

    @return: the observer logging begins with.
    """
    output = open(1, "w", buffering=1, encoding="utf-8", closefd=False)
    makeObserver = jsonFileLogObserver if logFormat == "json" else textFileLogObserver
    predicate = LogLevelFilterPredicate(defaultLogLevel=LogLevel.levelWithName(levelName))
    first = FilteringLogObserver(makeObserver(output), [predicate])
    globalLogBeginner.beginLoggingTo([first])
    return first


def _batchLogging(service, accessLog, first, logFormat, levelName, reactor, publisher, output):
    """
    Once the reactor is chosen (the service is built), log as C{twist
    gracehttp} does in one process: through a
    L{ProcessLog<gracehttp._core.logwriter.ProcessLog>} (the same text or
    JSON, written once per reactor turn, access log lines made from their
    fields), in place of the observer logging began with.

    @param service: the worker's service.
    @param accessLog: the C{accessLog} setting.
    @param first: the observer to replace.
    @param logFormat: C{"text"} or C{"json"}.
    @param levelName: the lowest level logged.
    @param reactor: the reactor whose turns the writes follow.
    @param publisher: the global log publisher.
    @param output: where the log goes (descriptor 1).
    """
    from gracehttp._core.logwriter import ProcessLog

    level = LogLevel.levelWithName(levelName)
    processLog = ProcessLog(logFormat, reactor, level, publisher)
    predicate = LogLevelFilterPredicate(defaultLogLevel=level)
    publisher.addObserver(FilteringLogObserver(processLog(output), [predicate]))
    publisher.removeObserver(first)
    if accessLog == "-":
        processLog.serve(service.accessLog)


class SharedOutput(io.RawIOBase):
    """
    Descriptor 1 as the workers share it (one pipe or file for all of
    them): what is written goes out in pieces of whole lines, each at most
    C{PIPE_BUF} bytes and written with one C{write()}, which the kernel
    keeps whole among the other workers' writes (POSIX, C{write()}: a
    write of at most C{PIPE_BUF} bytes to a pipe is not interleaved; a
    file opened to append is positioned per write).  A line longer than
    that goes in pieces of C{PIPE_BUF} bytes.
    """

    def __init__(self, fd, write=os.write):
        """
        @param fd: the descriptor.
        @param write: L{os.write}, or a test's stand-in.
        """
        super().__init__()
        self._fd = fd
        self._writeFd = write

    def writable(self):
        return True

    def write(self, data):
        """
        @type data: L{bytes}
        @return: C{len(data)}: all of it is written.
        """
        data = bytes(data)
        size = len(data)
        while data:
            cut = len(data)
            if cut > select.PIPE_BUF:
                cut = data.rfind(b"\n", 0, select.PIPE_BUF) + 1 or select.PIPE_BUF
            piece, data = data[:cut], data[cut:]
            while piece:
                piece = piece[self._writeFd(self._fd, piece) :]
        return size


def _run(service, statusFd):
    """
    Start the service once the reactor runs, say C{ready} when it listens,
    stop it gracefully before the reactor stops, and watch for the
    parent's end.
    """
    from twisted.internet import reactor

    def ready(ports):
        os.write(statusFd, b"ready\n")
        return ports

    def started():
        service.startService()
        service.whenListening().addCallbacks(ready, lambda failure: None)

    reactor.callWhenRunning(started)
    reactor.addSystemEventTrigger("before", "shutdown", service.stopService)
    reactor.addReader(_ParentLifeline(reactor, 0))
    reactor.run()


class _ParentLifeline:
    """
    The read end of a pipe the parent never writes to: end-of-file means
    the parent is gone, and the worker stops.
    """

    def __init__(self, reactor, fd):
        self._reactor = reactor
        self._fd = fd

    def fileno(self):
        return self._fd

    def logPrefix(self):
        return "gracehttp-worker"

    def doRead(self):
        try:
            data = os.read(self._fd, 4096)
        except BlockingIOError:
            return None
        except OSError:
            data = b""
        if not data:
            self._reactor.removeReader(self)
            _log.warn("gracehttp worker: the supervisor is gone; stopping")
            self._reactor.stop()
        return None

    def connectionLost(self, reason):
        pass


if __name__ == "__main__":
    main()
    sys.exit(0)
