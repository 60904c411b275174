from __future__ import annotations

from pathlib import Path

import pytest

from cti.config import Config, load, loads
from cti.errors import ConfigError

ROOT = Path(__file__).resolve().parents[1]


def test_example_configuration_is_valid_and_complete() -> None:
    config = load(ROOT / "config.example.toml")
    assert config.pbx[0].name == "main"
    assert config.database.url == "sqlite+aiosqlite:///cti.db"


def test_example_documents_every_key() -> None:
    import dataclasses
    import typing

    text = (ROOT / "config.example.toml").read_text()
    hints = typing.get_type_hints(Config)
    for section in dataclasses.fields(Config):
        tp = hints[section.name]
        tp = typing.get_args(tp)[0] if typing.get_origin(tp) is list else tp
        if not dataclasses.is_dataclass(tp):
            continue
        for f in dataclasses.fields(tp):
            documented = (f"\n{f.name} = ", f"\n# {f.name} = ", f"[{section.name}.{f.name}]")
            assert any(form in text for form in documented), f"{section.name}.{f.name}"


def test_empty_file_gives_the_embedded_defaults() -> None:
    config = loads("")
    assert config.pbx == []
    assert config.kpi.service_level_seconds == 20
    shown = [
        role for role in ("agent", "supervisor", "admin") if config.privacy.shows_withheld(role)
    ]
    assert shown == ["supervisor", "admin"]


def test_roles_that_see_withheld_callers_come_from_the_file_or_the_environment() -> None:
    assert loads("[privacy]\nshow_withheld_to = []").privacy.show_withheld_to == []
    environ = {"CTI_PRIVACY_SHOW_WITHHELD_TO": "agent, admin"}
    assert loads("", environ).privacy.show_withheld_to == ["agent", "admin"]


@pytest.mark.parametrize(
    ("text", "key", "reason"),
    [
        ("[server]\nprot = 1", "server.prot", "unknown key"),
        ("[server]\nport = '80'", "server.port", "expected a whole number"),
        ("[server]\nport = 70000", "server.port", "between 1 and 65535"),
        ("[[pbx]]\nhost = 'x'\nsecret = 's'", "pbx[0].name", "required value is missing"),
        ("[[pbx]]\nname = 'a'", "pbx[0].secret", "required"),
        ("[[pbx]]\nname = 'a'\nsecret = 's'\nport = true", "pbx[0].port", "whole number"),
        ("[database]\nurl = 'mysql://x'", "database.url", "must start with"),
        ("[kpi]\nservice_level_formula = 'magic'", "kpi.service_level_formula", "one of"),
        ("[hours]\ntimezone = 'Mars/Base'", "hours.timezone", "unknown time zone"),
        ("[hours.open]\nmon = '18:00-08:00'", "hours.open", "ends before it starts"),
        ("[hours.open]\nmonday = '08:00-18:00'", "hours.open", "unknown day"),
        ("[agents]\nalice = ['1001']", "agents.alice[0]", "device interface"),
        ("[numbers]\ndefault_region = 'XX'", "numbers.default_region", "ISO 3166"),
        (
            "[privacy]\nshow_withheld_to = ['admin', 'boss']",
            "privacy.show_withheld_to[1]",
            "one of",
        ),
        ("[privacy]\nshow_withheld_to = 'admin'", "privacy.show_withheld_to", "expected a list"),
        (
            "[[pbx]]\nname='a'\nsecret='s'\nwrapup_seconds={support='x'}",
            "pbx[0].wrapup_seconds.support",
            "whole number",
        ),
        ("[numbers]\nsuffix_digits = 3", "numbers.suffix_digits", "between 6 and 15"),
        (
            "[screenpop]\npop_urls = {support = 'https://crm/{name}'}",
            "screenpop.pop_urls.support",
            "unknown placeholder {name}",
        ),
        ("[screenpop]\nexternal_url = 'ftp://x'", "screenpop.external_url", "http"),
        ("[screenpop]\ndispositions = []", "screenpop.dispositions", "at least one"),
        ("[[pbx]]\nname='a'\nsecret='s'\noutside_line='+9'", "pbx[0].outside_line", "digits"),
        ("[agents]\na = ['PJSIP/1']\nb = ['PJSIP/1']", "agents.b[0]", "already mapped to a"),
        (
            "[[pbx]]\nname='a'\nsecret='s'\n[[pbx]]\nname='a'\nsecret='t'",
            "pbx[1].name",
            "duplicate",
        ),
        (
            "[[pbx]]\nname='a'\nsecret='s'\nevent_filter=[\"x\\r\\ny\"]",
            "pbx[0].event_filter[0]",
            "line",
        ),
        (
            "[[pbx]]\nname='a'\nsecret='s'\nqueue_log_file='/q'\nqueue_log_database='sqlite+aiosqlite:///q'",
            "pbx[0].queue_log_database",
            "not both",
        ),
        (
            "[[pbx]]\nname='a'\nsecret='s'\nqueue_log_database='mysql://ast@pbx/asterisk'",
            "pbx[0].queue_log_database",
            "asyncio driver",
        ),
        (
            "[[pbx]]\nname='a'\nsecret='s'\nqueue_log_table='queue_log; drop'",
            "pbx[0].queue_log_table",
            "table name",
        ),
        (
            "[[pbx]]\nname='a'\nsecret='s'\nqueue_log_zone='Mars/Base'",
            "pbx[0].queue_log_zone",
            "unknown time zone",
        ),
        ("[server\n", "config", "not valid TOML"),
    ],
)
def test_invalid_configuration_names_the_key(text: str, key: str, reason: str) -> None:
    with pytest.raises(ConfigError) as caught:
        loads(text)
    assert caught.value.key == key
    assert reason in caught.value.reason


def test_environment_overrides_scalars_and_pbx_secrets() -> None:
    text = "[[pbx]]\nname = 'main-1'\n"
    env = {
        "CTI_PBX_MAIN_1_SECRET": "from-env",
        "CTI_DATABASE_URL": "sqlite+aiosqlite:///x.db",
        "CTI_SERVER_PORT": "9000",
        "CTI_DATABASE_ECHO": "yes",
    }
    config = loads(text, env)
    assert config.pbx[0].secret.reveal() == "from-env"
    assert config.database.url == "sqlite+aiosqlite:///x.db"
    assert config.server.port == 9000
    assert config.database.echo is True


def test_bad_environment_value_names_the_variable() -> None:
    with pytest.raises(ConfigError, match="CTI_SERVER_PORT"):
        loads("", {"CTI_SERVER_PORT": "eighty"})


def test_secrets_never_show_in_repr() -> None:
    config = loads("[[pbx]]\nname = 'main'\nsecret = 'hunter22'\n[server]\nmetrics_token = 'tok'")
    assert "hunter22" not in repr(config)
    assert "tok'" not in repr(config.server)


def test_missing_file_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="cannot read"):
        load(tmp_path / "nope.toml")
