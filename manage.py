#!/usr/bin/env python
import os
import sys

# Commands that read the code and the migrations only: they sign nothing, so they run without
# SECRET_KEY (retailsync/settings.py gives them a random key). Everything else needs the key.
SIGNS_NOTHING = {"makemigrations", "showmigrations", "sqlmigrate", "squashmigrations"}

if __name__ == "__main__":
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "retailsync.settings")
    if sys.argv[1:2] and sys.argv[1] in SIGNS_NOTHING:
        os.environ["RETAILSYNC_SIGNS_NOTHING"] = "1"
    from django.core.management import execute_from_command_line

    execute_from_command_line(sys.argv)
