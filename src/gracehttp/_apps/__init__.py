"""
The application side: adapters that run an application for each
L{Exchange<gracehttp._core.exchange.Exchange>}, one per spec, each
providing L{IAppAdapter<gracehttp._core.interfaces.IAppAdapter>}.  They
know their spec; they know nothing of HTTP framing.

  - L{asgi<gracehttp._apps.asgi>}: ASGI 3 and 2 applications as asyncio
    tasks on the reactor's event loop, with the lifespan protocol;
  - L{wsgi<gracehttp._apps.wsgi>}: WSGI (PEP 3333) applications on a
    thread pool.
"""
