"""
Views and URLs of the Django test project.
"""

import asyncio
import hashlib
import io
import os
import random
import tempfile

from django.http import FileResponse, HttpResponse, JsonResponse, StreamingHttpResponse
from django.urls import path, reverse
from django.views.decorators.csrf import csrf_exempt

from tests.apps.events import Events

disconnects = []

events = Events()
"""
What C{wait} saw, for the in-process tests.
"""


def index(request):
    return HttpResponse("Hello from Django")


def item(request, number):
    return JsonResponse({"url": reverse("item", args=[number]), "path": request.path})


def asJSON(request):
    return JsonResponse(
        {
            "path": request.path,
            "q": request.GET.get("q"),
            "script_name": request.META.get("SCRIPT_NAME"),
        }
    )


@csrf_exempt
def echo(request):
    return HttpResponse(request.body, content_type="application/octet-stream")


@csrf_exempt
def size(request):
    total = 0
    while chunk := request.read(65536):
        total += len(chunk)
    return JsonResponse({"size": total})


@csrf_exempt
def digest(request):
    """
    The body's length and SHA-256, read in blocks as a large upload would
    be, and the length the server announced.
    """
    sha = hashlib.sha256()
    length = 0
    while chunk := request.read(65536):
        sha.update(chunk)
        length += len(chunk)
    return JsonResponse(
        {
            "length": length,
            "sha256": sha.hexdigest(),
            "contentLength": request.META.get("CONTENT_LENGTH"),
            "transferEncoding": request.META.get("HTTP_TRANSFER_ENCODING"),
        }
    )


fileReads = {"sizes": [], "closed": False}


class RecordingFile(io.FileIO):
    """
    A file that records the sizes its reader asks for, and its close.
    """

    def read(self, size=-1):
        fileReads["sizes"].append(size)
        return super().read(size)

    def close(self):
        fileReads["closed"] = True
        super().close()


def serveFile(request):
    """
    A FileResponse of a temporary file of C{size} bytes drawn from
    C{random.Random(seed)}.
    """
    size = int(request.GET["size"])
    data = random.Random(int(request.GET["seed"])).randbytes(size)
    fileReads["sizes"] = []
    fileReads["closed"] = False
    with tempfile.NamedTemporaryFile(delete=False) as f:
        f.write(data)
    served = RecordingFile(f.name)
    os.unlink(f.name)
    return FileResponse(served, content_type="application/octet-stream")


def fileReadsSeen(request):
    return JsonResponse(
        {
            "sizes": fileReads["sizes"],
            "closed": fileReads["closed"],
            "fileWrapper": getattr(request.META.get("wsgi.file_wrapper"), "__qualname__", None),
        }
    )


def boom(request):
    raise RuntimeError("boom")


def stream(request):
    return StreamingHttpResponse((f"chunk {i}\n" for i in range(5)), content_type="text/plain")


def wait(request):
    events.add("waiting")
    if request.META["gracehttp.disconnected"].wait(10):
        events.add("wsgi told")
    return HttpResponse("done")


async def slow(request):
    try:
        await asyncio.sleep(30)
    except asyncio.CancelledError:
        disconnects.append("cancelled")
        raise
    return HttpResponse("slow done")


urlpatterns = [
    path("", index),
    path("items/<int:number>", item, name="item"),
    path("json", asJSON),
    path("echo", echo),
    path("size", size),
    path("digest", digest),
    path("file", serveFile),
    path("file-reads", fileReadsSeen),
    path("boom", boom),
    path("stream", stream),
    path("slow", slow),
    path("wait", wait),
]
