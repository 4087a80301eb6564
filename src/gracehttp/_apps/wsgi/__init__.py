"""
WSGI (PEP 3333) on a thread pool the service owns.

  - L{adapter<gracehttp._apps.wsgi.adapter>}: admission to threads and the
    worker loops;
  - L{bridge<gracehttp._apps.wsgi.bridge>}: the hand-off between a worker
    thread and the reactor thread for one request;
  - L{environ<gracehttp._apps.wsgi.environ>}: the C{environ} and
    C{wsgi.errors};
  - L{input<gracehttp._apps.wsgi.input>}: C{wsgi.input};
  - L{response<gracehttp._apps.wsgi.response>}: one application call:
    C{start_response}, C{write}, the iterable, C{close()},
    C{wsgi.file_wrapper};
  - L{spool<gracehttp._apps.wsgi.spool>}: chunked request bodies received
    whole before the application starts.
"""
