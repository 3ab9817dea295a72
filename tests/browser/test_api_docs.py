"""/api/docs/ (Swagger UI) and /api/redoc/ (Redoc) work with no network beyond our own server:
both come from our static files (drf-spectacular-sidecar, pinned in requirements.lock), not a
CDN. Every request to another host is aborted and recorded; none may be made."""

from __future__ import annotations

import pytest

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def only_our_server(page, live_server) -> list[str]:  # type: ignore[no-untyped-def]
    elsewhere: list[str] = []

    def route(route) -> None:  # type: ignore[no-untyped-def]
        if route.request.url.startswith(live_server.url):
            route.continue_()
        else:
            elsewhere.append(route.request.url)
            route.abort()

    page.route("**/*", route)
    return elsewhere


def test_swagger_ui_renders_the_schema_with_every_other_host_unreachable(page, live_server):
    elsewhere = only_our_server(page, live_server)
    page.goto("/api/docs/")

    title = page.locator(".swagger-ui .info .title")
    title.wait_for(timeout=15_000)
    assert "retailsync API" in title.inner_text()
    assert page.locator(".opblock-summary-path", has_text="/api/v1/channels/{code}/orders").count()
    assert page.locator(".opblock-summary-path", has_text="/api/v1/exceptions/").count()
    assert elsewhere == []


def test_redoc_renders_the_operations_with_every_other_host_unreachable(page, live_server):
    elsewhere = only_our_server(page, live_server)
    errors: list[str] = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    page.goto("/api/redoc/")

    heading = page.locator("h1", has_text="retailsync API")
    heading.wait_for(timeout=15_000)
    # The menu lists operations by their summaries, and an operation's path is on its panel.
    menu = page.locator("[role=menuitem]", has_text="Receive one order in the channel's own format")
    assert menu.count() >= 1
    assert page.get_by_text("/api/v1/channels/{code}/orders", exact=True).count() >= 1
    assert elsewhere == []
    assert errors == []
