"""
End-to-end tests: real frameworks (Flask, Django WSGI and ASGI, FastAPI)
served by C{twist gracehttp} in a subprocess, spoken to with real HTTP on
127.0.0.1.
"""

import hashlib
import os
import random
import socket
import tempfile
from unittest import TestCase, mock

import requests

from .server import startSubprocess

MiB = 1024 * 1024


def _repoRoot():
    return os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def rawRequest(port, data):
    """
    Send raw bytes and read until the server closes the connection.

    @rtype: L{bytes}
    """
    with socket.create_connection(("127.0.0.1", port), timeout=10) as s:
        s.sendall(data)
        chunks = []
        while True:
            chunk = s.recv(65536)
            if not chunk:
                return b"".join(chunks)
            chunks.append(chunk)


class AppTestsMixin:
    """
    What every framework must get right behind gracehttp.
    """

    appRef = None
    hello = None
    extraArgs = ()

    @classmethod
    def setUpClass(cls):
        cls.server = startSubprocess(cls.appRef, *cls.extraArgs, cwd=_repoRoot())
        cls.base = f"http://127.0.0.1:{cls.server.port}"
        cls.session = requests.Session()

    @classmethod
    def tearDownClass(cls):
        cls.session.close()
        cls.exitCode = cls.server.stop()

    def get(self, path, **kw):
        return self.session.get(self.base + path, timeout=30, **kw)

    def test_hello(self):
        """
        A plain GET is answered with the app's body and a Date header.
        """
        response = self.get("/")
        self.assertEqual(response.status_code, 200)
        self.assertEqual(response.text, self.hello)
        self.assertIn("date", response.headers)

    def test_keepAlive(self):
        """
        Several requests on one kept-alive connection are all answered.
        """
        for _ in range(5):
            self.assertEqual(self.get("/").status_code, 200)

    def test_echoLargeBody(self):
        """
        A 1 MiB POST body comes back unchanged.
        """
        body = os.urandom(MiB)
        response = self.session.post(self.base + "/echo", data=body, timeout=30)
        self.assertEqual(response.status_code, 200)
        self.assertEqual(response.content, body)

    def test_chunkedUpload(self):
        """
        A chunked (no Content-Length) 8 MiB upload is streamed to the app
        whole.
        """
        chunks = (b"x" * 65536 for _ in range(128))
        response = self.session.post(self.base + "/size", data=chunks, timeout=60)
        self.assertEqual(response.status_code, 200)
        self.assertEqual(response.json()["size"], 8 * MiB)

    def test_streamedResponse(self):
        """
        A streamed response arrives whole, chunked.
        """
        response = self.get("/stream")
        self.assertEqual(response.status_code, 200)
        self.assertEqual(response.text, "".join(f"chunk {i}\n" for i in range(5)))
        self.assertEqual(response.headers.get("transfer-encoding"), "chunked")

    def test_head(self):
        """
        HEAD gets the headers and no body.
        """
        raw = rawRequest(
            self.server.port, b"HEAD / HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n"
        )
        head, _, body = raw.partition(b"\r\n\r\n")
        self.assertTrue(head.startswith(b"HTTP/1.1 200 "))
        self.assertEqual(body, b"")

    def test_errorThen500AndStillServing(self):
        """
        An app error becomes a 500 and the server keeps serving.
        """
        self.assertEqual(self.get("/boom").status_code, 500)
        self.assertEqual(self.get("/").status_code, 200)

    def test_malformedRequest(self):
        """
        A malformed request gets 400 and the server keeps serving.
        """
        raw = rawRequest(self.server.port, b"GET / HTTP/1.1\r\nHost : x\r\n\r\n")
        self.assertTrue(raw.startswith(b"HTTP/1.1 400 "))
        self.assertEqual(self.get("/").status_code, 200)


def procStatus(pid, field):
    """
    A memory figure of a running process, from C{/proc/PID/status}.

    @param field: e.g. C{"VmHWM"} (peak resident set) or C{"VmRSS"}.
    @return: bytes.
    @rtype: L{int}
    """
    with open(f"/proc/{pid}/status") as status:
        for line in status:
            name, _, value = line.partition(":")
            if name == field:
                return int(value.split()[0]) * 1024
    raise AssertionError(f"no {field} in /proc/{pid}/status")


class ChunkedUploadMixin:
    """
    A chunked upload reaches a WSGI framework's view whole, with a
    C{CONTENT_LENGTH} (the body is spooled by default).
    """

    def postChunked(self, parts):
        """
        POST C{parts} to C{/digest} with chunked transfer coding (a
        generator body makes C{requests} send it chunked).

        @return: the view's JSON.
        """
        response = self.session.post(self.base + "/digest", data=iter(parts), timeout=120)
        self.assertEqual(response.status_code, 200, response.text[:200])
        return response.json()

    def test_chunkedUploadIntact(self):
        """
        A 3 MiB chunked upload in uneven parts reaches the view intact, with
        CONTENT_LENGTH set and no Transfer-Encoding left.
        """
        rng = random.Random(8)
        parts = [rng.randbytes(rng.randrange(1, 200_000)) for _ in range(30)]
        body = b"".join(parts)
        seen = self.postChunked(parts)
        self.assertEqual(
            seen,
            {
                "length": len(body),
                "sha256": hashlib.sha256(body).hexdigest(),
                "contentLength": str(len(body)),
                "transferEncoding": None,
            },
        )


