"""
The WebSocket load generator of C{bench/ws.py}: C{picows} (a WebSocket
client compiled with Cython; frames are parsed, masked and built in C) on
C{uvloop}, in a process of its own, run by the peers' virtualenv's Python.

    python wsclient.py echo --url ws://127.0.0.1:PORT/ --connections 64 --size 32
    python wsclient.py idle --url ws://127.0.0.1:PORT/ --count 1000

C{echo}: C{--connections} WebSockets each send one message of C{--size}
bytes (text if C{--text}, else binary), wait for the whole echo, check its
length and send the next; after C{--warmup} seconds the echoes that
complete during C{--duration} seconds are counted.  Prints one JSON object:
C{messages} (echoes in the window), C{rate} (messages/s), C{mibps}
(echoed payload MiB/s, one direction), C{p50} and C{p99} (round trip,
milliseconds), C{clientCPU} and C{serverCPU} (CPU seconds per second of the
window: this process's, from C{getrusage}, and the C{--server-pids}', from
C{/proc/PID/task/TID/schedstat}; a client near 1.0 would mean the client,
not the server, set the pace), C{serverWait} (seconds per second the
server's threads were runnable but waited for a CPU: something else ran
on its CPU), C{connected}, C{errors}.

C{idle}: opens C{--count} WebSockets one after the other (for at most
C{--deadline} seconds), each checked by one echoed message, prints
C{{"opened": N, "errors": E}}, then waits for a line on standard input
(the harness reads the server's RSS meanwhile), prints C{{"open": N}}
(how many the server still holds open) and closes them.

Every wait is bounded: a connection that does not connect or echo within
C{--timeout} seconds counts as an error, and the run stops after the
window even if echoes are missing.
"""

import argparse
import asyncio
import json
import os
import resource
import sys
import time

from measure import schedTimes
from picows import WSListener, WSMsgType, ws_connect

_DATA = (WSMsgType.TEXT, WSMsgType.BINARY, WSMsgType.CONTINUATION)


class Echo:
    """
    The shared state of an C{echo} run: the message, the counting window
    and the round-trip times recorded in it.
    """

    def __init__(self, size, text):
        self.msgType = WSMsgType.TEXT if text else WSMsgType.BINARY
        self.payload = b"x" * size if text else os.urandom(size)
        self.size = size
        self.windowStart = self.windowEnd = float("inf")
        self.running = True
        self.times = []
        self.errors = 0
        self.outstanding = 0
        self.drained = None

    def completed(self, sentAt, now):
        """
        Count one echo that arrived at C{now} for a message sent at
        C{sentAt} (seconds, C{perf_counter}).
        """
        if self.windowStart <= now < self.windowEnd:
            self.times.append(now - sentAt)


class EchoListener(WSListener):
    """
    One connection of an C{echo} run: sends, waits for the echo, sends.
    """

    def __init__(self, run):
        self.run = run
        self.received = 0
        self.sentAt = 0.0
        self.transport = None

    def on_ws_connected(self, transport):
        self.transport = transport

    def send(self):
        self.run.outstanding += 1
        self.sentAt = time.perf_counter()
        self.transport.send(self.run.msgType, self.run.payload)

    def on_ws_frame(self, transport, frame):
        if frame.msg_type not in _DATA:
            return
        self.received += frame.payload_size
        if not frame.fin:
            return
        run = self.run
        now = time.perf_counter()
        run.outstanding -= 1
        if self.received != run.size:
            run.errors += 1
        else:
            run.completed(self.sentAt, now)
        self.received = 0
        if run.running:
            self.send()
        elif run.outstanding == 0 and run.drained is not None:
            run.drained.set()

    def on_ws_disconnected(self, transport):
        if self.run.running:
            self.run.errors += 1


def _selfCPU():
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


async def connectAll(factory, url, count, timeout):
    """
    Open C{count} WebSockets at once.

    @return: the C{(transport, listener)} pairs that connected, and how many
        did not.
    """
    attempts = [
        asyncio.wait_for(
            ws_connect(
                factory, url, max_frame_size=64 * 2**20, websocket_handshake_timeout=timeout
            ),
            timeout,
        )
        for _ in range(count)
    ]
    results = await asyncio.gather(*attempts, return_exceptions=True)
    pairs = [r for r in results if not isinstance(r, BaseException)]
    return pairs, count - len(pairs)


