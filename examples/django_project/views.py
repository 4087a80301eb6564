"""
The views of the example Django project.

C{report} is for WSGI: it looks at C{request.META["gracehttp.disconnected"]}
(the WSGI C{environ} key) between its steps.  C{async_report} is for ASGI:
Django's ASGI handler listens for C{http.disconnect} itself and cancels the
view at once, which it sees as L{asyncio.CancelledError}.
"""

import asyncio
import logging
import time

from django.http import HttpResponse, JsonResponse
from django.urls import reverse

log = logging.getLogger(__name__)

STEP_SECONDS = 0.1
"""
How often C{report} looks whether its client has gone, in seconds.
"""


def _seconds(request, default):
    try:
        seconds = float(request.GET.get("seconds", default))
    except ValueError:
        seconds = default
    return min(max(seconds, 0.0), 60.0)


def index(request):
    interface = "ASGI" if hasattr(request, "scope") else "WSGI"
    return HttpResponse(f"Hello from Django ({interface}), served by gracehttp\n")


def item(request, number):
    return JsonResponse({"number": number, "url": reverse("item", args=[number])})


def report(request):
    seconds = _seconds(request, 5.0)
    gone = request.META.get("gracehttp.disconnected")
    started = time.monotonic()
    log.info("report: started, working for %.1f s", seconds)
    while time.monotonic() - started < seconds:
        if gone is not None and gone.wait(STEP_SECONDS):
            log.info(
                "report: client left after %.1f s; stopped and cleaned up",
                time.monotonic() - started,
            )
            # The client is gone: this answer is never sent.
            return HttpResponse(status=204)
        if gone is None:
            time.sleep(STEP_SECONDS)
    return JsonResponse({"report": "done", "seconds": seconds})


async def async_report(request):
    seconds = _seconds(request, 5.0)
    started = time.monotonic()
    log.info("async report: started, working for %.1f s", seconds)
    try:
        await asyncio.sleep(seconds)
    except asyncio.CancelledError:
        log.info(
            "async report: cancelled %.1f s in, the client having left; cleaned up",
            time.monotonic() - started,
        )
        raise
    return JsonResponse({"report": "done", "seconds": seconds})
