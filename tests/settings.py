"""The suite's settings: the project's own, as the benchmarks and any non-DEBUG run see them
(DEBUG off, plain http), with a key of the suite's own.

Outside DEBUG the settings refuse to start without SECRET_KEY. pytest-django loads the settings
before any conftest.py runs, so the key is given here; the subprocesses tests start inherit it.
mypy's Django plugin loads these settings too, so a bare `mypy .` needs no environment.
"""

import os

os.environ.setdefault("SECRET_KEY", "tests-only-secret-key-that-signs-nothing-real-0123456789")

import tempfile
from pathlib import Path

from retailsync.settings import *  # noqa: F403

# Uploads the suite makes go to a folder of its own, not the checkout's media/.
MEDIA_ROOT = Path(tempfile.mkdtemp(prefix="retailsync-media-"))
