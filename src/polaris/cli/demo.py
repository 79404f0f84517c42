"""A generated demo organisation: HQ, 2 ranges, 3 districts, 6 sub-divisions, 12 stations, and
about 60 officers across every role. Generated from small tables, not written out by hand."""

from __future__ import annotations

import secrets
from dataclasses import dataclass

from polaris.access.policy import Classification
from polaris.identity.passwords import Passwords
from polaris.identity.units import UnitKind, UnitSpec
from polaris.identity.users import UserSpec

RANGES = [("BPL", "Bhopal", "भोपाल"), ("IND", "Indore", "इंदौर")]
DISTRICTS = [
    ("BPL", "BPL", "Bhopal", "भोपाल"),
    ("BPL", "SHR", "Sehore", "सीहोर"),
    ("IND", "IND", "Indore", "इंदौर"),
]
STATIONS = {
    "BPL": [
        ("Kotwali", "कोतवाली"),
        ("TT Nagar", "टीटी नगर"),
        ("Habibganj", "हबीबगंज"),
        ("Shahjahanabad", "शाहजहांनाबाद"),
    ],
    "SHR": [("Ashta", "आष्टा"), ("Ichhawar", "इछावर"), ("Budhni", "बुधनी"), ("Rehti", "रेहटी")],
    "IND": [
        ("Palasia", "पलासिया"),
        ("Vijay Nagar", "विजय नगर"),
        ("Rajendra Nagar", "राजेंद्र नगर"),
        ("Mhow", "महू"),
    ],
}
GIVEN = [
    "Ramesh",
    "Sunita",
    "Arjun",
    "Kavita",
    "Vikram",
    "Meena",
    "Rahul",
    "Pooja",
    "Anil",
    "Rekha",
    "Sanjay",
    "Neha",
    "Deepak",
    "Anita",
    "Manoj",
    "Priya",
]
FAMILY = [
    "Sharma",
    "Verma",
    "Yadav",
    "Patel",
    "Singh",
    "Chouhan",
    "Mishra",
    "Tiwari",
    "Dubey",
    "Khan",
    "Thakur",
    "Jain",
]
STATION_STAFF = [
    ("station_head", "TI", "sho"),
    ("sub_inspector", "SI", "si"),
    ("head_constable", "HC", "hc"),
    ("constable", "Constable", "ct"),
]


@dataclass(frozen=True)
class DemoOrganisation:
    units: list[UnitSpec]
    users: list[UserSpec]
    password: str


def build() -> DemoOrganisation:
    units = [UnitSpec("PHQ", "Police Headquarters", UnitKind.HQ, None, "पुलिस मुख्यालय")]
    users: list[tuple[str, str, str, str, Classification]] = [
        ("admin", "PHQ", "admin", "Inspector", Classification.RESTRICTED),
        ("dgp", "PHQ", "hq_head", "DGP", Classification.SECRET),
    ]
    for code, name, hindi in RANGES:
        units.append(UnitSpec(f"RNG-{code}", f"{name} Range", UnitKind.RANGE, "PHQ", f"{hindi} रेंज"))
        users.append(
            (f"ig.{code.lower()}", f"RNG-{code}", "range_head", "IG", Classification.SECRET)
        )
    for range_code, code, name, hindi in DISTRICTS:
        district = f"DST-{code}"
        units.append(
            UnitSpec(
                district,
                f"SP Office {name}",
                UnitKind.DISTRICT,
                f"RNG-{range_code}",
                f"पुलिस अधीक्षक कार्यालय {hindi}",
            )
        )
        users.append((f"sp.{code.lower()}", district, "district_head", "SP", Classification.SECRET))
        users.append(
            (f"clerk.{code.lower()}", district, "records_clerk", "ASI", Classification.CONFIDENTIAL)
        )
        stations = STATIONS[code]
        for half in (0, 1):
            subdivision = f"SDV-{code}-{half + 1}"
            units.append(
                UnitSpec(
                    subdivision,
                    f"SDOP {name} {half + 1}",
                    UnitKind.SUBDIVISION,
                    district,
                    f"एसडीओपी {hindi} {half + 1}",
                )
            )
            users.append(
                (
                    f"sdop.{code.lower()}{half + 1}",
                    subdivision,
                    "subdivision_head",
                    "DSP",
                    Classification.CONFIDENTIAL,
                )
            )
            for station_name, station_hindi in stations[half * 2 : half * 2 + 2]:
                slug = station_name.lower().replace(" ", "")
                station = f"PS-{code}-{slug.upper()}"
                units.append(
                    UnitSpec(
                        station,
                        f"PS {station_name}",
                        UnitKind.STATION,
                        subdivision,
                        f"थाना {station_hindi}",
                    )
                )
                for role, rank, prefix in STATION_STAFF:
                    clearance = (
                        Classification.CONFIDENTIAL
                        if role == "station_head"
                        else Classification.RESTRICTED
                    )
                    users.append((f"{prefix}.{slug}", station, role, rank, clearance))
    password = "demo-" + secrets.token_urlsafe(9)
    specs = [
        UserSpec(
            username=username,
            full_name=_person(index),
            unit_code=unit,
            role=role,
            clearance=clearance,
            rank=rank,
            password=password,
        )
        for index, (username, unit, role, rank, clearance) in enumerate(users)
    ]
    return DemoOrganisation(units=units, users=specs, password=password)


def _person(index: int) -> str:
    return f"{GIVEN[index % len(GIVEN)]} {FAMILY[(index * 7) % len(FAMILY)]}"


class HashOnce(Passwords):
    """Every demo user shares one password: hash it once (with one salt) instead of 60 times.

    Only for the demo organisation; real accounts always get their own salt.
    """

    def __init__(self, inner: Passwords) -> None:
        self._inner = inner
        self._hashes: dict[str, str] = {}

    def hash(self, password: str) -> str:
        if password not in self._hashes:
            self._hashes[password] = self._inner.hash(password)
        return self._hashes[password]
