"""The statement keys' check function looks each distinct key up once, and not at all for a
table in `keys_trusted` (statement_keys.py)."""

from django.db import migrations

from retailsync.core.statement_keys import FUNCTIONS, postgresql_run

forward, backward = postgresql_run([FUNCTIONS], [])


class Migration(migrations.Migration):
    dependencies = [("core", "0007_exception_owner_comments")]

    operations = [migrations.RunPython(forward, backward)]
