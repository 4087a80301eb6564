"""
ASGI (ASGI spec 3.0, HTTP spec 2.5, lifespan spec 2.0).

  - L{adapter<gracehttp._apps.asgi.adapter>}: one asyncio task per
    request, C{receive} and C{send};
  - L{lifespan<gracehttp._apps.asgi.lifespan>}: the lifespan state
    machine (startup before listening, shutdown after the last request);
  - L{pathsend<gracehttp._apps.asgi.pathsend>}: the
    C{http.response.pathsend} extension.
"""
