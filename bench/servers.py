"""
The servers compared, how each is started (one process, or one master and
one worker where the server has no single-process mode), and starting,
checking and stopping one.

Every server runs from C{bench/} with C{bench/} on C{PYTHONPATH}, so the
applications are C{apps:asgi_app} and C{apps:wsgi_app}; gracehttp comes
from its own virtualenv, never from C{src/}.  Access logs are off in the
main rows (the servers' own work is measured).  Keep-alive timeouts shorter
than 5 s are raised to 5 s, and connection limits under 1,000 (waitress's
100, gunicorn's 1,000) to 2,000, so that the 1,000 idle connections are all
accepted and stay open while they are counted.  C{WS_SERVERS} are the
servers of the WebSocket benchmark and conformance run.

The I{stock} rows (issue 14) run each server as its documentation starts
it, with every default as it comes: its access log (on for gracehttp,
uvicorn and daphne; hypercorn, gunicorn and waitress have none by default),
its log level, its event loop and parser, its limits; the output goes to a
file, as under a service manager.  Only the address is given, and one
worker.  The memory checks are not run on them.
"""

import os
import signal
import socket
import subprocess
import time
from dataclasses import dataclass, field

from peers import BENCH, GRACEHTTP_VENV, VENV

HOST = "127.0.0.1"


@dataclass(frozen=True)
class Server:
    """
    One server as the benchmark runs it.

    @ivar name: short identifier (also the C{--servers} value).
    @ivar label: how the tables name it.
    @ivar interface: C{"asgi"} or C{"wsgi"}.
    @ivar argv: the command, a function of the TCP port and the gracehttp
        extra options.
    @ivar quick: part of the C{--quick} set.
    @ivar default: part of the full set.
    @ivar gracehttp: it is gracehttp.
    @ivar stock: it runs with its defaults, access log included (a stock
        row); otherwise with the benchmark's settings (access log off).
    """

    name: str
    label: str
    interface: str
    argv: object
    quick: bool = False
    default: bool = True
    gracehttp: bool = field(default=False)
    stock: bool = False


def _bin(name, venv=VENV):
    return os.path.join(venv, "bin", name)


def _gracehttp(app, option="--app", *more):
    """
    @param option: C{--app}, or C{--mount} with C{app} a C{PREFIX=REFERENCE}
        value.
    @param more: more options (e.g. C{--workers 2}).
    """

    def argv(port, extra):
        return [
            _bin("twist", GRACEHTTP_VENV),
            "--log-level=warn",
            "gracehttp",
            option,
            app,
            "--listen",
            f"tcp:{port}:interface={HOST}",
            *more,
            *extra,
        ]

    return argv


def _uvicorn(loop, http, *options):
    def argv(port, extra):
        return [
            _bin("uvicorn"),
            "apps:asgi_app",
            "--host",
            HOST,
            "--port",
            str(port),
            "--workers",
            "1",
            "--loop",
            loop,
            "--http",
            http,
            "--no-access-log",
            "--log-level",
            "warning",
            *options,
        ]

    return argv


def _gunicorn(worker, app, *options):
    def argv(port, extra):
        return [
            _bin("gunicorn"),
            "-k",
            worker,
            "-w",
            "1",
            "-b",
            f"{HOST}:{port}",
            "--keep-alive",
            "5",
            "--worker-connections",
            "2000",
            "--log-level",
            "warning",
            *options,
            app,
        ]

    return argv


def _granian(interface, app):
    def argv(port, extra):
        return [
            _bin("granian"),
            "--interface",
            interface,
            "--host",
            HOST,
            "--port",
            str(port),
            "--workers",
            "1",
            "--no-access-log",
            "--log-level",
            "warning",
            app,
        ]

    return argv


