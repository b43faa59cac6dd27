"""The benchmark's servers: the app's settings, with the ceiling view's URLconf."""

import os

from blogapi.settings import *  # noqa: F403
from blogapi.settings import CACHES

ROOT_URLCONF = "bench.urls"
# Two servers (10 and 100,000 posts) share one Redis database: their caches must not meet.
CACHES["default"]["KEY_PREFIX"] = os.environ.get("BENCH_CACHE_PREFIX", "")
# The mail hand-off scenario compares EMAIL_BACKENDs on otherwise identical servers.
EMAIL_BACKEND = os.environ.get("BENCH_EMAIL_BACKEND", EMAIL_BACKEND)  # noqa: F405
