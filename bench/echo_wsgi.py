"""The echo baseline's WSGI application: production's settings and middleware, with the bench's
URLconf (`bench/urls.py`) so that `POST /bench/echo` exists. Served by a gunicorn of its own,
started with the shipped `gunicorn.conf.py`: the endpoint never ships in production's URLs."""

import os

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "retailsync.settings_production")

from django.conf import settings
from django.core.wsgi import get_wsgi_application

settings.ROOT_URLCONF = "bench.urls"
application = get_wsgi_application()
