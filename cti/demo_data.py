"""Made-up but plausible customers for `cti demo` and the import benchmark (seeded, repeatable)."""

from __future__ import annotations

import csv
import random
from pathlib import Path
from typing import Final

GIVEN: Final = (
    "Alice",
    "Bruno",
    "Chloé",
    "Daniel",
    "Élodie",
    "Farid",
    "Grace",
    "Hugo",
    "Ines",
    "Jonas",
    "Karin",
    "Luca",
    "Maya",
    "Noah",
    "Olga",
    "Pierre",
    "Qing",
    "Rosa",
    "Sven",
    "Tomás",
)
FAMILY: Final = (
    "Martin",
    "Bernard",
    "Dubois",
    "Schmidt",
    "Rossi",
    "García",
    "Nowak",
    "Smith",
    "Jensen",
    "O'Brien",
    "Müller",
    "Kowalski",
    "Novák",
    "Silva",
    "Lefèvre",
    "Brown",
)
CHINESE: Final = ("王伟", "李娜", "张敏", "刘洋", "陈静", "杨帆", "赵磊", "黄丽")
SEGMENTS: Final = ("standard", "standard", "standard", "gold", "platinum")
TAGS: Final = ("newsletter", "wheelchair", "allergy:nuts", "corporate", "late-checkout", "window")
HEADER: Final = (
    "External ID",
    "Salutation",
    "Name",
    "Language",
    "Time zone",
    "Segment",
    "VIP",
    "Tags",
    "Mobile",
    "Work phone",
    "Notes",
    "pref:table",
    "pref:usual",
)


def customer_rows(count: int, seed: int = 7) -> list[list[str]]:
    """`count` rows matching HEADER; about half have a second (work) number."""
    rng = random.Random(seed)
    rows = []
    for index in range(count):
        chinese = index % 9 == 8
        name = rng.choice(CHINESE) if chinese else f"{rng.choice(GIVEN)} {rng.choice(FAMILY)}"
        segment = rng.choice(SEGMENTS)
        digits = f"{index:06d}"
        # 06 12 xx xx xx: an allocated mobile range, unique per index up to a million.
        mobile = f"+33 6 12 {digits[:2]} {digits[2:4]} {digits[4:]}"
        # Unique office numbers (exchanges 420-489 of 212), for half of the customers.
        work = f"+1 212 {420 + index // 10000 % 70} {index % 10000:04d}" if index % 2 else ""
        rows.append(
            [
                f"C{index:06d}",
                "" if chinese else rng.choice(("Mr", "Ms", "Dr", "Mx")),
                name,
                "zh" if chinese else rng.choice(("en", "fr", "de")),
                "Asia/Shanghai" if chinese else rng.choice(("Europe/Paris", "America/New_York")),
                segment,
                "yes" if segment == "platinum" else "no",
                ";".join(rng.sample(TAGS, rng.randrange(3))),
                mobile,
                work,
                rng.choice(("", "Prefers calls after 10:00.", "Ask about the anniversary dinner.")),
                rng.choice(("", "by the window", "quiet corner")),
                rng.choice(("", "espresso", "green tea", "sparkling water")),
            ]
        )
    return rows


def write_customers_csv(path: Path, count: int, seed: int = 7) -> Path:
    with path.open("w", encoding="utf-8", newline="") as stream:
        writer = csv.writer(stream)
        writer.writerow(HEADER)
        writer.writerows(customer_rows(count, seed))
    return path
