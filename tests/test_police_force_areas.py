"""The shipped lookup of districts to police force areas: complete and consistent."""

from __future__ import annotations

import csv
import io
import zipfile
from collections import defaultdict

from directory.geography.police_force_areas import (
    district_forces,
    districts_of_force,
    force_area_of_district,
)
from tests.conftest import DEMO_EXTRACT

DATA_POLICE_UK_FORCES = 43  # England and Wales; Police Scotland is not in data.police.uk


def test_each_force_is_one_area_and_every_force_is_there():
    codes = defaultdict(set)
    for area in district_forces().values():
        codes[area.force_id].add((area.code, area.name))
    assert all(len(areas) == 1 for areas in codes.values()), codes
    assert len([force for force in codes if force]) == DATA_POLICE_UK_FORCES
    assert {area.name for area in district_forces().values() if area.force_id is None} == {
        "Police Scotland"
    }
    assert len(districts_of_force("metropolitan")) == 32
    assert force_area_of_district("E09000001").force_id == "city-of-london"
    assert force_area_of_district("W06000015").force_id == "south-wales"  # Cardiff
    assert force_area_of_district(None) is None and force_area_of_district("E99") is None


def test_every_district_of_the_demo_extract_has_its_force():
    with zipfile.ZipFile(DEMO_EXTRACT) as archive:
        districts = {
            row[8]
            for name in archive.namelist() if name.startswith("Data/CSV/")
            for row in csv.reader(io.TextIOWrapper(archive.open(name), "utf-8")) if row[8]
        }  # fmt: skip
    assert districts and all(force_area_of_district(code) for code in districts), districts
