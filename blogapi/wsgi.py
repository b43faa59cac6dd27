"""WSGI entry point (gunicorn, runserver)."""

import os

from django.core.wsgi import get_wsgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "blogapi.settings")

from blogapi.core.wsgi_guards import reject_unusable_content_type

application = reject_unusable_content_type(get_wsgi_application())
