"""
End-to-end tests of C{--root-path} with real frameworks building URLs:
Flask (C{url_for}), Django WSGI and ASGI (C{reverse}) and FastAPI
(C{url_for}), served in process on 127.0.0.1.

A proxy in front of an application mounted at C{/api} either passes the
mount point on (the request target is C{/api/items/3}) or strips it
(C{/items/3}); with C{rootPath="/api"} both must route to the same view,
which must see the full path and build URLs under C{/api}.
"""

from unittest import TestCase

import httpx

from .server import startInProcess

ROOT = "/api"


class RootPathMixin:
    """
    The two proxy layouts against one framework.
    """

    appRef = None

    @classmethod
    def setUpClass(cls):
        host, port, cls.stop = startInProcess(cls.appRef, rootPath=ROOT)
        cls.base = f"http://{host}:{port}"
        cls.client = httpx.Client(base_url=cls.base, timeout=30)

    @classmethod
    def tearDownClass(cls):
        cls.client.close()
        cls.stop()

    def expectedURL(self, path):
        return path

    def check(self, target):
        response = self.client.get(target)
        self.assertEqual(response.status_code, 200, response.text)
        self.assertEqual(
            response.json(), {"url": self.expectedURL("/api/items/3"), "path": "/api/items/3"}
        )

    def test_prefixPassedOn(self):
        """A target that keeps the mount point routes and builds URLs under it."""
        self.check("/api/items/3")

    def test_prefixStripped(self):
        """A target without the mount point routes and builds URLs under it."""
        self.check("/items/3")


class FlaskRootPathTests(RootPathMixin, TestCase):
    appRef = "tests.apps.flask_app:app"


class DjangoWSGIRootPathTests(RootPathMixin, TestCase):
    appRef = "tests.apps.djangoproject.wsgi:application"


class DjangoASGIRootPathTests(RootPathMixin, TestCase):
    appRef = "tests.apps.djangoproject.asgi:application"


class FastAPIRootPathTests(RootPathMixin, TestCase):
    appRef = "tests.apps.starlette_app:app"

    def expectedURL(self, path):
        # Starlette's url_for is absolute.
        return self.base + path
