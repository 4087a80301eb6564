"""
The core that protocols and application adapters share; it knows neither
HTTP framing nor WSGI or ASGI.

  - L{lifecycle<gracehttp._core.lifecycle>}: the disconnect -> grace ->
    cancel state machine of a unit of work (an exchange today; an HTTP/2
    stream or a WebSocket session next), with its transition table;
  - L{exchange<gracehttp._core.exchange>}: one request and its response,
    the seam between a protocol and an adapter; a unit of work of the
    lifecycle, which adds the request's outcome;
  - L{interfaces<gracehttp._core.interfaces>}: C{IAppAdapter} (what an
    adapter provides) and C{IExchangeChannel} (what a protocol provides to
    each exchange);
  - L{accesslog<gracehttp._core.accesslog>}: one log event per finished
    request, with its outcome;
  - L{proxy<gracehttp._core.proxy>}: which peers' C{X-Forwarded-*} and
    C{Forwarded} headers are trusted, and what they say.
"""
