"""The dashboard's rollup (rollup.py): a figure's total per channel and day, and the days a
write has made stale since. Neither is a record of its own: both can be dropped and rebuilt
from the orders, shipments, expectations and settlement lines at any time."""

from __future__ import annotations

from django.db import models

from retailsync.core.models import Channel


class DailyFigure(models.Model):
    figure = models.CharField(max_length=20)
    channel = models.ForeignKey(Channel, on_delete=models.CASCADE, db_constraint=False)
    day = models.DateField()
    amount = models.DecimalField(max_digits=19, decimal_places=4)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["figure", "channel", "day"], name="daily_figure_once")
        ]

    def __str__(self) -> str:
        return f"{self.figure} {self.channel_id} {self.day}: {self.amount}"


class StaleDay(models.Model):
    """Written by the database's triggers as rows of a rolled-up table come, change or go; a
    day of None: every day of that source (a change whose days the trigger cannot tell)."""

    source = models.CharField(max_length=20)
    day = models.DateField(null=True)

    def __str__(self) -> str:
        return f"{self.source} {self.day or 'every day'}"
