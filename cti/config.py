"""The service configuration: one TOML file, secrets optionally from `CTI_*` environment variables.

`load()` builds one frozen `Config`; every key is documented in config.example.toml. An
environment variable overrides a scalar key: `CTI_<SECTION>_<KEY>` (for example
`CTI_DATABASE_URL`) or, for a PBX, `CTI_PBX_<NAME>_<KEY>` (for example `CTI_PBX_MAIN_SECRET`).
"""

from __future__ import annotations

import dataclasses
import re
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal, get_type_hints
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import phonenumbers
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError

from cti.configload import Secret, build, parse_env_value
from cti.core.hours import WeeklyHours, parse_weekly_hours
from cti.core.kpi import KpiSettings
from cti.core.numbers import NumberRules
from cti.errors import ConfigError

__all__ = ["Config", "Secret", "load", "loads"]

LOCALES = ("en", "zh_Hans")
_INTERFACE = re.compile(r"^[A-Za-z][A-Za-z0-9_-]*/\S+$")
_PBX_NAME = re.compile(r"^[a-z0-9][a-z0-9_-]{0,31}$")
_TABLE_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]{0,62}(\.[A-Za-z_][A-Za-z0-9_]{0,62})?$")
# SQLAlchemy drivers that run under asyncio, for the queue_log table.
_ASYNC_DRIVERS = frozenset({"asyncpg", "aiosqlite", "aiomysql", "asyncmy"})


@dataclass(frozen=True, slots=True)
class ServerConfig:
    host: str = "127.0.0.1"
    port: int = 8080
    public_url: str = ""
    session_hours: float = 12.0
    metrics_token: Secret = field(default_factory=lambda: Secret(""))
    shutdown_timeout: float = 10.0
    default_locale: Literal["en", "zh_Hans"] = "en"

    def validate(self, key: str) -> None:
        if not 0 < self.port < 65536:
            raise ConfigError(f"{key}.port", f"must be between 1 and 65535, got {self.port}")
        if self.public_url and not re.match(r"^https?://[^/\s]+", self.public_url):
            raise ConfigError(f"{key}.public_url", "must start with http:// or https://")
        if self.session_hours <= 0:
            raise ConfigError(f"{key}.session_hours", "must be positive")

    @property
    def base_url(self) -> str:
        return (self.public_url or f"http://{self.host}:{self.port}").rstrip("/")

    @property
    def https(self) -> bool:
        return self.base_url.startswith("https://")


@dataclass(frozen=True, slots=True)
class DatabaseConfig:
    url: str = "sqlite+aiosqlite:///cti.db"
    pool_size: int = 10
    schema: str = ""
    busy_timeout_ms: int = 5000
    echo: bool = False

    def validate(self, key: str) -> None:
        if not self.url.startswith(("sqlite+aiosqlite://", "postgresql+asyncpg://")):
            raise ConfigError(
                f"{key}.url", "must start with sqlite+aiosqlite:// or postgresql+asyncpg://"
            )
        if self.schema and not re.match(r"^[a-z_][a-z0-9_]{0,62}$", self.schema):
            raise ConfigError(f"{key}.schema", "use lowercase letters, digits and '_'")


