"""Translations and locale formatting: every page's text goes through here.

Catalogues are gettext .po files beside this module (English is the source language). Dates, times
and numbers are formatted with Babel in the user's locale and time zone.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Final
from zoneinfo import ZoneInfo

from babel import Locale
from babel.dates import format_datetime
from babel.messages.pofile import read_po
from babel.numbers import format_decimal, format_percent

LOCALES: Final = ("en", "zh_Hans")
LOCALE_NAMES: Final = {"en": "English", "zh_Hans": "简体中文"}
CATALOGUES = Path(__file__).parent


class Translations:
    """Message catalogues by locale; unknown messages fall back to the English source text."""

    def __init__(self, directory: Path = CATALOGUES) -> None:
        self._catalogues: dict[str, dict[str, str | tuple[str, ...]]] = {"en": {}}
        for path in sorted(directory.glob("*.po")):
            with path.open("rb") as handle:
                catalog = read_po(handle)
            table: dict[str, str | tuple[str, ...]] = {}
            for message in catalog:
                if not message.id or not message.string or message.fuzzy:
                    continue
                key = message.id if isinstance(message.id, str) else message.id[0]
                string = message.string
                table[key] = string if isinstance(string, str) else tuple(string)
            self._catalogues[path.stem] = table

    def for_locale(self, locale: str) -> LocaleText:
        return LocaleText(locale, self._catalogues.get(locale, {}))

    def catalogue(self, locale: str) -> dict[str, str | tuple[str, ...]]:
        return self._catalogues.get(locale, {})


@dataclass(frozen=True, slots=True)
class LocaleText:
    """gettext and formatting for one locale, handed to templates and handlers."""

    locale: str
    table: dict[str, str | tuple[str, ...]]

    def gettext(self, message: str, **variables: object) -> str:
        found = self.table.get(message)
        text = found if isinstance(found, str) else message
        return text % variables if variables else text

    def ngettext(self, singular: str, plural: str, n: int, **variables: object) -> str:
        found = self.table.get(singular)
        if isinstance(found, tuple) and found:
            # Chinese has one plural form; English forms come from the source text.
            text = found[0] if len(found) == 1 or n == 1 else found[1]
        else:
            text = singular if n == 1 else plural
        return text % {"num": n, **variables}

    @property
    def babel(self) -> Locale:
        return Locale.parse(self.locale)

    def datetime(self, value: datetime, zone: str, fmt: str = "medium") -> str:
        return format_datetime(value, fmt, tzinfo=ZoneInfo(zone), locale=self.babel)

    def number(self, value: float, digits: int = 0) -> str:
        pattern = "#,##0" + ("." + "0" * digits if digits else "")
        return format_decimal(value, format=pattern, locale=self.babel)

    def percent(self, value: float) -> str:
        return format_percent(value, format="#,##0.0%", locale=self.babel)


def N_(message: str) -> str:
    """Mark a message for extraction where it is translated later, from a variable."""
    return message
