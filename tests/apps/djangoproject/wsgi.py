"""
The Django test project as a WSGI application.
"""

import os

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "tests.apps.djangoproject.settings")

from django.core.wsgi import get_wsgi_application

application = get_wsgi_application()
