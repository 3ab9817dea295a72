from __future__ import annotations

import factory

from retailsync.core.models import Channel, LegalEntity


class LegalEntityFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = LegalEntity
        django_get_or_create = ("code",)

    code = "US01"
    name = "Retailer US Inc."
    currency = "USD"


class ChannelFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Channel

    code = factory.Sequence(lambda n: f"channel-{n}")
    source = Channel.Source.CANONICAL
    currency = "USD"
    legal_entity = factory.SubFactory(LegalEntityFactory)