@dataclass(frozen=True, slots=True)
class PbxConfig:
    name: str
    host: str = "127.0.0.1"
    port: int = 5038
    username: str = "cti"
    secret: Secret = field(default_factory=lambda: Secret(""))
    events: str = "call,agent,user,system,dialplan"
    event_filter: list[str] = field(default_factory=list)
    ping_interval: float = 10.0
    ping_timeout: float = 5.0
    action_timeout: float = 10.0
    reconnect_min: float = 0.5
    reconnect_max: float = 30.0
    auth_retry: float = 60.0
    simulator: bool = False
    simulator_calls_per_minute: float = 6.0
    outside_line: str = ""
    trunk_prefix: str = ""
    international_prefix: str = ""
    outbound_context: str = "from-internal"
    wrapup_seconds: dict[str, int] = field(default_factory=dict)
    queue_log_file: str = ""
    queue_log_database: Secret = field(default_factory=lambda: Secret(""))
    queue_log_table: str = "queue_log"
    queue_log_zone: str = "UTC"

    def number_rules(self, region: str) -> NumberRules:
        """How this PBX writes caller numbers, for cti.core.numbers.normalize."""
        return NumberRules(region, self.outside_line, self.trunk_prefix, self.international_prefix)

    def validate(self, key: str) -> None:
        if not _PBX_NAME.match(self.name):
            raise ConfigError(f"{key}.name", "use 1-32 lowercase letters, digits, '-' or '_'")
        if not 0 < self.port < 65536:
            raise ConfigError(f"{key}.port", f"must be between 1 and 65535, got {self.port}")
        if not self.secret:
            raise ConfigError(
                f"{key}.secret", f"required (or set CTI_PBX_{_env(self.name)}_SECRET)"
            )
        for index, rule in enumerate(self.event_filter):
            if "\r" in rule or "\n" in rule:
                raise ConfigError(f"{key}.event_filter[{index}]", "must not contain line breaks")
        if self.ping_timeout >= self.ping_interval:
            raise ConfigError(f"{key}.ping_timeout", "must be shorter than ping_interval")
        if self.reconnect_min <= 0 or self.reconnect_max < self.reconnect_min:
            raise ConfigError(f"{key}.reconnect_max", "must be >= reconnect_min > 0")
        for queue, seconds in self.wrapup_seconds.items():
            if seconds < 0:
                raise ConfigError(f"{key}.wrapup_seconds.{queue}", "must not be negative")
        for name in ("outside_line", "trunk_prefix", "international_prefix"):
            if not getattr(self, name).isdigit() and getattr(self, name):
                raise ConfigError(f"{key}.{name}", "must be digits only, or empty")
        self._validate_queue_log(key)

    def _validate_queue_log(self, key: str) -> None:
        if self.queue_log_file and self.queue_log_database:
            raise ConfigError(f"{key}.queue_log_database", "set queue_log_file or this, not both")
        if self.queue_log_database:
            try:
                url = make_url(self.queue_log_database.reveal())
            except ArgumentError:
                raise ConfigError(f"{key}.queue_log_database", "not a database URL") from None
            if url.get_driver_name() not in _ASYNC_DRIVERS:
                raise ConfigError(
                    f"{key}.queue_log_database",
                    "needs an asyncio driver, e.g. postgresql+asyncpg:// or mysql+aiomysql://",
                )
        if not _TABLE_NAME.match(self.queue_log_table):
            raise ConfigError(f"{key}.queue_log_table", "must be a table name (or schema.table)")
        try:
            ZoneInfo(self.queue_log_zone)
        except (ZoneInfoNotFoundError, ValueError):
            raise ConfigError(
                f"{key}.queue_log_zone", f"unknown time zone {self.queue_log_zone!r}"
            ) from None


_GATEWAY_NAME = re.compile(r"^[a-z0-9][a-z0-9_-]{0,31}$")
_HTTP_FIELDS = frozenset({"to", "sender", "body", "id", "key", "status_url", "coding"})


@dataclass(frozen=True, slots=True)
class SmsGatewayConfig:
    """One way out: a provider account, its sender, and the destination countries it serves."""

    name: str
    kind: Literal["log", "twilio", "kannel", "http"] = "log"
    # ISO 3166 regions this gateway serves; empty: every destination no other gateway claims.
    countries: list[str] = field(default_factory=list)
    sender: str = ""
    rate_per_second: float = 1.0
    # twilio
    account_sid: str = ""
    auth_token: Secret = field(default_factory=lambda: Secret(""))
    messaging_service_sid: str = ""
    # kannel: the sendsms URL; http: the request URL template; twilio: a Twilio-compatible API
    # instead of Twilio's own (a test double)
    url: str = ""
    username: str = ""
    password: Secret = field(default_factory=lambda: Secret(""))
    # http
    method: Literal["GET", "POST"] = "POST"
    content_type: Literal["json", "form"] = "json"
    body: dict[str, str] = field(default_factory=dict)
    headers: dict[str, Secret] = field(default_factory=dict)
    idempotency_header: str = ""
    response_id: str = ""
    response_error: str = ""

    def validate(self, key: str) -> None:
        if not _GATEWAY_NAME.match(self.name):
            raise ConfigError(f"{key}.name", "use 1-32 lowercase letters, digits, '-' or '_'")
        for index, region in enumerate(self.countries):
            if region not in phonenumbers.SUPPORTED_REGIONS:
                raise ConfigError(f"{key}.countries[{index}]", f"{region!r} is not a region code")
        if self.rate_per_second < 0:
            raise ConfigError(f"{key}.rate_per_second", "must not be negative (0: no limit)")
        self._validate_kind(key)

    def _validate_kind(self, key: str) -> None:
        env = f"CTI_SMS_{_env(self.name)}_"
        if self.kind == "twilio":
            if not re.match(r"^AC[0-9a-fA-F]{32}$", self.account_sid):
                raise ConfigError(f"{key}.account_sid", "a Twilio Account SID: AC + 32 hex digits")
            if not self.auth_token:
                raise ConfigError(f"{key}.auth_token", f"required (or set {env}AUTH_TOKEN)")
            if not (self.sender or self.messaging_service_sid):
                raise ConfigError(f"{key}.sender", "set a sender or a messaging_service_sid")
        if self.kind in ("kannel", "http") or self.url:
            if not re.match(r"^https?://", self.url):
                raise ConfigError(f"{key}.url", "must start with http:// or https://")
        if self.kind == "kannel" and not (self.username and self.password):
            raise ConfigError(f"{key}.password", f"username and password required ({env}PASSWORD)")
        if self.kind == "http":
            for name, template in {"url": self.url, **self.body}.items():
                for placeholder in re.findall(r"{([^{}]*)}", template):
                    if placeholder not in _HTTP_FIELDS:
                        raise ConfigError(
                            f"{key}.{name if name == 'url' else 'body.' + name}",
                            f"unknown placeholder {{{placeholder}}}; use "
                            + ", ".join(sorted(_HTTP_FIELDS)),
                        )


