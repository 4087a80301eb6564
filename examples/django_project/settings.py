"""
Settings of the example Django project served by gracehttp, as WSGI
(C{examples.django_project.wsgi:application}) and as ASGI
(C{examples.django_project.asgi:application}).

No database and no installed applications: only what the views need.
"""

import os

# Set DJANGO_SECRET_KEY in production; this default is for the example only.
SECRET_KEY = os.environ.get("DJANGO_SECRET_KEY", "example-only-not-secret")
DEBUG = False
ALLOWED_HOSTS = os.environ.get("DJANGO_ALLOWED_HOSTS", "127.0.0.1,localhost").split(",")
ROOT_URLCONF = "examples.django_project.urls"
INSTALLED_APPS = []
MIDDLEWARE = []
DATABASES = {}
USE_TZ = True
# Django sets the process's time zone to TIME_ZONE (default
# America/Chicago), which the log's timestamps then follow.
TIME_ZONE = "UTC"

# The project's logging goes to Twisted's log, where gracehttp's own events
# go (see examples/twistedlog.py).
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "handlers": {"twisted": {"class": "examples.twistedlog.TwistedLogHandler"}},
    "root": {"handlers": ["twisted"], "level": "INFO"},
}
