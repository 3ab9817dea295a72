"""/api/docs/ works with no network beyond our own server: Swagger UI comes from our static
files (drf-spectacular-sidecar), not a CDN."""

from __future__ import annotations

import pytest

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_swagger_ui_renders_the_schema_with_every_other_host_unreachable(page, live_server):
    elsewhere: list[str] = []

    def only_our_server(route) -> None:  # type: ignore[no-untyped-def]
        if route.request.url.startswith(live_server.url):
            route.continue_()
        else:
            elsewhere.append(route.request.url)
            route.abort()

    page.route("**/*", only_our_server)
    page.goto("/api/docs/")

    title = page.locator(".swagger-ui .info .title")
    title.wait_for(timeout=15_000)
    assert "retailsync API" in title.inner_text()
    assert page.locator(".opblock-summary-path", has_text="/api/v1/channels/{code}/orders").count()
    assert elsewhere == []
