"""
End-to-end tests of UNIX sockets and of several C{--listen} at once: a
real C{twist gracehttp} child, real clients (httpx over the socket file,
and over TCP).
"""

import json
import os
import socket
import stat
import tempfile
import unittest

import httpx

from .server import runTwist

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

_LISTENING = r"gracehttp listening on (.*?); "


class UnixSocketTests(unittest.TestCase):
    """
    C{--listen unix:PATH:mode=MODE} serves HTTP on a socket file with that
    mode, and tells the application where the request came in.
    """

    def setUp(self):
        directory = tempfile.TemporaryDirectory()
        self.addCleanup(directory.cleanup)
        self.path = os.path.join(directory.name, "app.sock")

    def serve(self, app, *listen):
        """
        Run C{twist gracehttp} with C{app} on the socket and C{listen}; wait
        until it listens.

        @return: the child and its C{listening on} text.
        """
        listens = []
        for endpoint in (f"unix:{self.path}:mode=660", *listen):
            listens += ["--listen", endpoint]
        child = runTwist("gracehttp", "--app", app, *listens, cwd=REPO)
        self.addCleanup(child.stop)
        return child, child.waitFor(_LISTENING).group(1)

    def get(self, path):
        """
        GET C{path} over the UNIX socket with httpx.

        @return: the response.
        """
        transport = httpx.HTTPTransport(uds=self.path)
        with httpx.Client(transport=transport, timeout=30) as client:
            return client.get(f"http://localhost{path}")

    def test_asgiOverUnixSocket(self):
        """
        An ASGI application answers over the socket, whose file has the
        mode asked for; its scope's server is (path, None), the ASGI spec's
        form for a UNIX socket, and its client None.
        """
        child, listening = self.serve("tests.apps.addresses:asgiApp")
        self.assertEqual(listening, f"unix:{self.path}")
        self.assertEqual(stat.S_IMODE(os.stat(self.path).st_mode), 0o660)
        self.assertTrue(stat.S_ISSOCK(os.stat(self.path).st_mode))
        response = self.get("/unix")
        self.assertEqual(response.status_code, 200)
        self.assertEqual(
            response.json(), {"client": None, "server": [self.path, None], "scheme": "http"}
        )
        logged = child.waitFor(
            r"gracehttp\.access#info\] (\S+) - - \[.*\"GET /unix HTTP/1\.1\" 200"
        )
        self.assertEqual(logged.group(1), "-")
        self.assertEqual(child.stop(), 0)
        self.assertFalse(os.path.exists(self.path))

    def test_wsgiOverUnixSocket(self):
        """
        A WSGI application answers over the socket: SERVER_NAME and
        SERVER_PORT from Host, else localhost and 80 (never the socket's
        path), and no REMOTE_ADDR.
        """
        self.serve("tests.apps.addresses:wsgiApp")
        response = self.get("/")
        self.assertEqual(
            response.json(),
            {
                "SERVER_NAME": "localhost",
                "SERVER_PORT": "80",
                "REMOTE_ADDR": None,
                "wsgi.url_scheme": "http",
            },
        )
        with socket.socket(socket.AF_UNIX) as raw:
            raw.settimeout(30)
            raw.connect(self.path)
            raw.sendall(b"GET / HTTP/1.0\r\n\r\n")
            answer = b""
            while chunk := raw.recv(65536):
                answer += chunk
        head, _, body = answer.partition(b"\r\n\r\n")
        self.assertTrue(head.startswith(b"HTTP/1.1 200 "), head)
        self.assertEqual(json.loads(body)["SERVER_NAME"], "localhost")
        self.assertEqual(json.loads(body)["SERVER_PORT"], "80")

    def test_tcpAndUnixAtOnce(self):
        """
        Two --listen, a UNIX socket and TCP: the one server answers on both,
        and its start-up line names both.
        """
        _, listening = self.serve("tests.apps.addresses:asgiApp", "tcp:0:interface=127.0.0.1")
        [unix, tcp] = listening.split(", ")
        self.assertEqual(unix, f"unix:{self.path}")
        self.assertRegex(tcp, r"^http://127\.0\.0\.1:\d+$")
        overUnix = self.get("/").json()
        overTCP = httpx.get(tcp + "/", timeout=30).json()
        self.assertEqual(overUnix["server"], [self.path, None])
        self.assertEqual(overTCP["server"], ["127.0.0.1", int(tcp.rpartition(":")[2])])
        self.assertEqual(overTCP["client"][0], "127.0.0.1")
