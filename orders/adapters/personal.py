"""Personal data in channel payloads: masked for people, hashed for matching, and kept out of
channel metadata (it stays in the raw message store only)."""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from typing import Any


def mask_email(email: str) -> tuple[str, str]:
    """(masked, reference): `j***@example.com` for people, a stable hash for matching."""
    email = email.strip().lower()
    if not email or "@" not in email:
        return "", ""
    local, _, domain = email.partition("@")
    masked = f"{local[:1]}***@{domain}"
    return masked, hashlib.sha256(email.encode()).hexdigest()[:16]


# Fields that identify a person: kept in the raw message store only, never in channel metadata.
PERSONAL_FIELDS = frozenset(
    {
        "email",
        "contact_email",
        "customer_email",
        "phone",
        "customer",
        "billing_address",
        "shipping_address",
        "billing",
        "shipping",
        "BuyerInfo",
        "ShippingAddress",
        "DefaultShipFromLocationAddress",
        "browser_ip",
        "client_details",
        "customer_firstname",
        "customer_lastname",
        "addresses",
        "customer_ip_address",
        "customer_user_agent",
        "buyer_email_address",
        "recipient",
    }
)


def leftovers(
    data: Mapping[str, Any], mapped: set[str], personal: frozenset[str] = PERSONAL_FIELDS
) -> dict[str, Any]:
    """What the canonical model has no field for, minus personal data at any depth: channel
    metadata."""
    return {
        k: without_personal(v, personal)
        for k, v in data.items()
        if k not in mapped and k not in personal
    }


def without_personal(value: Any, personal: frozenset[str] = PERSONAL_FIELDS) -> Any:
    if isinstance(value, Mapping):
        return {k: without_personal(v, personal) for k, v in value.items() if k not in personal}
    if isinstance(value, list):
        return [without_personal(v, personal) for v in value]
    return value
