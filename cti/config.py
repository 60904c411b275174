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

from cti.configload import Secret, build, parse_env_value
from cti.core.hours import WeeklyHours, parse_weekly_hours
from cti.core.numbers import NumberRules
from cti.errors import ConfigError

__all__ = ["Config", "Secret", "load", "loads"]

LOCALES = ("en", "zh_Hans")
_INTERFACE = re.compile(r"^[A-Za-z][A-Za-z0-9_-]*/\S+$")
_PBX_NAME = re.compile(r"^[a-z0-9][a-z0-9_-]{0,31}$")


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


@dataclass(frozen=True, slots=True)
class SmsConfig:
    gateway: Literal["log", "twilio", "kannel", "http"] = "log"
    sender: str = ""


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
