"""Customer CSV files: header mapping and row validation, producing `CustomerRow`s or reasons.

Columns are recognised by header, case and punctuation ignored ("Customer ID", "customer_id" and
"external id" are one column). Any header holding "phone", "mobile", "tel" or "fax" is a number,
labelled by its header ("Mobile", "Work phone"); a cell may hold several numbers split by ";" or
"|". A header "pref:<name>" becomes the preference <name>. Blank cells leave a field unchanged when
the row updates an existing customer.
"""

from __future__ import annotations

import csv
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any, Final, TextIO

from cti.core.numbers import NumberRules, normalize, reversed_digits
from cti.customer_fields import clean
from cti.errors import CtiError, DomainError, ImportRowError

FIELDS: Final[dict[str, tuple[str, ...]]] = {
    "external_id": ("externalid", "customerid", "id", "account", "accountnumber", "crmid"),
    "name": ("name", "fullname", "customername", "customer"),
    "salutation": ("salutation", "title", "honorific"),
    "language": ("language", "lang", "locale"),
    "timezone": ("timezone", "tz", "timezonename"),
    "segment": ("segment", "tier", "level", "category"),
    "vip": ("vip",),
    "tags": ("tags", "labels"),
    "notes": ("notes", "note", "comments", "comment"),
    "email": ("email", "emailaddress", "mail"),
}
_PHONE_WORDS: Final = ("phone", "mobile", "tel", "fax", "cell")
_SPLIT: Final = re.compile(r"[;|]")


class ImportFileError(CtiError):
    """The file as a whole is unusable; nothing was written."""

    error_id = "invalid-import-file"


@dataclass(frozen=True, slots=True)
class Phone:
    raw: str
    e164: str
    label: str

    @property
    def reversed_digits(self) -> str:
        return reversed_digits(self.e164)


@dataclass(slots=True)
class CustomerRow:
    line: int
    external_id: str | None
    values: dict[str, Any] = field(default_factory=dict)
    phones: list[Phone] = field(default_factory=list)


@dataclass(frozen=True, slots=True)
class Columns:
    fields: dict[int, str]
    phones: dict[int, str]
    preferences: dict[int, str]
    ignored: list[str]
    width: int


def _key(header: str) -> str:
    return re.sub(r"[^a-z0-9:]", "", header.strip().lower())


def map_header(header: list[str]) -> Columns:
    aliases = {alias: name for name, names in FIELDS.items() for alias in names}
    fields: dict[int, str] = {}
    phones: dict[int, str] = {}
    preferences: dict[int, str] = {}
    ignored: list[str] = []
    for index, title in enumerate(header):
        key = _key(title)
        if key.startswith(("pref:", "preference:")):
            preferences[index] = title.split(":", 1)[1].strip()
        elif key in aliases:
            if aliases[key] in fields.values():
                raise ImportFileError(f"column {title!r} repeats the column {aliases[key]!r}")
            fields[index] = aliases[key]
        elif any(word in key for word in _PHONE_WORDS):
            phones[index] = (
                "" if key in ("phone", "phones", "phonenumber", "tel") else title.strip()
            )
        elif key:
            ignored.append(title.strip())
    if "name" not in fields.values() and not phones:
        raise ImportFileError(
            "the header names neither a name column nor a phone column; "
            f"found {', '.join(repr(h) for h in header) or 'nothing'}"
        )
    return Columns(fields, phones, preferences, ignored, len(header))


def _field_value(name: str, value: str, line: int) -> Any:
    try:
        return clean(name, value)
    except DomainError as error:
        raise ImportRowError(line, str(error)) from None


def parse_row(cells: list[str], columns: Columns, line: int, rules: NumberRules) -> CustomerRow:
    if len(cells) != columns.width:
        raise ImportRowError(line, f"has {len(cells)} fields where the header has {columns.width}")
    row = CustomerRow(line=line, external_id=None)
    for index, name in columns.fields.items():
        value = cells[index].strip()
        if value:
            row.values[name] = _field_value(name, value, line)
    row.external_id = row.values.pop("external_id", None)
    preferences = {k: cells[i].strip() for i, k in columns.preferences.items() if cells[i].strip()}
    if preferences:
        row.values["preferences"] = preferences
    seen: set[str] = set()
    for index, label in columns.phones.items():
        for raw in (p.strip() for p in _SPLIT.split(cells[index])):
            if not raw:
                continue
            number = normalize(raw, rules)
            if not number.known:
                raise ImportRowError(line, f"phone {raw!r} is not a valid number ({number.kind})")
            if number.e164 not in seen:
                seen.add(number.e164)
                row.phones.append(Phone(raw, number.e164, label))
    if not row.external_id and not row.phones:
        raise ImportRowError(line, "has neither an external id nor a phone number to match on")
    return row


def sniff_delimiter(first_line: str) -> str:
    counts = {d: first_line.count(d) for d in (",", ";", "\t", "|")}
    return max(counts, key=lambda d: counts[d]) if any(counts.values()) else ","


def read_rows(
    stream: TextIO, rules: NumberRules
) -> tuple[Columns, Iterator[CustomerRow | ImportRowError]]:
    """The header's mapping, and each data row parsed or the reason it was refused."""
    first = stream.readline()
    if not first.strip():
        raise ImportFileError("the file is empty: a header line is needed")
    delimiter = sniff_delimiter(first)
    header = next(csv.reader([first], delimiter=delimiter))
    columns = map_header(header)
    reader = csv.reader(stream, delimiter=delimiter, strict=True)

    def rows() -> Iterator[CustomerRow | ImportRowError]:
        line = 2
        while True:
            try:
                cells = next(reader)
            except StopIteration:
                return
            except csv.Error as error:
                yield ImportRowError(line, f"is not valid CSV ({error})")
                line = reader.line_num + 2
                continue
            if cells and any(c.strip() for c in cells):
                try:
                    yield parse_row(cells, columns, line, rules)
                except ImportRowError as error:
                    yield error
            line = reader.line_num + 2

    return columns, rows()
