"""Writes of the exception workbench: who owns an exception, what people said on it, and the
same closing and assigning for many selected exceptions at once.

Each is one transaction; rows are locked in primary-key order (two people bulk-closing
overlapping selections never deadlock). Closing always needs a note, one or many at a time.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from django.contrib.auth import get_user_model
from django.db import transaction
from django.utils import timezone

from .errors import BusinessRuleViolation, Conflict, NotFound
from .models import ExceptionComment, ExceptionItem
from .roles import user_roles
from .services import exception_close

COMMENT_MAX = 4000
BULK_MAX = 500


def owner_named(username: str | None) -> Any:
    """The person `username` names, who must hold a role to work the queue; None unassigns."""
    if username is None or username == "":
        return None
    user = get_user_model().objects.filter(username=username, is_active=True).first()
    if user is None or not user_roles(user):
        raise BusinessRuleViolation(
            f"{username!r} is not a person with a role who could work the queue", field="owner"
        )
    return user


def exception_assign(*, item_id: int, owner: Any, now: datetime | None = None) -> ExceptionItem:
    """Give an open exception to `owner` (None: to nobody)."""
    with transaction.atomic():
        item = ExceptionItem.objects.select_for_update().filter(pk=item_id).first()
        if item is None:
            raise NotFound(f"exception {item_id} does not exist")
        if item.status != ExceptionItem.Status.OPEN:
            raise Conflict(f"exception {item_id} is {item.status} already")
        item.owner = owner
        item.save(update_fields=["owner"])
    return item


def exception_comment_add(
    *, item_id: int, author: Any, text: str, now: datetime | None = None
) -> ExceptionComment:
    """A comment on an exception, open or closed (what was learnt after is worth keeping)."""
    text = text.strip()
    if not text:
        raise BusinessRuleViolation("a comment needs some text", field="text")
    if len(text) > COMMENT_MAX:
        raise BusinessRuleViolation(f"at most {COMMENT_MAX} characters", field="text")
    if not ExceptionItem.objects.filter(pk=item_id).exists():
        raise NotFound(f"exception {item_id} does not exist")
    return ExceptionComment.objects.create(
        exception_id=item_id, author=author, text=text, at=now or timezone.now()
    )


@dataclass(frozen=True, slots=True)
class BulkResult:
    done: list[int]  # the ids changed
    skipped: list[int]  # the ids not open any more (someone closed them first)

    def summary(self, verb: str) -> str:
        said = f"{len(self.done)} exception(s) {verb}"
        if self.done:
            said += f" ({', '.join(f'#{pk}' for pk in self.done)})"
        if self.skipped:
            said += f"; {len(self.skipped)} not open any more, left as they were"
        return said


def _selected(ids: Sequence[int]) -> list[int]:
    chosen = sorted({int(pk) for pk in ids})
    if not chosen:
        raise BusinessRuleViolation("select at least one exception", field="ids")
    if len(chosen) > BULK_MAX:
        raise BusinessRuleViolation(f"at most {BULK_MAX} exceptions at once", field="ids")
    return chosen


def exceptions_assign(*, ids: Sequence[int], owner: Any) -> BulkResult:
    chosen = _selected(ids)
    with transaction.atomic():
        open_ids = list(
            ExceptionItem.objects.select_for_update()
            .filter(pk__in=chosen, status=ExceptionItem.Status.OPEN)
            .order_by("pk")
            .values_list("pk", flat=True)
        )
        ExceptionItem.objects.filter(pk__in=open_ids).update(owner=owner)
    return BulkResult(open_ids, [pk for pk in chosen if pk not in set(open_ids)])


def exceptions_close(
    *,
    ids: Sequence[int],
    user: Any,
    status: str,
    resolution: str,
    now: datetime | None = None,
) -> BulkResult:
    """Resolve or ignore each selected open exception with the same note, all or none."""
    if not resolution.strip():
        raise BusinessRuleViolation(
            "say how the exceptions were closed (a resolution note is required)",
            field="resolution",
        )
    chosen = _selected(ids)
    now = now or timezone.now()
    done: list[int] = []
    with transaction.atomic():
        rows = ExceptionItem.objects.select_for_update().filter(pk__in=chosen).order_by("pk")
        for item in rows:
            if item.status == ExceptionItem.Status.OPEN:
                exception_close(item=item, user=user, status=status, resolution=resolution, now=now)
                done.append(item.pk)
    return BulkResult(done, [pk for pk in chosen if pk not in set(done)])
