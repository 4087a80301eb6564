"""
Helpers for end-to-end tests against a real gracehttp server on 127.0.0.1.

  - L{startInProcess} serves an application from this test process on one
    global asyncio reactor running in a daemon thread.
  - L{startSubprocess} runs C{twist gracehttp} in a child process, as a
    user would.

Both pick a free port (C{tcp:0:interface=127.0.0.1}, or another endpoint
such as L{tlsEndpoint}'s) and learn it from the service (in process) or
from the C{gracehttp listening on http://} (or C{https://}) log line (child
process); every wait is bounded.  L{makeCertificate} makes a self-signed
certificate for TLS tests.

A test process that uses L{startInProcess} must not also run the global
reactor itself (e.g. through C{twisted.trial.unittest.TestCase});
C{SynchronousTestCase} and C{unittest.TestCase} are fine.
"""

import asyncio
import atexit
import datetime
import ipaddress
import os
import queue
import re
import signal
import subprocess
import sys
import threading
import time

from twisted.internet.defer import maybeDeferred

import gracehttp

LOOPBACK_ANY_PORT = "tcp:0:interface=127.0.0.1"

_LISTENING = re.compile(r"gracehttp listening on https?://127\.0\.0\.1:(\d+)")

_reactorLock = threading.Lock()
_reactor = None


def _globalReactor():
    """
    The reactor in-process servers run on, started once per test process in
    a daemon thread: Twisted's asyncio reactor on a new event loop, or the
    reactor something in this process installed already.
    """
    global _reactor
    with _reactorLock:
        if _reactor is None:
            if "twisted.internet.reactor" not in sys.modules:
                from twisted.internet.asyncioreactor import AsyncioSelectorReactor
                from twisted.internet.main import installReactor

                installReactor(AsyncioSelectorReactor(asyncio.new_event_loop()))
            from twisted.internet import reactor

            loop = getattr(reactor, "_asyncioEventloop", None)

            def run():
                if loop is not None:
                    asyncio.set_event_loop(loop)
                reactor.run(installSignalHandlers=False)

            threading.Thread(target=run, name="gracehttp-test-reactor", daemon=True).start()
            atexit.register(_stopReactor, reactor)
            _reactor = reactor
        return _reactor


def _stopReactor(reactor):
    if reactor.running:
        reactor.callFromThread(reactor.stop)


def callInReactor(reactor, f, *args, timeout=30.0, **kwargs):
    """
    Call C{f} in the reactor thread and wait for its result; a Deferred
    result is waited for.

    @param timeout: the longest wait, in seconds.
    @raise TimeoutError: no result within C{timeout} seconds.
    @raise Exception: whatever C{f} raised or its Deferred failed with.
    """
    results = queue.Queue()

    def call():
        d = maybeDeferred(f, *args, **kwargs)
        d.addBoth(results.put)

    reactor.callFromThread(call)
    try:
        result = results.get(timeout=timeout)
    except queue.Empty:
        raise TimeoutError(f"{f!r} did not finish within {timeout} s") from None
    if hasattr(result, "raiseException"):
        result.raiseException()
    return result


class InProcessServer:
    """
    A service serving from this process (see L{serveInProcess}).

    @ivar host: the address it listens on.
    @ivar port: the port it listens on.
    @ivar service: the L{gracehttp.HTTPService}.
    @ivar reactor: the reactor it runs on (in another thread).
    """

    def __init__(self, service, reactor, host, port, timeout):
        self.service = service
        self.reactor = reactor
        self.host = host
        self.port = port
        self._timeout = timeout

    def call(self, f, *args, timeout=None, **kwargs):
        """
        L{callInReactor} on this server's reactor; C{timeout} defaults to
        the server's.
        """
        if timeout is None:
            timeout = self._timeout
        return callInReactor(self.reactor, f, *args, timeout=timeout, **kwargs)

    def stop(self, timeout=None):
        """
        Stop the service (stop listening, wait for requests in flight, shut
        the application down) and wait for that, up to C{timeout} seconds.

        @raise TimeoutError: it did not stop within C{timeout} seconds.
        """
        self.call(self.service.stopService, timeout=timeout)


