"""The way up, on the pages of the records journals summarize: the order, the return and the
settlement line pages each show the journal lines the record fed, its part in each, with a link
to the entry. Registered with the core at start-up (apps.py), since orders, returns and
settlements may not import journals."""

from __future__ import annotations

from django.http import HttpRequest
from django.template.loader import render_to_string

from retailsync.core.registry import register_order_panel, register_panel
from retailsync.core.roles import has_role

from .models import SourceType
from .selectors import lines_fed_by

# An order feeds a line per account and jurisdiction of its sale and of its returns' memos:
# far fewer than this. Past it the panel says how many more there are.
SHOWN = 200


def _fed(request: HttpRequest, *, source_type: str, source_id: int, what: str) -> str:
    """Finance's (and admin's) section; nothing for other roles."""
    if not has_role(request.user, "finance"):
        return ""
    fed = lines_fed_by(source_type=source_type, source_id=source_id)
    shown = list(fed[: SHOWN + 1])
    return render_to_string(
        "journals/fed_panel.html",
        {
            "fed": shown[:SHOWN],
            "more": len(shown) > SHOWN,
            "what": what,
            "source_type": source_type,
            "source_id": source_id,
        },
        request=request,
    )


def order_journal_panel(request: HttpRequest, *, order_id: int) -> str:
    return _fed(request, source_type=SourceType.ORDER, source_id=order_id, what="order")


def return_journal_panel(request: HttpRequest, *, object_id: int) -> str:
    return _fed(request, source_type=SourceType.RETURN, source_id=object_id, what="return")


def settlement_line_journal_panel(request: HttpRequest, *, object_id: int) -> str:
    return _fed(request, source_type=SourceType.SETTLEMENT_LINE, source_id=object_id, what="line")


def panels_register() -> None:
    register_order_panel("journals", order_journal_panel)
    register_panel("return", "journals", return_journal_panel)
    register_panel("settlement_line", "journals", settlement_line_journal_panel)
