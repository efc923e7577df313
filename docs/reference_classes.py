"""Derive the counts of ``src/allegiance/data/reference_classes.csv`` from the public files.

Run from a folder holding the two files (neither is shipped: no licence to redistribute):

* ``survival_data.csv``: Bowden's group-year panel, ``dbowden/Dissertation``,
  ``realignment/splinter_analysis/survival_data.csv``;
* ``links.csv``, ``maps.csv``, ``map_groups.csv``: Stanford's Mapping Militant
  Organizations, copied in ``dwave-examples/structural-imbalance``, ``mmp_network/``.

    python docs/reference_classes.py FOLDER

It prints one line per class: id, events, group-months. Jones and Libicki's rows
come from the book's printed totals (the arithmetic is in their notes).
"""

from __future__ import annotations

import csv
import sys
from collections import defaultdict
from pathlib import Path


def bowden(folder: Path) -> dict[str, tuple[int, int]]:
    """Splinter years (``death == 1``) over group-years, 12 months each."""
    with open(folder / "survival_data.csv", encoding="latin-1", newline="") as f:
        rows = list(csv.DictReader(f))
    islamist = {"Islamist", "Islamic State"}
    subsets = {
        "splinter_ucdp_all": rows,
        "splinter_ucdp_2000_2015": [r for r in rows if 2000 <= int(r["Year"]) <= 2015],
        "splinter_ucdp_islamist": [r for r in rows if r["ideology"] in islamist],
    }
    return {k: (sum(r["death"] == "1" for r in s), 12 * len(s)) for k, s in subsets.items()}


def _month(date: str) -> int | None:
    year, month = int(date[:4]), int(date[5:7])
    return None if year == 0 else year * 12 + max(month, 1) - 1


def mmo(folder: Path) -> dict[str, tuple[int, int]]:
    """Distinct linked pairs per type in a period, over the groups' months active in it.

    A group is taken to be active from January of the year of its first dated
    link to December of the year of its last: the file has no other dates, so
    the exposure is short and the rates are high (ceilings).
    """
    with open(folder / "links.csv", encoding="utf-8", newline="") as f:
        links = [r for r in csv.DictReader(f) if r["group1"] != r["group2"]]
    with open(folder / "maps.csv", encoding="utf-8", newline="") as f:
        names = {r["id"]: r["name"] for r in csv.DictReader(f)}
    with open(folder / "map_groups.csv", encoding="utf-8", newline="") as f:
        on_map: dict[str, set[int]] = defaultdict(set)
        for r in csv.DictReader(f):
            on_map[names.get(r["map_id"], r["map_id"])].add(int(r["group_id"]))
    first: dict[int, int] = {}
    last: dict[int, int] = {}
    for r in links:
        m = _month(r["date"])
        for g in (int(r["group1"]), int(r["group2"])):
            if m is not None:
                first[g] = min(first.get(g, m), m // 12 * 12)
                last[g] = max(last.get(g, m), m // 12 * 12 + 11)

    def exposure(groups: set[int], start: int, end: int) -> int:
        return sum(
            max(0, min(last[g], end) - max(first[g], start) + 1) for g in groups if g in first
        )

    def pairs(kind: str, groups: set[int], start: int, end: int, partner: int | None = None) -> int:
        seen = set()
        for r in links:
            m, pair = _month(r["date"]), frozenset((int(r["group1"]), int(r["group2"])))
            if r["type"] == kind and m is not None and start <= m <= end and pair & groups:
                if partner is None or partner in pair:
                    seen.add(pair if partner is None else pair - {partner})
        return len(seen)

    every = set(first)
    syria = on_map["Syria"] | on_map["Aleppo"]
    somalia = on_map["Somalia"]
    jihadist = (on_map["Global Islamic State"] | on_map["Global Al Qaeda"]) - {1}  # 1: IS

    def ym(year: int, month: int = 1) -> int:
        return year * 12 + month - 1

    out = {}
    for region, groups, y0, y1 in (
        ("all", every, 1955, 2014),
        ("syria", syria, 2013, 2015),
        ("somalia", somalia, 2006, 2014),
    ):
        start, end = ym(y0), ym(y1, 12)
        months = exposure(groups, start, end)
        out[f"split_mmo_{region}"] = (pairs("spl", groups, start, end), months)
        # a merger or an alliance is an event for both of its groups
        out[f"merger_mmo_{region}"] = (2 * pairs("mer", groups, start, end), months)
        if region == "all":
            out["alliance_mmo_all"] = (2 * pairs("all", groups, start, end), months)
    # pledges: from the caliphate's declaration (29 June 2014) to the end of 2014
    start, end = ym(2014, 7), ym(2014, 12)
    out["pledge_is_mmo"] = (
        pairs("aff", jihadist, start, end, partner=1),
        exposure(jihadist, start, end),
    )
    return out


if __name__ == "__main__":
    folder = Path(sys.argv[1])
    for name, (events, months) in {**bowden(folder), **mmo(folder)}.items():
        print(f"{name},{events},{months},{12 * events / months:.4f}")
