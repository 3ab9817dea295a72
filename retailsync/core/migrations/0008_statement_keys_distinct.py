"""The statement-checked foreign keys' child check, looking up each distinct key once
(retailsync/core/statement_keys.py): the same refusals, replaced in place on a database that
has the first version (a fresh one gets this one from the migrations that install keys)."""

from django.db import migrations

from retailsync.core.statement_keys import FUNCTIONS, postgresql_run

# Backward keeps this body: the earlier one refused exactly the same rows.
FORWARD = postgresql_run([FUNCTIONS], [])


class Migration(migrations.Migration):
    dependencies = [("core", "0007_exception_owner_comments")]

    operations = [migrations.RunPython(*FORWARD)]
