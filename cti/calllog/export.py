"""The call log as CSV records made by the database, one text value per call.

At a million rows, handing each value to Python and on to the csv module costs more than the
query itself: here the database writes each record (RFC 4180, as Python's csv module reads it),
so the handler only joins lines.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Final, cast

from sqlalchemy import Select, String, Table, Text, case, func, literal, select, type_coerce
from sqlalchemy.sql.elements import ColumnElement

from cti.calllog.query import CallFilter
from cti.db.models import Call, UtcDateTime

COLUMNS: Final = (
    "id",
    "pbx",
    "uniqueid",
    "direction",
    "caller_number",
    "caller_name",
    "caller_e164",
    "customer_id",
    "queue",
    "agent_name",
    "agent_interface",
    "started_at",
    "enqueued_at",
    "first_ring_at",
    "answered_at",
    "ended_at",
    "wait_seconds",
    "ring_seconds",
    "talk_seconds",
    "outcome",
    "hangup_cause",
    "end_reason",
    "end_source",
    "recording",
    "disposition",
    "notes",
)
HEADER: Final = ",".join(COLUMNS)
# A withheld caller's cells, as those who may not see who called get them (quoted like text).
WITHHELD_CELLS: Final = {
    "caller_number": '"withheld"',
    "caller_name": "",
    "caller_e164": "",
    "customer_id": "",
}
# A spreadsheet runs a cell that starts with one of these as a formula.
_FORMULA_START: Final = ("=", "+", "-", "@", "\t", "\r")


def export_statement(wanted: CallFilter, region: str, dialect: str) -> Select[str]:
    """The matching calls, oldest first, each as one CSV record without its line end."""
    table = cast(Table, Call.__table__)
    return (
        select(csv_record(table, COLUMNS, dialect, hide_withheld=wanted.hide_withheld))
        .where(*wanted.conditions(region))
        .order_by(table.c.started_at, table.c.id)
    )


def csv_record(
    table: Table, names: Sequence[str], dialect: str, *, hide_withheld: bool = False
) -> ColumnElement[str]:
    cells = [_cell(table, name, dialect) for name in names]
    if hide_withheld:
        cells = [
            case((table.c.withheld, literal(WITHHELD_CELLS[name])), else_=cell)
            if name in WITHHELD_CELLS
            else cell
            for name, cell in zip(names, cells, strict=True)
        ]
    record = cells[0]
    for cell in cells[1:]:
        record = record.concat(",").concat(cell)
    return record.label("record")


def _cell(table: Table, name: str, dialect: str) -> ColumnElement[str]:
    column = table.c[name]
    text: ColumnElement[str]
    if isinstance(column.type, UtcDateTime):
        if dialect == "postgresql":
            text = func.to_char(func.timezone("UTC", column), 'YYYY-MM-DD"T"HH24:MI:SS.US"+00:00"')
        else:
            # Stored as UTC text, "YYYY-MM-DD HH:MM:SS.ffffff".
            text = func.replace(type_coerce(column, String), " ", "T").concat("+00:00")
    elif isinstance(column.type, String | Text):
        # Quoted whole, quotes doubled, so commas and line breaks stay inside the cell.
        risky = func.substr(column, 1, 1).in_(_FORMULA_START)
        escaped = func.replace(column, '"', '""')
        text = case(
            (column == "", literal("")),
            (risky, literal("\"'").concat(escaped).concat('"')),
            else_=literal('"').concat(escaped).concat('"'),
        )
    else:
        text = column.cast(Text)
    return func.coalesce(text, "")