@dataclass(frozen=True, slots=True)
class SmsConfig:
    # The gateways; with none, a `log` gateway keeps messages and sends nothing.
    gateways: list[SmsGatewayConfig] = field(default_factory=list)
    center_name: str = "our call center"
    max_attempts: int = 8
    retry_seconds: float = 5.0
    retry_max_seconds: float = 3600.0
    lease_seconds: float = 60.0
    # Messages sent at once by the outbox worker.
    concurrency: int = 16
    quiet_hours: str = "21:00-08:00"
    daily_cap: int = 5
    opt_out_applies_to_transactional: bool = False
    # Where the gateways' callbacks reach this service, when it differs from server.public_url.
    callback_url: str = ""
    # Shared secret in the Kannel delivery-report and inbound URLs.
    webhook_token: Secret = field(default_factory=lambda: Secret(""))

    def gateway(self, name: str, kind: str) -> SmsGatewayConfig | None:
        """The configured gateway a callback URL names, if it is of the kind that calls there."""
        return next((g for g in self.gateways if g.name == name and g.kind == kind), None)

    def validate(self, key: str) -> None:
        names = [g.name for g in self.gateways]
        for index, name in enumerate(names):
            if name in names[:index]:
                raise ConfigError(f"{key}.gateways[{index}].name", f"duplicate gateway {name!r}")
        claimed: dict[str, str] = {}
        for gateway in self.gateways:
            for region in gateway.countries:
                if region in claimed:
                    raise ConfigError(
                        f"{key}.gateways", f"{region} is routed to {claimed[region]} already"
                    )
                claimed[region] = gateway.name
        if self.max_attempts < 1:
            raise ConfigError(f"{key}.max_attempts", "must be at least 1")
        if not 0 < self.retry_seconds <= self.retry_max_seconds:
            raise ConfigError(f"{key}.retry_max_seconds", "must be >= retry_seconds > 0")
        if self.lease_seconds < 5:
            raise ConfigError(f"{key}.lease_seconds", "must be at least 5")
        if not 1 <= self.concurrency <= 256:
            raise ConfigError(f"{key}.concurrency", "must be between 1 and 256")
        if self.quiet_hours and not _QUIET.match(self.quiet_hours):
            raise ConfigError(f"{key}.quiet_hours", "use HH:MM-HH:MM, or empty for none")
        if self.daily_cap < 0:
            raise ConfigError(f"{key}.daily_cap", "must not be negative (0: no cap)")
        if self.callback_url and not re.match(r"^https?://[^/\s]+", self.callback_url):
            raise ConfigError(f"{key}.callback_url", "must start with http:// or https://")
        needs_token = any(g.kind == "kannel" for g in self.gateways)
        if needs_token and len(self.webhook_token.reveal()) < 16:
            raise ConfigError(
                f"{key}.webhook_token",
                "Kannel needs at least 16 characters (CTI_SMS_WEBHOOK_TOKEN)",
            )