SERVERS = [
    Server(
        "gracehttp-asgi",
        "gracehttp (ASGI)",
        "asgi",
        _gracehttp("apps:asgi_app"),
        quick=True,
        gracehttp=True,
    ),
    Server(
        "uvicorn",
        "uvicorn (httptools + uvloop)",
        "asgi",
        _uvicorn("uvloop", "httptools"),
        quick=True,
    ),
    Server("uvicorn-h11", "uvicorn (h11 + asyncio)", "asgi", _uvicorn("asyncio", "h11")),
    Server("gunicorn-asgi", "gunicorn -k asgi", "asgi", _gunicorn("asgi", "apps:asgi_app")),
    Server(
        "hypercorn",
        "hypercorn",
        "asgi",
        lambda port, extra: [_bin("hypercorn"), "-w", "1", "-b", f"{HOST}:{port}", "apps:asgi_app"],
    ),
    Server(
        "daphne",
        "daphne",
        "asgi",
        lambda port, extra: [
            _bin("daphne"),
            "-v",
            "0",
            "-b",
            HOST,
            "-p",
            str(port),
            "apps:asgi_app",
        ],
        quick=True,
    ),
    Server("granian-asgi", "granian (ASGI)", "asgi", _granian("asgi", "apps:asgi_app")),
    Server(
        "gracehttp-wsgi",
        "gracehttp (WSGI)",
        "wsgi",
        _gracehttp("apps:wsgi_app"),
        quick=True,
        gracehttp=True,
    ),
    Server(
        "waitress",
        "waitress",
        "wsgi",
        lambda port, extra: [
            _bin("waitress-serve"),
            f"--listen={HOST}:{port}",
            "--connection-limit=2000",
            "apps:wsgi_app",
        ],
        quick=True,
    ),
    Server(
        "gunicorn-gthread",
        "gunicorn gthread (4 threads)",
        "wsgi",
        _gunicorn("gthread", "apps:wsgi_app", "--threads", "4"),
    ),
    Server(
        "gunicorn-sync", "gunicorn sync", "wsgi", _gunicorn("sync", "apps:wsgi_app"), default=False
    ),
    Server(
        "twist-web",
        "twist web --wsgi",
        "wsgi",
        lambda port, extra: [
            _bin("twist", GRACEHTTP_VENV),
            "--log-level=warn",
            "web",
            "--listen",
            f"tcp:{port}:interface={HOST}",
            "--wsgi",
            "apps.wsgi_app",
        ],
        quick=True,
    ),
    Server("granian-wsgi", "granian (WSGI)", "wsgi", _granian("wsgi", "apps:wsgi_app")),
    # The same applications mounted at / (--mount, no --app): what routing
    # through a mount costs (issue 13's bar); run with --servers.
    Server(
        "gracehttp-asgi-mounted",
        "gracehttp (ASGI, mounted)",
        "asgi",
        _gracehttp("/=apps:asgi_app", "--mount"),
        default=False,
        gracehttp=True,
    ),
    # Two worker processes (--workers 2) on the one server CPU: what the
    # parent and the shared sockets cost; bench/workers.py measures it
    # against one process (requests per server CPU-second, and each
    # worker's share of the requests).  Run with --servers.
    Server(
        "gracehttp-wsgi-workers2",
        "gracehttp (WSGI, 2 workers)",
        "wsgi",
        _gracehttp("apps:wsgi_app", "--app", "--workers", "2"),
        default=False,
        gracehttp=True,
    ),
    Server(
        "gracehttp-wsgi-mounted",
        "gracehttp (WSGI, mounted)",
        "wsgi",
        _gracehttp("/=apps:wsgi_app", "--mount"),
        default=False,
        gracehttp=True,
    ),
]


def _stock(name, label, interface, argv, **kwargs):
    """
    A stock row: the server started as its documentation says, defaults
    untouched (see the module docstring).

    @param argv: the command, a function of the TCP port alone.
    """
    return Server(
        name + "-stock",
        label[:-1] + ", stock)" if label.endswith(")") else label + " (stock)",
        interface,
        lambda port, extra: argv(port),
        stock=True,
        **kwargs,
    )


def _gracehttpStock(app):
    return lambda port: [
        _bin("twist", GRACEHTTP_VENV),
        "gracehttp",
        "--app",
        app,
        "--listen",
        f"tcp:{port}:interface={HOST}",
    ]


SERVERS += [
    _stock(
        "gracehttp-asgi",
        "gracehttp (ASGI)",
        "asgi",
        _gracehttpStock("apps:asgi_app"),
        gracehttp=True,
        quick=True,
    ),
    _stock(
        "uvicorn",
        "uvicorn",
        "asgi",
        lambda port: [_bin("uvicorn"), "apps:asgi_app", "--host", HOST, "--port", str(port)],
    ),
    _stock(
        "hypercorn",
        "hypercorn",
        "asgi",
        lambda port: [_bin("hypercorn"), "-b", f"{HOST}:{port}", "apps:asgi_app"],
    ),
    _stock(
        "daphne",
        "daphne",
        "asgi",
        lambda port: [_bin("daphne"), "-b", HOST, "-p", str(port), "apps:asgi_app"],
    ),
    _stock(
        "gracehttp-wsgi",
        "gracehttp (WSGI)",
        "wsgi",
        _gracehttpStock("apps:wsgi_app"),
        gracehttp=True,
        quick=True,
    ),
    _stock(
        "waitress",
        "waitress",
        "wsgi",
        lambda port: [_bin("waitress-serve"), f"--listen={HOST}:{port}", "apps:wsgi_app"],
    ),
    _stock(
        "gunicorn-gthread",
        "gunicorn gthread (4 threads)",
        "wsgi",
        lambda port: [
            _bin("gunicorn"),
            "-k",
            "gthread",
            "--threads",
            "4",
            "-b",
            f"{HOST}:{port}",
            "apps:wsgi_app",
        ],
    ),
    _stock(
        "gunicorn",
        "gunicorn (sync)",
        "wsgi",
        lambda port: [_bin("gunicorn"), "-b", f"{HOST}:{port}", "apps:wsgi_app"],
    ),
]

BY_NAME = {server.name: server for server in SERVERS}