class FlaskTests(ChunkedUploadMixin, AppTestsMixin, TestCase):
    appRef = "tests.apps.flask_app:app"
    hello = "Hello from Flask"

    def test_environ(self):
        """
        Flask sees the path, query, root path and client address.
        """
        data = self.get("/json?a=1").json()
        self.assertEqual(data["path"], "/json")
        self.assertEqual(data["args"], {"a": "1"})
        self.assertEqual(data["remote_addr"], "127.0.0.1")


class FastAPITests(AppTestsMixin, TestCase):
    appRef = "tests.apps.starlette_app:app"
    hello = "Hello from FastAPI"
    extraArgs = ("--root-path", "/api")

    def test_scope(self):
        """
        FastAPI sees the path, query, root path, client, lifespan state and
        spec_version 2.5.
        """
        data = self.get("/json?a=1").json()
        self.assertEqual(data["path"], "/api/json")
        self.assertEqual(data["query"], {"a": "1"})
        self.assertEqual(data["root_path"], "/api")
        self.assertEqual(data["client"][0], "127.0.0.1")
        self.assertEqual(data["greeting"], "hello from lifespan")
        self.assertEqual(data["spec_version"], "2.5")


class DjangoWSGITests(ChunkedUploadMixin, AppTestsMixin, TestCase):
    appRef = "tests.apps.djangoproject.wsgi:application"
    hello = "Hello from Django"

    def test_chunkedUpload100MiBMemoryFlat(self):
        """
        A 100 MiB chunked upload reaches the view intact while the server's
        peak resident memory (VmHWM) grows by less than 16 MiB: past 512
        KiB the spool is a temporary file.
        """
        block = random.Random(100).randbytes(MiB)
        # The same path once, small, so that what it loads is counted in
        # the baseline.
        self.postChunked([block])
        pid = self.server.process.pid
        # The peak so far (earlier tests' bodies included), not the
        # resident size now, so that only a new peak counts.
        before = procStatus(pid, "VmHWM")
        seen = self.postChunked(block for _ in range(100))
        peak = procStatus(pid, "VmHWM")
        self.assertEqual(seen["length"], 100 * MiB)
        self.assertEqual(seen["sha256"], hashlib.sha256(block * 100).hexdigest())
        self.assertEqual(seen["contentLength"], str(100 * MiB))
        self.assertLess(peak - before, 16 * MiB)

    def test_fileResponse(self):
        """
        Django's FileResponse is sent through environ["wsgi.file_wrapper"]:
        the bytes arrive intact, the file is read in 256 KiB blocks (not
        Django's 4 KiB ones) and closed.
        """
        size = 3 * MiB + 12345
        response = self.get(f"/file?size={size}&seed=7")
        self.assertEqual(response.status_code, 200)
        self.assertEqual(response.headers["content-length"], str(size))
        self.assertEqual(response.content, random.Random(7).randbytes(size))
        reads = self.get("/file-reads").json()
        self.assertEqual(reads["fileWrapper"], "FileWrapper")
        self.assertEqual(set(reads["sizes"]), {256 * 1024})
        self.assertTrue(reads["closed"])

    def test_notFound(self):
        """
        Django maps unknown URLs to its own 404 through gracehttp.
        """
        self.assertEqual(self.get("/nosuch").status_code, 404)


class DjangoASGITests(AppTestsMixin, TestCase):
    appRef = "tests.apps.djangoproject.asgi:application"
    hello = "Hello from Django"

    def test_notFound(self):
        """
        Django (ASGI) maps unknown URLs to its own 404 through gracehttp.
        """
        self.assertEqual(self.get("/nosuch").status_code, 404)


class FileResponseTests(TestCase):
    """
    Starlette's C{FileResponse} through the C{http.response.pathsend}
    extension, in process so that the test can see the extension used.
    """

    def test_pathsend(self):
        """A 3 MiB file arrives intact, sent by the server from the path Starlette names."""
        from gracehttp._apps.asgi import adapter as _asgi

        from .apps import starlette_app
        from .server import startInProcess

        content = os.urandom(3 * MiB)
        with tempfile.NamedTemporaryFile() as f:
            f.write(content)
            f.flush()
            starlette_app.servedFile = f.name
            with mock.patch.object(_asgi, "sendPath", wraps=_asgi.sendPath) as sendPath:
                host, port, stop = startInProcess("tests.apps.starlette_app:app")
                try:
                    response = requests.get(f"http://{host}:{port}/file", timeout=30)
                finally:
                    stop()
        self.assertEqual(response.status_code, 200)
        self.assertEqual(response.headers["content-length"], str(len(content)))
        self.assertEqual(response.content, content)
        [call] = sendPath.call_args_list
        self.assertEqual(call.args[1], f.name)