def serveInProcess(app, listen=LOOPBACK_ANY_PORT, timeout=30.0, **makeServiceKwargs):
    """
    Serve C{app} from this process on one endpoint of 127.0.0.1.

    @param app: the application, or a C{"module:attribute"} reference.
    @param listen: the endpoint description; its port should be 0.
    @param timeout: the longest wait for start or stop, in seconds.
    @param makeServiceKwargs: more arguments for L{gracehttp.makeService}
        (not C{listen}, C{reactor} or C{exitOnFailure}).
    @rtype: L{InProcessServer}
    @raise Exception: the start failed (e.g. L{gracehttp.LifespanFailure}).
    """
    reactor = _globalReactor()

    def build():
        service = gracehttp.makeService(
            app,
            listen=[listen],
            reactor=reactor,
            exitOnFailure=False,
            **makeServiceKwargs,
        )
        service.startService()
        return service

    service = callInReactor(reactor, build, timeout=timeout)
    try:
        [port] = callInReactor(reactor, service.whenListening, timeout=timeout)
    except BaseException:
        callInReactor(reactor, service.stopService, timeout=timeout)
        raise
    address = port.getHost()
    return InProcessServer(service, reactor, address.host, address.port, timeout)


def startInProcess(app, timeout=30.0, **makeServiceKwargs):
    """
    Serve C{app} from this process on a free port of 127.0.0.1
    (L{serveInProcess} on C{tcp:0:interface=127.0.0.1}).

    @return: C{(host, port, stop)}; C{stop()} is L{InProcessServer.stop}.
    @raise Exception: the start failed (e.g. L{gracehttp.LifespanFailure}).
    """
    server = serveInProcess(app, timeout=timeout, **makeServiceKwargs)
    return server.host, server.port, server.stop


def makeCertificate(directory):
    """
    Write a self-signed certificate for C{localhost} and C{127.0.0.1}
    (ECDSA P-256, valid from a day ago for a day) and its key into
    C{directory}, with C{cryptography} (which pyOpenSSL needs).

    @return: C{(keyPath, certPath)}, both PEM.
    """
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "localhost")])
    now = datetime.datetime.now(datetime.UTC)
    names = [x509.DNSName("localhost"), x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]
    certificate = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(days=1))
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(x509.SubjectAlternativeName(names), critical=False)
        .sign(key, hashes.SHA256())
    )
    keyPath = os.path.join(directory, "key.pem")
    certPath = os.path.join(directory, "cert.pem")
    with open(keyPath, "wb") as f:
        f.write(
            key.private_bytes(
                serialization.Encoding.PEM,
                serialization.PrivateFormat.PKCS8,
                serialization.NoEncryption(),
            )
        )
    with open(certPath, "wb") as f:
        f.write(certificate.public_bytes(serialization.Encoding.PEM))
    return keyPath, certPath


def tlsEndpoint(keyPath, certPath):
    """
    @return: the C{ssl:} endpoint description for a free port of 127.0.0.1
        with this key and certificate (paths without C{:} or C{=}).
    @rtype: L{str}
    """
    return f"ssl:0:interface=127.0.0.1:privateKey={keyPath}:certKey={certPath}"


def twistCommand():
    """
    How to run C{twist} with this interpreter: the C{twist} script next to
    C{sys.executable} (as an installed gracehttp is run), or C{python -m
    twisted} where there is none.

    @rtype: L{list} of L{str}
    """
    script = os.path.join(os.path.dirname(sys.executable), "twist")
    if os.path.exists(script):
        return [script]
    return [sys.executable, "-m", "twisted"]


def childEnvironment(env=None):
    """
    The environment for a child C{twist}: C{env} (default: ours), made to
    find this gracehttp and its plugin when it is imported from the source
    tree (C{PYTHONPATH=src}) rather than installed.
    """
    env = dict(os.environ if env is None else env)
    packageParent = os.path.dirname(os.path.dirname(os.path.abspath(gracehttp.__file__)))
    root = os.path.dirname(packageParent)
    if os.path.basename(packageParent) == "src" and os.path.isdir(
        os.path.join(root, "twisted", "plugins")
    ):
        paths = [packageParent, root]
        if env.get("PYTHONPATH"):
            paths.append(env["PYTHONPATH"])
        env["PYTHONPATH"] = os.pathsep.join(paths)
    env["PYTHONUNBUFFERED"] = "1"
    return env