# The WebSocket servers (bench/ws.py, bench/autobahn.py), each with its
# defaults (uvicorn's and hypercorn's 16 MiB message limit, daphne's
# autobahn settings); the ASGI app echoes WebSocket messages on any path.
WS_SERVERS = [
    Server(
        "gracehttp",
        "gracehttp",
        "asgi",
        _gracehttp("apps:asgi_app"),
        quick=True,
        gracehttp=True,
    ),
    Server(
        "uvicorn-websockets",
        "uvicorn (--ws websockets)",
        "asgi",
        _uvicorn("uvloop", "httptools", "--ws", "websockets"),
        quick=True,
    ),
    Server(
        "uvicorn-wsproto",
        "uvicorn (--ws wsproto)",
        "asgi",
        _uvicorn("uvloop", "httptools", "--ws", "wsproto"),
    ),
    Server("hypercorn", "hypercorn", "asgi", BY_NAME["hypercorn"].argv),
    Server("daphne", "daphne", "asgi", BY_NAME["daphne"].argv, quick=True),
]

WS_BY_NAME = {server.name: server for server in WS_SERVERS}


def gracehttpExtraOptions():
    """
    The gracehttp options the benchmark sets when the installed version has
    them (the hardening work adds them): no access log.

    @return: extra command-line arguments for C{twist gracehttp}.
    @rtype: L{list} of L{str}
    """
    result = subprocess.run(
        [_bin("twist", GRACEHTTP_VENV), "gracehttp", "--help"],
        capture_output=True,
        text=True,
        timeout=60,
        cwd=BENCH,
    )
    extra = []
    if "--access-log" in result.stdout:
        extra += ["--access-log", "off"]
    return extra


def freePort():
    """
    @return: a TCP port on 127.0.0.1 that was free a moment ago.
    @rtype: L{int}
    """
    with socket.socket() as s:
        s.bind((HOST, 0))
        return s.getsockname()[1]


class Running:
    """
    A started server: its process (the leader of a new session, so that its
    workers can be found and stopped with it), port and log file.
    """

    def __init__(self, server, port, process, logPath):
        self.server = server
        self.port = port
        self.process = process
        self.logPath = logPath

    def pids(self):
        """
        @return: the process ids of the server's session (the server and
            any worker processes it forked), read from C{/proc}.
        @rtype: L{list} of L{int}
        """
        session = self.process.pid
        found = []
        for entry in os.listdir("/proc"):
            if not entry.isdigit():
                continue
            try:
                with open(f"/proc/{entry}/stat") as f:
                    stat = f.read()
            except OSError:
                continue
            fields = stat[stat.rindex(")") + 2 :].split()
            if int(fields[3]) == session:
                found.append(int(entry))
        return found

    def stop(self, timeout=10.0):
        """
        SIGTERM the server's process group, wait up to C{timeout} seconds,
        then SIGKILL what is left.

        @param timeout: seconds to wait after SIGTERM.
        @type timeout: L{float}
        """
        for sig, wait in ((signal.SIGTERM, timeout), (signal.SIGKILL, 5.0)):
            try:
                os.killpg(self.process.pid, sig)
            except ProcessLookupError:
                pass
            try:
                self.process.wait(wait)
                if not self.pids():
                    return
            except subprocess.TimeoutExpired:
                pass


class StartError(Exception):
    """
    A server did not come up: it exited, or did not answer C{GET /} with
    the hello body in time.
    """


def start(server, logDir, extra, cpu, timeout=30.0, ready=None):
    """
    Start C{server} pinned to C{cpu}, wait until it accepts connections and
    answers C{GET /} correctly.

    @param server: what to start.
    @type server: L{Server}
    @param logDir: directory for the server's output.
    @param extra: extra options for gracehttp.
    @param cpu: the CPU to pin it to (C{taskset -c}), or L{None}.
    @param timeout: seconds to wait for the server to answer.
    @param ready: called with the port, returns whether the server answered
        C{GET /} correctly (default: over HTTP/1.1 in cleartext).
    @rtype: L{Running}
    @raise StartError: it did not come up.
    """
    port = freePort()
    argv = server.argv(port, extra)
    if cpu is not None:
        argv = ["taskset", "-c", str(cpu), *argv]
    env = dict(os.environ)
    env["PYTHONPATH"] = BENCH
    env["PATH"] = os.path.join(VENV, "bin") + os.pathsep + env.get("PATH", "")
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    logPath = os.path.join(logDir, server.name + ".log")
    with open(logPath, "ab") as log:
        log.write(("$ " + " ".join(argv) + "\n").encode())
        log.flush()
        process = subprocess.Popen(
            argv,
            cwd=BENCH,
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    running = Running(server, port, process, logPath)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            running.stop()
            raise StartError(f"{server.name} exited with {process.returncode}; see {logPath}")
        try:
            if (ready or _hello)(port):
                return running
        except OSError:
            pass
        time.sleep(0.1)
    running.stop()
    raise StartError(f"{server.name} did not answer within {timeout:.0f} s; see {logPath}")


def _hello(port):
    with socket.create_connection((HOST, port), timeout=2.0) as s:
        s.sendall(b"GET / HTTP/1.1\r\nHost: bench\r\nConnection: close\r\n\r\n")
        data = b""
        while True:
            chunk = s.recv(65536)
            if not chunk:
                break
            data += chunk
    return data.startswith(b"HTTP/1.1 200") and data.endswith(b"Hello, world!")
