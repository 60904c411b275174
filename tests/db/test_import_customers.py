"""`import_customers` on both databases: mapping, upserts, rejected rows and all-or-nothing."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func, select, text
from sqlalchemy.ext.asyncio import async_sessionmaker
from sqlalchemy.orm import selectinload

from cti.customer_csv import ImportFileError
from cti.db.models import Customer, PhoneNumber
from cti.importer import CHUNK, import_customers

Db = async_sessionmaker[Any]


def write(tmp_path: Path, text: str, name: str = "customers.csv") -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


async def customers(db: Db) -> list[Customer]:
    async with db() as session:
        result = await session.scalars(
            select(Customer).options(selectinload(Customer.phones)).order_by(Customer.id)
        )
        return list(result)


async def count(db: Db, model: type[Any]) -> int:
    async with db() as session:
        return int(await session.scalar(select(func.count()).select_from(model)) or 0)


async def test_columns_are_mapped_by_header(db: Db, tmp_path: Path) -> None:
    path = write(
        tmp_path,
        "Customer ID,Title,Full Name,Tier,VIP,Tags,Mobile,Work Phone,Lang,Time Zone,"
        "pref:table,Favourite colour\n"
        'A1,Ms,Chloé Dubois,gold,yes,"window; newsletter",06 12 34 56 78,'
        "+33 1 42 68 53 00 | 01 42 68 53 01,fr,Europe/Paris,by the window,green\n"
        "A2,,王伟,standard,no,,+86 138 0013 8000,,zh-CN,Asia/Shanghai,,\n",
    )
    progress: list[tuple[int, int]] = []
    report = await import_customers(
        db, path, region="FR", progress=lambda d, t: progress.append((d, t))
    )
    assert report.summary() == (
        "2 customers created, 0 updated, 4 numbers added, 0 rows rejected; "
        "columns ignored: Favourite colour"
    )
    assert progress[-1] == (3, 3)
    chloe, wei = await customers(db)
    assert (chloe.external_id, chloe.salutation, chloe.name, chloe.segment) == (
        "A1",
        "Ms",
        "Chloé Dubois",
        "gold",
    )
    assert chloe.vip is True
    assert chloe.tags == ["newsletter", "window"]
    assert chloe.preferences == {"table": "by the window"}
    assert (chloe.language, chloe.timezone) == ("fr", "Europe/Paris")
    phones = sorted((p.e164, p.label, p.raw, p.reversed_digits) for p in chloe.phones)
    assert phones == [
        ("+33142685300", "Work Phone", "+33 1 42 68 53 00", "00358624133"),
        ("+33142685301", "Work Phone", "01 42 68 53 01", "10358624133"),
        ("+33612345678", "Mobile", "06 12 34 56 78", "87654321633"),
    ]
    assert wei.name == "王伟"
    assert wei.vip is False
    assert [p.e164 for p in wei.phones] == ["+8613800138000"]


async def test_reimport_updates_instead_of_duplicating(db: Db, tmp_path: Path) -> None:
    first = write(tmp_path, "id,name,phone,segment\nA1,Ann Lee,+14155550100,standard\n")
    await import_customers(db, first, region="US")
    second = write(
        tmp_path,
        "id,name,phone,segment\nA1,Ann Lee-Park,+14155550100;+14155550111,\n",
        "second.csv",
    )
    report = await import_customers(db, second, region="US")
    assert (report.created, report.updated, report.phones_added) == (0, 1, 1)
    (ann,) = await customers(db)
    assert ann.name == "Ann Lee-Park"
    assert ann.segment == "standard", "a blank cell leaves the field as it was"
    assert sorted(p.e164 for p in ann.phones) == ["+14155550100", "+14155550111"]


async def test_rows_without_external_id_match_by_phone(db: Db, tmp_path: Path) -> None:
    await import_customers(
        db, write(tmp_path, "id,name,phone\nA1,Ann Lee,+14155550100\n"), region="US"
    )
    path = write(
        tmp_path,
        "name,mobile,notes\n,(415) 555-0100,Prefers mornings\nBea Ruiz,415 555 0177,\n"
        ",415 555 0177,Second row about Bea\n",
        "by-phone.csv",
    )
    report = await import_customers(db, path, region="US")
    assert (report.created, report.updated, len(report.rejected)) == (1, 1, 0)
    ann, bea = await customers(db)
    assert (ann.name, ann.notes) == ("Ann Lee", "Prefers mornings")
    assert (bea.name, bea.notes) == ("Bea Ruiz", "Second row about Bea")
    assert [p.e164 for p in bea.phones] == ["+14155550177"]


async def test_bad_rows_are_reported_by_line_and_change_nothing(db: Db, tmp_path: Path) -> None:
    await import_customers(
        db,
        write(tmp_path, "id,name,phone\nS1,Sam One,+14155550100\nS2,Sam Two,+14155550100\n"),
        region="US",
    )
    path = write(
        tmp_path,
        "id,name,phone,vip,timezone\n"
        "B1,Good One,+14155550101,no,\n"
        "B2,Too,Many,Fields,here,!\n"
        "B3,Bad Number,call me,no,\n"
        "B4,Bad Vip,+14155550104,perhaps,\n"
        "B5,Bad Zone,+14155550105,no,Mars/Olympus\n"
        ",,+14155550106,,\n"
        ",Shared,+14155550100,,\n"
        'B8,"Broken "quote,+14155550108,no,\n'
        "\n"
        "B9,Good Two,+14155550109,yes,America/New_York\n",
        "bad.csv",
    )
    report = await import_customers(db, path, region="US")
    *reasons, (broken_line, broken_reason) = [(r.line, r.reason) for r in report.rejected]
    assert reasons == [
        (3, "has 6 fields where the header has 5"),
        (4, "phone 'call me' is not a valid number (invalid)"),
        (5, "vip 'perhaps' is not yes or no"),
        (6, "time zone 'Mars/Olympus' is unknown (expected e.g. Europe/Paris)"),
        (7, "a new customer needs a name"),
        (8, "its numbers belong to 2 customers; add an external id column to say which one"),
    ]
    assert broken_line == 9
    assert broken_reason.startswith("is not valid CSV (")
    assert report.created == 2
    names = [c.name for c in await customers(db)]
    assert names == ["Sam One", "Sam Two", "Good One", "Good Two"]


async def test_a_fatal_error_late_in_the_file_writes_nothing(db: Db, tmp_path: Path) -> None:
    path = tmp_path / "late-failure.csv"
    with path.open("wb") as stream:
        stream.write(b"id,name,phone\n")
        for index in range(CHUNK * 2 + 10):
            stream.write(f"X{index},Person {index},+1415555{index % 10000:04d}\n".encode())
        stream.write(b"X-bad,Latin-1 \xe9t\xe9,+14155550999\n")
    with pytest.raises(ImportFileError, match="not UTF-8 text.*nothing was imported"):
        await import_customers(db, path, region="US")
    assert await count(db, Customer) == 0
    assert await count(db, PhoneNumber) == 0


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("", "the file is empty"),
        ("colour,size\nred,L\n", "neither a name column nor a phone column"),
        ("name,full name,phone\n", "column 'full name' repeats the column 'name'"),
    ],
)
async def test_unusable_files_are_refused_whole(
    db: Db, tmp_path: Path, text: str, message: str
) -> None:
    with pytest.raises(ImportFileError, match=message):
        await import_customers(db, write(tmp_path, text), region="US")
    assert await count(db, Customer) == 0


async def test_semicolons_and_a_byte_order_mark_are_understood(db: Db, tmp_path: Path) -> None:
    path = tmp_path / "excel.csv"
    path.write_bytes("\ufeffNom;Name;Téléphone\nx;Émile Zola;01 42 68 53 00\n".encode())
    report = await import_customers(db, path, region="FR")
    assert report.created == 1
    assert report.ignored_columns == ["Nom"]
    (emile,) = await customers(db)
    assert emile.name == "Émile Zola"
    assert [p.e164 for p in emile.phones] == ["+33142685300"]


@pytest.mark.postgres
async def test_postgresql_planner_statistics_are_fresh_after_an_import(
    db: Db, tmp_path: Path
) -> None:
    async with db() as session:
        if session.get_bind().dialect.name != "postgresql":
            pytest.skip("statistics are a PostgreSQL matter; SQLite plans by its indexes")
    rows = "".join(f"C{i},Customer {i},+1415555{i:04d}\n" for i in range(50))
    await import_customers(db, write(tmp_path, "id,name,phone\n" + rows), region="US")
    async with db() as session:
        analyzed = await session.execute(
            text(
                "SELECT relname, last_analyze IS NOT NULL FROM pg_stat_user_tables "
                "WHERE relname IN ('customers', 'phone_numbers') AND schemaname = current_schema()"
            )
        )
        assert {name: done for name, done in analyzed} == {"customers": True, "phone_numbers": True}