_QUIET = re.compile(r"^([01]\d|2[0-3]):[0-5]\d-([01]\d|2[0-3]):[0-5]\d$")


@dataclass(frozen=True, slots=True)
class NumbersConfig:
    default_region: str = "US"
    suffix_digits: int = 8

    def validate(self, key: str) -> None:
        if self.default_region not in phonenumbers.SUPPORTED_REGIONS:
            raise ConfigError(
                f"{key}.default_region",
                f"{self.default_region!r} is not an ISO 3166 region code such as US or GB",
            )
        if not 6 <= self.suffix_digits <= 15:
            raise ConfigError(f"{key}.suffix_digits", "must be between 6 and 15")


@dataclass(frozen=True, slots=True)
class ScreenPopConfig:
    lookup_budget_ms: int = 200
    pop_urls: dict[str, str] = field(default_factory=dict)
    external_url: str = ""
    external_timeout_ms: int = 800
    external_cache_seconds: int = 300
    dispositions: list[str] = field(
        default_factory=lambda: ["resolved", "follow-up", "sale", "complaint", "wrong number"]
    )

    def validate(self, key: str) -> None:
        if not 10 <= self.lookup_budget_ms <= 5000:
            raise ConfigError(f"{key}.lookup_budget_ms", "must be between 10 and 5000")
        for queue, template in self.pop_urls.items():
            _check_url_template(f"{key}.pop_urls.{queue}", template)
        if self.external_url:
            _check_url_template(f"{key}.external_url", self.external_url)
        if not self.dispositions:
            raise ConfigError(f"{key}.dispositions", "needs at least one disposition code")


_URL_FIELDS = frozenset({"customer_id", "external_id", "e164", "number", "queue", "call_id"})


def _check_url_template(key: str, template: str) -> None:
    if not re.match(r"^https?://", template):
        raise ConfigError(key, "must start with http:// or https://")
    for name in re.findall(r"{([^{}]*)}", template):
        if name not in _URL_FIELDS:
            raise ConfigError(
                key, f"unknown placeholder {{{name}}}; use {', '.join(sorted(_URL_FIELDS))}"
            )


@dataclass(frozen=True, slots=True)
class PrivacyConfig:
    # Roles that see the number, name and customer of a caller who withheld their number; the
    # others see "withheld" (the call still belongs to its customer, for the reports).
    show_withheld_to: list[Literal["agent", "supervisor", "admin"]] = field(
        default_factory=lambda: ["supervisor", "admin"]
    )

    def shows_withheld(self, role: str) -> bool:
        return role in self.show_withheld_to


@dataclass(frozen=True, slots=True)
class KpiConfig:
    service_level_seconds: int = 20
    short_abandon_seconds: int = 5
    service_level_formula: Literal["answered-and-long-abandons", "answered-only", "all-offered"] = (
        "answered-and-long-abandons"
    )
    service_level_target: float = 0.8
    abandon_rate_limit: float = 0.05
    longest_wait_limit: int = 60
    pause_reasons: list[str] = field(
        default_factory=lambda: ["break", "lunch", "training", "meeting", "back office"]
    )

    def validate(self, key: str) -> None:
        if self.service_level_seconds <= 0:
            raise ConfigError(f"{key}.service_level_seconds", "must be positive")
        if self.short_abandon_seconds < 0:
            raise ConfigError(f"{key}.short_abandon_seconds", "must not be negative")
        for name in ("service_level_target", "abandon_rate_limit"):
            if not 0 < getattr(self, name) < 1:
                raise ConfigError(f"{key}.{name}", "must be a fraction between 0 and 1")
        if not self.pause_reasons:
            raise ConfigError(f"{key}.pause_reasons", "needs at least one reason")


@dataclass(frozen=True, slots=True)
class HoursConfig:
    timezone: str = "UTC"
    open: dict[str, str] = field(default_factory=dict)

    def validate(self, key: str) -> None:
        try:
            ZoneInfo(self.timezone)
        except (ZoneInfoNotFoundError, ValueError):
            raise ConfigError(f"{key}.timezone", f"unknown time zone {self.timezone!r}") from None
        try:
            parse_weekly_hours(self.open)
        except ValueError as exc:
            raise ConfigError(f"{key}.open", str(exc)) from None

    @property
    def zone(self) -> ZoneInfo:
        return ZoneInfo(self.timezone)

    @property
    def weekly(self) -> WeeklyHours:
        return parse_weekly_hours(self.open)


