"""
Micro-benchmark of the HTTP/1.1 channel's request path, without sockets: an
L{HTTPChannel<gracehttp._protocols.http11.HTTPChannel>} on a L{StringTransport} is fed
10,000 pipelined GET requests (64 KiB reads, or one request per read with
C{--single}), answered at once by a minimal adapter; or, with C{--chunk N},
a 16 MiB chunked upload in N-byte chunks (256 KiB reads), drained as it
arrives.  Prints the best and median CPU time of C{--repeat} runs.

Run it against a source tree to compare two versions on one machine::

    PYTHONPATH=src python bench/parsing.py
    PYTHONPATH=src python bench/parsing.py --chunk 1024

CPU times on a shared machine vary by several per cent from run to run.
Instruction counts do not (less than 0.5%): run it under valgrind's
callgrind with C{--repeat 1} and C{--repeat 3} (each also runs once to warm
up) and halve the difference of the two totals, which leaves out the
interpreter's start and the imports::

    PYTHONHASHSEED=0 PYTHONPATH=src valgrind --tool=callgrind \
        --callgrind-out-file=/tmp/cg.1 python bench/parsing.py --repeat 1
    PYTHONHASHSEED=0 PYTHONPATH=src valgrind --tool=callgrind \
        --callgrind-out-file=/tmp/cg.3 python bench/parsing.py --repeat 3
    grep ^summary /tmp/cg.1 /tmp/cg.3

That is the instructions of one run (10,000 requests, or one 16 MiB
upload).
"""

import argparse
import sys
import time
import timeit

from twisted.internet.testing import MemoryReactorClock, StringTransport
from zope.interface import implementer

from gracehttp._core.interfaces import IAppAdapter
from gracehttp._protocols.http11 import HTTPFactory
from gracehttp._settings import HTTPSettings

REQUEST = (
    b"GET /items/42?x=1 HTTP/1.1\r\nHost: localhost:8000\r\nUser-Agent: bench/1.0\r\n"
    b"Accept: */*\r\nAccept-Encoding: gzip\r\n\r\n"
)
REQUESTS = 10_000
UPLOAD = 16 * 1024 * 1024


@implementer(IAppAdapter)
class Answer:
    """
    Answers each request at once: 200 with a 2-byte body, once its body is
    complete (reading the body as it arrives).
    """

    interface = "bench"

    def handle(self, exchange):
        exchange.appStarted(None)

        def wake():
            exchange.readBody()
            if exchange.bodyComplete and not exchange.responseStarted:
                exchange.startResponse(200, [(b"content-length", b"2")])
                exchange.write(b"ok")
                exchange.finish()
                exchange.appFinished()

        exchange.wake = wake
        wake()

    def startup(self):
        pass

    def shutdown(self):
        pass


def reads(options):
    """
    @return: the reads to feed, in order.
    @rtype: L{list} of L{bytes}
    """
    if options.chunk:
        size = options.chunk
        chunk = b"%x\r\n" % size + b"x" * size + b"\r\n"
        stream = (
            b"POST /upload HTTP/1.1\r\nHost: localhost:8000\r\nTransfer-Encoding: chunked\r\n\r\n"
            + chunk * (UPLOAD // size)
            + b"0\r\n\r\n"
        )
        step = 256 * 1024
    elif options.single:
        return [REQUEST] * REQUESTS
    else:
        stream = REQUEST * REQUESTS
        step = 64 * 1024
    return [stream[i : i + step] for i in range(0, len(stream), step)]


def run(data):
    factory = HTTPFactory(Answer(), MemoryReactorClock(), HTTPSettings())
    channel = factory.buildProtocol(None)
    transport = StringTransport()
    channel.makeConnection(transport)
    for piece in data:
        channel.dataReceived(piece)
        transport.clear()


def main(argv):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--single", action="store_true", help="one request per read")
    parser.add_argument(
        "--chunk", type=int, default=0, help="a chunked upload in chunks of N bytes"
    )
    parser.add_argument("--repeat", type=int, default=15, help="runs (default 15)")
    options = parser.parse_args(argv)
    data = reads(options)
    run(data)
    times = sorted(
        timeit.repeat(lambda: run(data), number=1, repeat=options.repeat, timer=time.process_time)
    )
    best, median = times[0], times[len(times) // 2]
    if options.chunk:
        print(
            f"16 MiB in {options.chunk}-byte chunks:"
            f" best {best * 1e3:.1f} ms, median {median * 1e3:.1f} ms"
        )
    else:
        print(
            f"{REQUESTS} requests: best {best / REQUESTS * 1e6:.2f} us/request,"
            f" median {median / REQUESTS * 1e6:.2f} us/request"
        )


if __name__ == "__main__":
    main(sys.argv[1:])
