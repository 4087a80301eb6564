"""
The example Django project as a WSGI application::

    twist gracehttp --app examples.django_project.wsgi:application
"""

import os

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "examples.django_project.settings")

from django.core.wsgi import get_wsgi_application

application = get_wsgi_application()
