"""
What the access log adds to a request, without sockets.

    PYTHONPATH=src python bench/accesslog.py                # off, json, text, file
    PYTHONPATH=src python bench/accesslog.py --per-turn 1   # one request per reactor turn

The parsing benchmark's 10,000 GETs (C{bench/parsing.py}, answered at
once), one read each, on an C{HTTPChannel} over a C{StringTransport}, with
the server state's access log:

  - C{off}: none (C{--access-log off});
  - C{json}: C{twist}'s JSON log as C{twist gracehttp} sets it up (its
    observer behind C{twist}'s level filter, access lines written
    directly), to a file;
  - C{text}: the same with C{twist --log-format text};
  - C{file}: C{--access-log PATH};
  - C{event}: C{json} with another observer on the log publisher, so that
    every request is an event that goes through it.

The reactor (a C{MemoryReactorClock}) turns every C{--per-turn} requests,
which writes the lines of the turn.  CPU time per request, best and median
of 9 runs, with the garbage collector on.  Syscalls and the event loop are
not in it, so the share of the access log is larger here than in a real
server; compare the modes with each other, on one machine, in one run.
"""

import argparse
import gc
import os
import sys
import tempfile
import time
import timeit

from parsing import REQUEST, Answer
from twisted.internet.testing import MemoryReactorClock, StringTransport
from twisted.logger import FilteringLogObserver, LogLevel, LogLevelFilterPredicate, LogPublisher

from gracehttp._core.accesslog import AccessLog
from gracehttp._core.logwriter import ProcessLog, accessLogFile
from gracehttp._core.serverstate import ServerState
from gracehttp._protocols.http11 import HTTPFactory
from gracehttp._settings import HTTPSettings

REQUESTS = 10_000
MODES = ("off", "json", "text", "file", "event")


def accessLog(mode, reactor, path):
    """
    @return: the access log of C{mode}, writing to C{path}, or L{None}.
    """
    if mode == "off":
        return None
    if mode == "file":
        return AccessLog(reactor, observer=accessLogFile(path, reactor))
    publisher = LogPublisher()
    processLog = ProcessLog("text" if mode == "text" else "json", reactor, LogLevel.info, publisher)
    observer = processLog(open(path, "w"))
    publisher.addObserver(FilteringLogObserver(observer, [LogLevelFilterPredicate()]))
    if mode == "event":
        publisher.addObserver(lambda event: None)
    log = AccessLog(reactor)
    log.observer = processLog.publishAccess
    log.direct = processLog.direct
    return log


def runner(mode, perTurn, path):
    """
    @return: a function that feeds the requests once.
    """
    reactor = MemoryReactorClock()
    reactor.running = True
    state = ServerState(reactor, requestLog=accessLog(mode, reactor, path))
    channel = HTTPFactory(Answer(), reactor, HTTPSettings(), serverState=state).buildProtocol(None)
    transport = StringTransport()
    channel.makeConnection(transport)

    def run():
        for _ in range(REQUESTS // perTurn):
            for _ in range(perTurn):
                channel.dataReceived(REQUEST)
                transport.clear()
            reactor.advance(0)

    return run


def main(argv):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("modes", nargs="*", default=MODES[:4], help=", ".join(MODES))
    parser.add_argument("--per-turn", type=int, default=16, help="requests per reactor turn")
    options = parser.parse_args(argv)
    with tempfile.TemporaryDirectory() as directory:
        for mode in options.modes:
            run = runner(mode, options.per_turn, os.path.join(directory, mode + ".log"))
            run()
            gc.collect()
            times = sorted(
                timeit.repeat(run, setup="gc.enable()", number=1, repeat=9, timer=time.process_time)
            )
            best, median = times[0] / REQUESTS * 1e6, times[4] / REQUESTS * 1e6
            print(f"{mode}: best {best:.2f} us/request, median {median:.2f} us/request")


if __name__ == "__main__":
    main(sys.argv[1:])
