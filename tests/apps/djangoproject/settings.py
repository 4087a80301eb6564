"""
Minimal Django settings for the end-to-end tests (no database).
"""

SECRET_KEY = "gracehttp-tests-only"
DEBUG = False
ALLOWED_HOSTS = ["*"]
ROOT_URLCONF = "tests.apps.djangoproject.urls"
INSTALLED_APPS = []
MIDDLEWARE = []
DATABASES = {}
USE_TZ = True
