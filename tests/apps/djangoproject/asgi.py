"""
The Django test project as an ASGI application.
"""

import os

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "tests.apps.djangoproject.settings")

from django.core.asgi import get_asgi_application

application = get_asgi_application()
