from __future__ import annotations

from pathlib import Path

from babel.messages.extract import extract_from_dir

from cti.i18n import LOCALES, Translations

ROOT = Path(__file__).resolve().parents[2]
KEYWORDS = {"_": None, "gettext": None, "ngettext": (1, 2), "N_": None}


def source_messages() -> set[str]:
    found: set[str] = set()
    methods = [("cti/**.py", "python"), ("web/templates/**.html", "jinja2")]
    options = {"web/templates/**.html": {"extensions": "jinja2.ext.i18n"}}
    for _file, _line, message, _comments, _context in extract_from_dir(
        str(ROOT), method_map=methods, options_map=options, keywords=KEYWORDS
    ):
        found.add(message[0] if isinstance(message, tuple) else message)
    return found


def test_sources_have_messages_to_translate() -> None:
    assert {"Sign in", "Wrong user name or password.", "agent"} <= source_messages()


def test_every_message_has_a_translation_in_every_locale() -> None:
    translations = Translations()
    messages = source_messages()
    for locale in LOCALES:
        if locale == "en":
            continue
        missing = sorted(messages - set(translations.catalogue(locale)))
        assert missing == [], f"{locale} lacks translations for {missing}"


def test_catalogues_have_no_stale_entries() -> None:
    translations = Translations()
    stale = sorted(set(translations.catalogue("zh_Hans")) - source_messages())
    assert stale == []


def test_placeholders_survive_translation() -> None:
    text = Translations().for_locale("zh_Hans")
    assert "Ada" in text.gettext("Welcome, %(name)s", name="Ada")
