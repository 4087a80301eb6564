"""
Views and URLs of the Django test project.
"""

import asyncio

from django.http import HttpResponse, JsonResponse, StreamingHttpResponse
from django.urls import path, reverse
from django.views.decorators.csrf import csrf_exempt

disconnects = []


def index(request):
    return HttpResponse("Hello from Django")


def item(request, number):
    return JsonResponse({"url": reverse("item", args=[number]), "path": request.path})


def asJSON(request):
    return JsonResponse({"path": request.path, "q": request.GET.get("q"), "script_name": request.META.get("SCRIPT_NAME")})


@csrf_exempt
def echo(request):
    return HttpResponse(request.body, content_type="application/octet-stream")


@csrf_exempt
def size(request):
    total = 0
    while chunk := request.read(65536):
        total += len(chunk)
    return JsonResponse({"size": total})


def boom(request):
    raise RuntimeError("boom")


def stream(request):
    return StreamingHttpResponse((f"chunk {i}\n" for i in range(5)), content_type="text/plain")


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
    path("boom", boom),
    path("stream", stream),
    path("slow", slow),
]
