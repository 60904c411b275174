"""Which gateway carries a message: the one configured for the destination's country, else the
one that claims no country."""

from __future__ import annotations

from collections.abc import Mapping

import phonenumbers

from cti.errors import DomainError
from cti.sms.gateway import Gateway


class Router:
    def __init__(self, gateways: Mapping[str, Gateway], countries: Mapping[str, list[str]]) -> None:
        self._by_region = {
            region: gateways[name] for name, regions in countries.items() for region in regions
        }
        fallback = [gateways[name] for name, regions in countries.items() if not regions]
        self._fallback = fallback[0] if fallback else None

    def route(self, e164: str) -> Gateway:
        region = phonenumbers.region_code_for_number(phonenumbers.parse(e164))
        gateway = self._by_region.get(region or "", self._fallback)
        if gateway is None:
            raise DomainError(f"no SMS gateway is configured for numbers in {region or 'nowhere'}")
        return gateway
