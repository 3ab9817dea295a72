"""A sensible starting chart of accounts and mapping rules for a legal entity: one account per
kind of amount, every rule for any channel, payment method and jurisdiction. Finance refines
it in the admin (or by import): a clearing account per payment method, tax per jurisdiction,
dimensions per channel. Installing it again changes nothing that exists."""

from __future__ import annotations

from django.db import transaction

from retailsync.core.errors import NotFound
from retailsync.core.models import LegalEntity

from .models import Account, AmountKind, MappingRule

T = Account.Type
K = AmountKind

# code, name, type, the kinds of amount it takes
CHART: tuple[tuple[str, str, str, tuple[str, ...]], ...] = (
    ("1000", "Bank", T.ASSET, (K.BANK,)),
    ("1100", "Channel clearing", T.ASSET, (K.CLEARING,)),
    ("1150", "Cash in transit", T.ASSET, (K.CASH_IN_TRANSIT,)),
    ("1200", "Inventory", T.ASSET, (K.INVENTORY,)),
    ("1250", "Reserves held by providers", T.ASSET, (K.RESERVE,)),
    ("2200", "Sales tax payable", T.LIABILITY, (K.TAX_PAYABLE,)),
    ("2300", "Store credit liability", T.LIABILITY, (K.STORE_CREDIT_LIABILITY,)),
    ("2310", "Gift card liability", T.LIABILITY, (K.GIFT_CARD_LIABILITY,)),
    ("4000", "Sales revenue", T.INCOME, (K.REVENUE,)),
    ("4010", "Shipping revenue", T.INCOME, (K.SHIPPING_REVENUE,)),
    ("4050", "Sales discounts", T.INCOME, (K.DISCOUNT,)),
    ("4060", "Restocking fees", T.INCOME, (K.RESTOCKING_FEE,)),
    ("5000", "Cost of goods sold", T.EXPENSE, (K.COGS,)),
    ("5010", "Inventory write-downs", T.EXPENSE, (K.INVENTORY_WRITEDOWN,)),
    ("6100", "Payment processing fees", T.EXPENSE, (K.FEES,)),
    ("6110", "Marketplace commissions", T.EXPENSE, (K.COMMISSION,)),
    ("6120", "Advertising", T.EXPENSE, (K.ADVERTISING,)),
    ("6130", "Chargebacks", T.EXPENSE, (K.CHARGEBACK,)),
    ("6900", "Settlement write-offs", T.EXPENSE, (K.WRITE_OFF,)),
    ("7900", "Foreign exchange differences", T.EXPENSE, (K.FX_DIFFERENCE,)),
)


def chart_install(*, legal_entity: str) -> int:
    """The starting chart and its catch-all rules; how many rows were added."""
    entity = LegalEntity.objects.filter(code=legal_entity).first()
    if entity is None:
        raise NotFound(f"legal entity {legal_entity!r} does not exist")
    added = 0
    with transaction.atomic():
        for code, name, kind, amounts in CHART:
            account, made = Account.objects.get_or_create(
                legal_entity=entity, code=code, defaults={"name": name, "type": kind}
            )
            added += made
            for amount in amounts:
                _, made = MappingRule.objects.get_or_create(
                    legal_entity=entity,
                    channel=None,
                    payment_method="",
                    kind=amount,
                    jurisdiction="",
                    defaults={"account": account},
                )
                added += made
    return added
