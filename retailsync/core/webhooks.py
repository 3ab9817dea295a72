"""Outbound webhooks: where the workers may post, and how a receiver knows a post is ours.

The worker posts to URLs that staff typed in, from inside the network: unchecked, a URL such
as `http://127.0.0.1:6379/` or `http://169.254.169.254/` makes it a proxy into places no
caller should reach. So a webhook URL must be https (plain http only with DEBUG on), and every
address its host resolves to must be public: loopback, private, link-local, multicast and
reserved addresses are refused, when the URL is saved and again at every delivery (a name can
be re-pointed after it was saved). Redirects are not followed. Hosts in
`WEBHOOK_ALLOWED_HOSTS` (the environment, comma-separated) are exempt from both rules, for an
internal receiver someone chose deliberately.

Every delivery is signed like Stripe's: `X-Retailsync-Signature: t=<unix time>,v1=<hex>`,
where `v1` is HMAC-SHA256 with the channel's webhook secret over `<t>.<raw body>`. The receiver
recomputes it and refuses a stale `t` (replays).
"""

from __future__ import annotations

import hashlib
import hmac
import ipaddress
import secrets
import socket
import urllib.request
from urllib.parse import urlsplit

from django.conf import settings

SIGNATURE_HEADER = "X-Retailsync-Signature"


def webhook_url_problems(url: str) -> list[str]:
    """Why the workers may not post to `url` (empty: they may)."""
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError as exc:
        return [f"not a usable URL: {exc}"]
    host = (parts.hostname or "").lower()
    if not host:
        return ["the URL names no host"]
    if parts.username or parts.password:
        return ["credentials in the URL are not allowed; the delivery is signed instead"]
    if host in {h.lower() for h in settings.WEBHOOK_ALLOWED_HOSTS}:
        return []
    if parts.scheme != "https" and not (settings.DEBUG and parts.scheme == "http"):
        return ["must be an https URL"]
    try:
        infos = socket.getaddrinfo(host, port or 443, proto=socket.IPPROTO_TCP)
    except (OSError, UnicodeError):
        return [f"the host {host!r} does not resolve"]
    refused = sorted(
        {str(info[4][0]) for info in infos if not _public(str(info[4][0]))},
    )
    if refused:
        return [
            f"the host {host!r} is an internal address ({', '.join(refused)}); "
            "only public addresses take webhooks"
        ]
    return []


def _public(address: str) -> bool:
    ip = ipaddress.ip_address(address.split("%", 1)[0])
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    return ip.is_global and not ip.is_multicast


def webhook_secret_new() -> str:
    return "whsec_" + secrets.token_urlsafe(32)


def webhook_signature(*, secret: str, body: bytes, timestamp: int) -> str:
    mac = hmac.new(secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256)
    return f"t={timestamp},v1={mac.hexdigest()}"


def webhook_signature_valid(
    *, secret: str, body: bytes, header: str, now: int, tolerance: int = 300
) -> bool:
    """What a receiver does (and the tests): the newest `v1` over `t.body`, `t` recent."""
    fields = dict(part.split("=", 1) for part in header.split(",") if "=" in part)
    try:
        timestamp = int(fields.get("t", ""))
    except ValueError:
        return False
    expected = webhook_signature(secret=secret, body=body, timestamp=timestamp)
    return abs(now - timestamp) <= tolerance and hmac.compare_digest(expected, header)


class _NoRedirects(urllib.request.HTTPRedirectHandler):
    """A 3xx is the receiver's answer, not an address to follow past the checks above."""

    def redirect_request(self, *args: object, **kwargs: object) -> None:
        return None


webhook_opener = urllib.request.build_opener(_NoRedirects())
