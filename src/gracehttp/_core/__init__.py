"""
The core that protocols and application adapters share; it knows neither
HTTP framing nor WSGI or ASGI.

  - L{exchange<gracehttp._core.exchange>}: one request and its response,
    the seam between a protocol and an adapter, with the disconnect ->
    grace -> cancel state machine;
  - L{interfaces<gracehttp._core.interfaces>}: C{IAppAdapter} (what an
    adapter provides) and C{IExchangeChannel} (what a protocol provides to
    each exchange);
  - L{accesslog<gracehttp._core.accesslog>}: one log event per finished
    request, with its outcome;
  - L{proxy<gracehttp._core.proxy>}: which peers' C{X-Forwarded-*} and
    C{Forwarded} headers are trusted, and what they say.
"""