class Subprocess:
    """
    A child process whose output (stdout and stderr together) is collected
    by a thread, so tests can wait for a line without polling the pipe.

    @ivar process: the L{subprocess.Popen}.
    @ivar port: the port it listens on, once L{waitFor} found it.
    """

    def __init__(self, args, cwd=None, env=None, passFds=()):
        """
        @param passFds: descriptors the child inherits, at the same numbers.
        """
        self.port = None
        self._lines = []
        self._changed = threading.Condition()
        self._ended = False
        self.process = subprocess.Popen(
            args,
            cwd=cwd,
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            errors="replace",
            pass_fds=passFds,
        )
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self):
        for line in self.process.stdout:
            with self._changed:
                self._lines.append(line)
                self._changed.notify_all()
        with self._changed:
            self._ended = True
            self._changed.notify_all()

    def output(self):
        """
        @return: everything the process printed so far.
        @rtype: L{str}
        """
        with self._changed:
            return "".join(self._lines)

    def waitFor(self, pattern, timeout=30.0):
        """
        Wait until a line of output matches C{pattern}.

        @param pattern: a regular expression.
        @type pattern: L{str} or compiled pattern
        @param timeout: the longest wait, in seconds.
        @return: the match.
        @raise AssertionError: the process ended, or C{timeout} passed,
            first; the message includes the output.
        """
        pattern = re.compile(pattern)
        deadline = time.monotonic() + timeout
        searched = 0
        with self._changed:
            while True:
                for line in self._lines[searched:]:
                    match = pattern.search(line)
                    if match:
                        return match
                searched = len(self._lines)
                remaining = deadline - time.monotonic()
                if self._ended or remaining <= 0:
                    why = "exited" if self._ended else f"timed out after {timeout} s"
                    raise AssertionError(
                        f"{pattern.pattern!r} not seen ({why}); output:\n" + "".join(self._lines)
                    )
                self._changed.wait(remaining)

    def waitForMatches(self, pattern, count, timeout=30.0):
        """
        Wait until C{count} lines of output match C{pattern}.

        @param pattern: a regular expression.
        @type pattern: L{str} or compiled pattern
        @param count: how many matching lines to wait for.
        @type count: L{int}
        @param timeout: the longest wait, in seconds.
        @return: the first C{count} matches, in output order.
        @rtype: L{list} of L{re.Match}
        @raise AssertionError: the process ended, or C{timeout} passed,
            first; the message includes the output.
        """
        pattern = re.compile(pattern)
        deadline = time.monotonic() + timeout
        with self._changed:
            while True:
                matches = [m for m in map(pattern.search, self._lines) if m]
                if len(matches) >= count:
                    return matches[:count]
                remaining = deadline - time.monotonic()
                if self._ended or remaining <= 0:
                    why = "exited" if self._ended else f"timed out after {timeout} s"
                    raise AssertionError(
                        f"{count} lines matching {pattern.pattern!r} not seen ({why}); "
                        "output:\n" + "".join(self._lines)
                    )
                self._changed.wait(remaining)

    def wait(self, timeout=30.0):
        """
        Wait for the process to exit by itself.

        @return: its exit code.
        @raise subprocess.TimeoutExpired: it is still running after
            C{timeout} seconds.
        """
        code = self.process.wait(timeout)
        self._reader.join(timeout)
        return code

    def stop(self, timeout=15.0):
        """
        Send SIGTERM, wait up to C{timeout} seconds, then kill.

        @return: the exit code (negative: killed by that signal).
        @rtype: L{int}
        """
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        self._reader.join(timeout)
        return self.process.returncode


def runTwist(*args, cwd=None, env=None):
    """
    Start C{twist --log-format=text ARGS...} (with
    L{childEnvironment}) without waiting for anything.

    @rtype: L{Subprocess}
    """
    return Subprocess(
        [*twistCommand(), "--log-format=text", *args], cwd=cwd, env=childEnvironment(env)
    )


def startSubprocess(appRef, *extraArgs, cwd=None, env=None, timeout=30.0, listen=LOOPBACK_ANY_PORT):
    """
    Run C{twist gracehttp --app APPREF --listen LISTEN EXTRAARGS...} and
    wait until it listens.

    @param appRef: the C{--app} value.
    @param extraArgs: more C{twist gracehttp} options.
    @param listen: the C{--listen} value (default
        C{tcp:0:interface=127.0.0.1}); its port should be 0 and its
        interface 127.0.0.1.
    @param cwd: the child's working directory (importable by the app).
    @param env: the child's environment (default: ours).
    @param timeout: the longest wait for the C{listening on} line, in
        seconds.
    @return: the running process; C{.port} is its port.
    @rtype: L{Subprocess}
    @raise AssertionError: it exited or did not listen in time (it is
        stopped; the message has its output).
    """
    child = runTwist("gracehttp", "--app", appRef, "--listen", listen, *extraArgs, cwd=cwd, env=env)
    try:
        child.port = int(child.waitFor(_LISTENING, timeout).group(1))
    except BaseException:
        child.stop()
        raise
    return child
