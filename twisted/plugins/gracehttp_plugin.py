"""
Makes C{twist gracehttp} (and C{twistd gracehttp}) available.
"""

from twisted.application.service import ServiceMaker

gracehttp = ServiceMaker(
    "gracehttp",
    "gracehttp.tap",
    "Serve a WSGI or ASGI application; a client that hangs up is "
    "reported to the app, which gets a grace period before cancellation.",
    "gracehttp",
)
