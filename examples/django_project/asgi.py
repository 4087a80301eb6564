"""
The example Django project as an ASGI application::

    twist gracehttp --app examples.django_project.asgi:application
"""

import os

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "examples.django_project.settings")

from django.core.asgi import get_asgi_application

application = get_asgi_application()