@dataclass(frozen=True, slots=True)
class Config:
    server: ServerConfig = field(default_factory=ServerConfig)
    database: DatabaseConfig = field(default_factory=DatabaseConfig)
    pbx: list[PbxConfig] = field(default_factory=list)
    agents: dict[str, list[str]] = field(default_factory=dict)
    numbers: NumbersConfig = field(default_factory=NumbersConfig)
    screenpop: ScreenPopConfig = field(default_factory=ScreenPopConfig)
    privacy: PrivacyConfig = field(default_factory=PrivacyConfig)
    sms: SmsConfig = field(default_factory=SmsConfig)
    kpi: KpiConfig = field(default_factory=KpiConfig)
    hours: HoursConfig = field(default_factory=HoursConfig)

    def validate(self, key: str) -> None:
        names = [p.name for p in self.pbx]
        for index, name in enumerate(names):
            if name in names[:index]:
                raise ConfigError(f"pbx[{index}].name", f"duplicate PBX name {name!r}")
        owners: dict[str, str] = {}
        for user, interfaces in self.agents.items():
            for index, interface in enumerate(interfaces):
                where = f"agents.{user}[{index}]"
                if not _INTERFACE.match(interface):
                    raise ConfigError(
                        where, f"not a device interface like PJSIP/1001: {interface!r}"
                    )
                if interface in owners:
                    raise ConfigError(
                        where, f"{interface} is already mapped to {owners[interface]}"
                    )
                owners[interface] = user

    def kpi_settings(self, pbx: PbxConfig | None = None) -> KpiSettings:
        """The KPI definitions with one PBX's wrap-up times, or every PBX's (reports)."""
        wrapup: dict[str, int] = {}
        for one in [pbx] if pbx is not None else self.pbx:
            wrapup.update(one.wrapup_seconds)
        kpi = self.kpi
        return KpiSettings(
            kpi.service_level_seconds, kpi.short_abandon_seconds, kpi.service_level_formula, wrapup
        )


def load(path: str | Path, environ: Mapping[str, str] | None = None) -> Config:
    """Read and validate a configuration file; raise ConfigError naming the offending key."""
    try:
        text = Path(path).read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigError(
            str(path), f"cannot read the configuration file: {exc.strerror}"
        ) from None
    return loads(text, environ, source=str(path))


def loads(text: str, environ: Mapping[str, str] | None = None, source: str = "config") -> Config:
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(source, f"not valid TOML: {exc}") from None
    _apply_environment(data, environ or {})
    return build(Config, data, "")


def _apply_environment(data: dict[str, Any], environ: Mapping[str, str]) -> None:
    hints = get_type_hints(Config)
    for section in dataclasses.fields(Config):
        section_tp = hints[section.name]
        if dataclasses.is_dataclass(section_tp):
            table = data.setdefault(section.name, {})
            if isinstance(table, dict):
                _override(table, section_tp, f"CTI_{section.name.upper()}_", section.name, environ)
    sms = data.get("sms")
    gateways = sms.get("gateways") if isinstance(sms, dict) else None
    if isinstance(gateways, list):
        for index, table in enumerate(gateways):
            if isinstance(table, dict) and isinstance(table.get("name"), str):
                prefix = f"CTI_SMS_{_env(table['name'])}_"
                _override(table, SmsGatewayConfig, prefix, f"sms.gateways[{index}]", environ)
    pbxes = data.get("pbx")
    if isinstance(pbxes, list):
        for index, table in enumerate(pbxes):
            if isinstance(table, dict) and isinstance(table.get("name"), str):
                prefix = f"CTI_PBX_{_env(table['name'])}_"
                _override(table, PbxConfig, prefix, f"pbx[{index}]", environ)


def _override(
    table: dict[str, Any], cls: Any, prefix: str, key: str, environ: Mapping[str, str]
) -> None:
    hints = get_type_hints(cls)
    for f in dataclasses.fields(cls):
        raw = environ.get(prefix + f.name.upper())
        if raw is not None:
            table[f.name] = parse_env_value(
                hints[f.name], raw, f"{key}.{f.name} ({prefix}{f.name.upper()})"
            )


def _env(name: str) -> str:
    return re.sub(r"[^A-Za-z0-9]", "_", name).upper()
