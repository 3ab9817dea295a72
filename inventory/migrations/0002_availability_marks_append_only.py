# Marks are transient (drained within seconds), so the table is rebuilt rather than altered:
# one row per change instead of one per item.

import django.db.models.deletion
import django.utils.timezone
from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("inventory", "0001_initial"),
    ]

    operations = [
        migrations.DeleteModel(name="AvailabilityDirty"),
        migrations.CreateModel(
            name="AvailabilityDirty",
            fields=[
                ("id", models.BigAutoField(auto_created=True, primary_key=True, serialize=False,
                                           verbose_name="ID")),
                ("marked_at", models.DateTimeField(default=django.utils.timezone.now)),
                ("item", models.ForeignKey(db_index=False,
                                           on_delete=django.db.models.deletion.CASCADE,
                                           related_name="+", to="inventory.item")),
            ],
        ),
    ]
