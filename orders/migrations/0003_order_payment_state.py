from django.db import migrations, models

# The channel statuses each source's adapter reads as unpaid (orders/adapters/*.py, UNPAID),
# as they were when this field came: until then inventory read these names itself.
UNPAID = {
    "shopify": ["pending", "authorized"],
    "woocommerce": ["pending", "on-hold"],
    "amazon": ["Pending"],
    "magento": ["pending", "pending_payment"],
    "canonical": ["pending", "Pending", "authorized", "on-hold", "pending_payment"],
}


def unpaid_orders_marked(apps, schema_editor):
    Order = apps.get_model("orders", "Order")
    for source, statuses in UNPAID.items():
        Order.objects.filter(channel__source=source, channel_status__in=statuses).update(
            payment_state="unpaid"
        )


class Migration(migrations.Migration):
    dependencies = [
        ("orders", "0002_orderline_quantity_returned_and_more"),
    ]

    operations = [
        migrations.AddField(
            model_name="order",
            name="payment_state",
            field=models.CharField(
                choices=[("paid", "Paid"), ("unpaid", "Unpaid")], default="paid", max_length=8
            ),
        ),
        migrations.RunPython(unpaid_orders_marked, migrations.RunPython.noop, elidable=True),
    ]
