# Every push is signed from now on: allocations that already push get a secret here (staff
# re-issue it through PUT channels/<code>/allocation with rotate_webhook_secret to read it).

import secrets

from django.db import migrations, models


def issue_secrets(apps, schema_editor):
    ChannelAllocation = apps.get_model("inventory", "ChannelAllocation")
    for allocation in ChannelAllocation.objects.exclude(webhook_url=""):
        allocation.webhook_secret = "whsec_" + secrets.token_urlsafe(32)
        allocation.save(update_fields=["webhook_secret"])


class Migration(migrations.Migration):
    dependencies = [
        ("inventory", "0002_availability_marks_append_only"),
    ]

    operations = [
        migrations.AddField(
            model_name="channelallocation",
            name="webhook_secret",
            field=models.CharField(blank=True, editable=False, max_length=100),
        ),
        migrations.RunPython(issue_secrets, migrations.RunPython.noop),
    ]
