"""Bring the .po catalogues in line with the sources: add new messages (untranslated), drop stale.

Run with the project's virtual environment: `.venv-test/bin/python scripts/i18n_update.py`; then
translate the empty entries. The test suite fails while any entry is missing.
"""

from __future__ import annotations

from pathlib import Path

from babel.messages.extract import extract_from_dir
from babel.messages.pofile import read_po, write_po

ROOT = Path(__file__).resolve().parents[1]
KEYWORDS = {"_": None, "gettext": None, "ngettext": (1, 2), "N_": None}
METHODS = [("cti/**.py", "python"), ("web/templates/**.html", "jinja2")]
OPTIONS = {"web/templates/**.html": {"extensions": "jinja2.ext.i18n"}}


def source_messages() -> dict[str, str | tuple[str, str]]:
    found: dict[str, str | tuple[str, str]] = {}
    for _file, _line, message, _comments, _context in extract_from_dir(
        str(ROOT), method_map=METHODS, options_map=OPTIONS, keywords=KEYWORDS
    ):
        key = message if isinstance(message, str) else message[0]
        found[key] = message if isinstance(message, str) else (message[0], message[1])
    return found


def main() -> None:
    messages = source_messages()
    for path in sorted((ROOT / "cti" / "i18n").glob("*.po")):
        with path.open("rb") as handle:
            catalog = read_po(handle)
        known = {m.id if isinstance(m.id, str) else m.id[0] for m in catalog if m.id}
        for key in known - set(messages):
            catalog.delete(key)
        for key, message in messages.items():
            if key not in known:
                catalog.add(message, "" if isinstance(message, str) else ("",))
        with path.open("wb") as handle:
            write_po(handle, catalog, width=100, sort_output=True)
        print(f"{path.name}: {len(messages)} messages")  # noqa: T201


if __name__ == "__main__":
    main()
