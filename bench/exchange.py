"""
Micro-benchmark of one exchange's hello-world path, without a protocol: an
L{Exchange<gracehttp._core.exchange.Exchange>} on a channel that does
nothing is created, started, answered (C{startResponse}, one C{write},
C{finish}) and finished, as an adapter does for C{GET /}.  Prints the best
and median CPU time per exchange over C{--repeat} runs of C{--number}
exchanges.

Run it against two source trees to compare them on one machine::

    PYTHONPATH=src python bench/exchange.py
"""

import argparse
import sys
import time
import timeit

from zope.interface import implementer

from gracehttp._core.exchange import Exchange
from gracehttp._core.interfaces import IExchangeChannel

HEADERS = [(b"content-type", b"text/plain"), (b"content-length", b"13")]


@implementer(IExchangeChannel)
class NullChannel:
    """
    An L{IExchangeChannel} that does nothing, so that only the exchange is
    measured.
    """

    def writeHead(self, exchange, status, headers):
        pass

    def retractHead(self, exchange):
        return False

    def writeBody(self, exchange, data):
        pass

    def finishResponse(self, exchange):
        pass

    def abortResponse(self, exchange):
        pass

    def exchangeFinished(self, exchange):
        pass

    def bodyConsumed(self, exchange, size):
        pass

    def continueWanted(self, exchange):
        pass


class WallClock:
    """
    The reactor's time source (L{time.time}); nothing is scheduled on the
    hello-world path.
    """

    seconds = staticmethod(time.time)


def cancel():
    pass


CHANNEL = NullChannel()
CLOCK = WallClock()


def run(number, channel=CHANNEL, clock=CLOCK):
    """
    Run C{number} hello-world exchanges.
    """
    for _ in range(number):
        exchange = Exchange(channel, clock, 3.0)
        exchange.appStarted(cancel)
        exchange.startResponse(200, HEADERS)
        exchange.write(b"Hello, world!")
        exchange.finish()
        exchange.appFinished()


def main(argv):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--number", type=int, default=100_000, help="exchanges per run")
    parser.add_argument("--repeat", type=int, default=15, help="runs (default 15)")
    options = parser.parse_args(argv)
    number = options.number
    run(number)
    times = sorted(
        timeit.repeat(
            lambda: run(number),
            number=1,
            repeat=options.repeat,
            timer=time.process_time,
        )
    )
    best, median = times[0], times[len(times) // 2]
    print(
        f"{number} exchanges: best {best / number * 1e6:.3f} us/exchange,"
        f" median {median / number * 1e6:.3f} us/exchange"
    )


if __name__ == "__main__":
    main(sys.argv[1:])
