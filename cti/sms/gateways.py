"""The configured gateways, built once at start; with none configured, the `log` gateway."""

from __future__ import annotations

from collections.abc import Mapping
from urllib.parse import quote

import aiohttp

from cti.config import SmsConfig, SmsGatewayConfig
from cti.sms.gateway import Gateway
from cti.sms.http_gateway import HttpGateway
from cti.sms.kannel_gateway import KannelGateway
from cti.sms.log_gateway import LogGateway
from cti.sms.twilio_gateway import TwilioGateway

DEFAULT = SmsGatewayConfig(name="log", kind="log", rate_per_second=0)


def configured(settings: SmsConfig) -> list[SmsGatewayConfig]:
    return list(settings.gateways) or [DEFAULT]


def build(
    settings: SmsConfig, http: aiohttp.ClientSession, callback_base: str
) -> dict[str, Gateway]:
    """`callback_base` is where gateways reach this service for delivery reports and replies."""
    return {g.name: _one(g, http, callback_base, settings) for g in configured(settings)}


def countries(settings: SmsConfig) -> Mapping[str, list[str]]:
    return {g.name: g.countries for g in configured(settings)}


def _one(
    config: SmsGatewayConfig, http: aiohttp.ClientSession, callback_base: str, settings: SmsConfig
) -> Gateway:
    if config.kind == "log":
        return LogGateway(config.name, config.sender, config.rate_per_second)
    if config.kind == "twilio":
        status_url = f"{callback_base}/sms/twilio/{config.name}/status"
        return TwilioGateway(config, status_url)
    if config.kind == "kannel":
        key = quote(settings.webhook_token.reveal(), safe="")
        dlr_url = f"{callback_base}/sms/kannel/{config.name}/dlr?key={key}"
        return KannelGateway(config, http, dlr_url)
    # The message token in the status URL is what authenticates a generic provider's report.
    return HttpGateway(config, http, f"{callback_base}/sms/http/{config.name}/status")
