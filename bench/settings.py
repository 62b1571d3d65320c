"""Settings for `make bench`: the platform's settings plus the benchmark-only reference endpoint.

The reference app and URL exist only under these settings; config/settings.py never sees them.
Everything else (database, cache, DEBUG) comes from the environment, as for the platform.
"""

from config.settings import *  # noqa: F403
from config.settings import INSTALLED_APPS

INSTALLED_APPS = [*INSTALLED_APPS, "bench"]
ROOT_URLCONF = "bench.urls"