async def echo(args):
    run = Echo(args.size, args.text)
    pairs, failed = await connectAll(
        lambda: EchoListener(run), args.url, args.connections, args.timeout
    )
    pids = [int(p) for p in args.server_pids.split(",") if p]
    started = time.perf_counter()
    run.windowStart = started + args.warmup
    run.windowEnd = run.windowStart + args.duration
    for _, listener in pairs:
        listener.send()
    await asyncio.sleep(args.warmup)
    cpu0, sched0 = _selfCPU(), schedTimes(pids)
    await asyncio.sleep(args.duration)
    cpu1, sched1 = _selfCPU(), schedTimes(pids)
    run.running = False
    run.drained = asyncio.Event()
    if run.outstanding:
        try:
            await asyncio.wait_for(run.drained.wait(), args.timeout)
        except TimeoutError:
            run.errors += run.outstanding
    for transport, _ in pairs:
        transport.send_close()
        transport.disconnect()
    times = sorted(run.times)
    return {
        "messages": len(times),
        "rate": len(times) / args.duration,
        "mibps": len(times) * args.size / args.duration / 2**20,
        "p50": _percentile(times, 0.50),
        "p99": _percentile(times, 0.99),
        "clientCPU": (cpu1 - cpu0) / args.duration,
        "serverCPU": (sched1[0] - sched0[0]) / 1e9 / args.duration if pids else None,
        "serverWait": (sched1[1] - sched0[1]) / 1e9 / args.duration if pids else None,
        "connected": len(pairs),
        "errors": run.errors + failed,
    }


def _percentile(times, fraction):
    if not times:
        return None
    return round(times[min(len(times) - 1, int(len(times) * fraction))] * 1000, 3)


class IdleListener(WSListener):
    """
    One connection of an C{idle} run: one echo, then nothing.
    """

    def __init__(self):
        self.echoed = asyncio.get_running_loop().create_future()
        self.closed = False

    def on_ws_frame(self, transport, frame):
        if frame.msg_type in _DATA and frame.fin and not self.echoed.done():
            self.echoed.set_result(None)

    def on_ws_disconnected(self, transport):
        self.closed = True


async def idle(args):
    opened = []
    errors = 0
    deadline = time.monotonic() + args.deadline
    for _ in range(args.count):
        if time.monotonic() > deadline:
            break
        try:
            transport, listener = await asyncio.wait_for(
                ws_connect(IdleListener, args.url, websocket_handshake_timeout=args.timeout),
                args.timeout,
            )
            transport.send(WSMsgType.TEXT, b"hello")
            await asyncio.wait_for(asyncio.shield(listener.echoed), args.timeout)
            opened.append((transport, listener))
        except Exception:  # refused, reset, timed out, bad handshake
            errors += 1
    _emit({"opened": len(opened), "errors": errors})
    await asyncio.get_running_loop().run_in_executor(None, sys.stdin.readline)
    stillOpen = sum(1 for t, listener in opened if not listener.closed and not t.is_disconnected)
    for transport, _ in opened:
        transport.disconnect(graceful=False)
    return {"open": stillOpen}


def _emit(obj):
    sys.stdout.write(json.dumps(obj) + "\n")
    sys.stdout.flush()


def parseArgs(argv):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("mode", choices=["echo", "idle"])
    parser.add_argument("--url", required=True)
    parser.add_argument("--connections", type=int, default=64)
    parser.add_argument("--size", type=int, default=32, help="message bytes")
    parser.add_argument("--text", action="store_true", help="text messages (default binary)")
    parser.add_argument("--duration", type=float, default=5.0, help="seconds counted")
    parser.add_argument("--warmup", type=float, default=1.0, help="seconds before counting")
    parser.add_argument("--count", type=int, default=1000, help="idle connections")
    parser.add_argument("--timeout", type=float, default=10.0, help="seconds per wait")
    parser.add_argument(
        "--deadline", type=float, default=60.0, help="seconds to open the idle connections"
    )
    parser.add_argument("--server-pids", default="", help="comma-separated, for serverCPU")
    return parser.parse_args(argv)


def main(argv):
    args = parseArgs(argv)
    coroutine = echo(args) if args.mode == "echo" else idle(args)
    try:
        import uvloop
    except ImportError:
        result = asyncio.run(coroutine)
    else:
        result = uvloop.run(coroutine)
    _emit(result)


if __name__ == "__main__":
    main(sys.argv[1:])
