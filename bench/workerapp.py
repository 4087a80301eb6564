"""
The benchmark's WSGI application (L{apps.wsgi_app}) with an C{X-Worker}
header naming the process that answered (its pid), for C{bench/workers.py}
to count what share of the requests each worker served.
"""

import os

from apps import wsgi_app as _wsgi_app

_WORKER = ("X-Worker", str(os.getpid()))


def wsgi_app(environ, start_response):
    """
    L{apps.wsgi_app}, its response carrying C{X-Worker: PID}.
    """

    def startResponse(status, headers, excInfo=None):
        return start_response(status, [*headers, _WORKER], excInfo)

    return _wsgi_app(environ, startResponse)
