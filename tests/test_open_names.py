"""Importing OS Open Names (the CSV zip as distributed) into the gazetteer, on both databases.

The zip here is written by the test in the official layout: Doc/OS_Open_Names_Header.csv and
header-less Data/<tile>.csv files of 34 columns, with made-up ids and real places' positions.
"""

from __future__ import annotations

import subprocess
import zipfile
from pathlib import Path

import pytest
from sqlalchemy import func, select

from directory.geography.models import Place
from directory.geography.open_names import import_open_names
from directory.geography.places import attribution, places_named
from directory.geography.postcode_import import import_postcodes
from directory.geography.postcode_rows import ImportFormatError
from directory.storage import make_session_factory
from feeds.syndication.bulletin_location import locate_item
from tests.conftest import DEMO_EXTRACT, hyperlocal_command

HEADER = (
    "ID,NAMES_URI,NAME1,NAME1_LANG,NAME2,NAME2_LANG,TYPE,LOCAL_TYPE,GEOMETRY_X,GEOMETRY_Y,"
    "MOST_DETAIL_VIEW_RES,LEAST_DETAIL_VIEW_RES,MBR_XMIN,MBR_YMIN,MBR_XMAX,MBR_YMAX,"
    "POSTCODE_DISTRICT,POSTCODE_DISTRICT_URI,POPULATED_PLACE,POPULATED_PLACE_URI,"
    "POPULATED_PLACE_TYPE,DISTRICT_BOROUGH,DISTRICT_BOROUGH_URI,DISTRICT_BOROUGH_TYPE,"
    "COUNTY_UNITARY,COUNTY_UNITARY_URI,COUNTY_UNITARY_TYPE,REGION,REGION_URI,COUNTRY,"
    "COUNTRY_URI,RELATED_SPATIAL_OBJECT,SAME_AS_DBPEDIA,SAME_AS_GEONAMES"
)
COLUMNS = HEADER.split(",")


def row(ident: str, name: str, kind: str, x: int, y: int, half: int = 600, name2: str = "",
        feature: str = "populatedPlace") -> str:  # fmt: skip
    values = dict.fromkeys(COLUMNS, "")
    values.update(ID=ident, NAMES_URI=f"http://data.ordnancesurvey.co.uk/id/{ident}",
                  NAME1=name, NAME1_LANG="eng" if name2 else "", NAME2=name2,
                  NAME2_LANG="cym" if name2 else "", TYPE=feature, LOCAL_TYPE=kind,
                  GEOMETRY_X=str(x), GEOMETRY_Y=str(y), MBR_XMIN=str(x - half),
                  MBR_YMIN=str(y - half), MBR_XMAX=str(x + half), MBR_YMAX=str(y + half),
                  COUNTRY="England")  # fmt: skip
    return ",".join(f'"{values[c]}"' if "," in values[c] else values[c] for c in COLUMNS)


SJ_ROWS = [
    row("osgb4000000074000001", "Ashmore Park", "Suburban Area", 395919, 301449),
    row("osgb4000000074000002", "Wednesfield", "Suburban Area", 394334, 299837, half=1500),
    row("osgb4000000074000003", "Heath Town", "Suburban Area", 392984, 299138),
    row("osgb4000000074000004", "Lichfield Road", "Named Road", 394500, 300100,
        feature="transportNetwork"),
    "osgb4000000074000005,too,few,columns",
    row("osgb4000000074000006", "Nowhere", "Hamlet", 394000, 300000).replace(",394000,", ",x,"),
]  # fmt: skip
SS_ROWS = [row("osgb4000000074000007", "Swansea", "City", 265571, 193119, 4000, "Abertawe")]


def open_names_zip(path: Path, tiles: dict[str, list[str]] | None = None,
                   header: str | None = HEADER) -> Path:  # fmt: skip
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as archive:
        if header is not None:
            archive.writestr("Doc/OS_Open_Names_Header.csv", header + "\r\n")
        for tile, rows in (tiles or {"SJ90": SJ_ROWS, "SS69": SS_ROWS}).items():
            archive.writestr(f"Data/{tile}.csv", "\r\n".join(rows) + "\r\n")
    return path


def written(path: Path, data: bytes) -> Path:
    path.write_bytes(data)
    return path


def places(engine, name: str) -> list[Place]:
    with engine.connect() as connection:
        return places_named(connection, name)


def test_populated_places_are_imported_with_their_kind_extent_and_both_names(
    migrated_url, engine_for, tmp_path
):
    engine = engine_for(migrated_url)
    assert [p.source for p in places(engine, "Wednesfield")] == ["geonames"]
    progress: list[tuple[int, int | None]] = []
    download = open_names_zip(tmp_path / "opname_csv_gb.zip")
    summary = import_open_names(engine, download, on_progress=lambda *p: progress.append(p))
    assert progress == [(1, 2), (2, 2)]
    assert summary.rows_read == 7 and summary.features_skipped == 1
    assert summary.places == {"Suburban Area": 3, "City": 1} and summary.second_names == 1
    assert summary.skipped == {"not 34 columns": 1, "coordinates that are not numbers": 1}
    text = summary.describe()
    assert "4 places (3 Suburban Area, 1 City)" in text and "Crown copyright" in text
    ashmore = places(engine, "ashmore park")[0]
    assert (ashmore.source, ashmore.kind, ashmore.radius_m) == ("os-open-names", "Suburban Area",
                                                                600.0)  # fmt: skip
    assert ashmore.latitude == pytest.approx(52.6108, abs=2e-3)
    # Wednesfield is one place now: the OS row, with the GeoNames population it took over.
    wednesfield = places(engine, "Wednesfield")
    assert [(p.source, p.population) for p in wednesfield] == [("os-open-names", 33555)]
    abertawe, swansea = places(engine, "Abertawe")[0], places(engine, "Swansea")[0]
    assert abertawe.source_id == swansea.source_id == "osgb4000000074000007"
    assert summary.geonames_merged >= 3  # Wednesfield, Swansea, Abertawe (Heath Town if known)
    assert places(engine, "Milford Haven")[0].source == "geonames"  # not in this import: kept
    assert attribution({"os-open-names"}).startswith("Contains OS data")
    assert "GeoNames" in attribution({"os-open-names", "geonames"}) and "GeoNames" in attribution(
        set()
    )


def test_a_re_import_replaces_its_rows_and_keeps_the_populations(migrated_url, engine_for,
                                                                 tmp_path):  # fmt: skip
    engine = engine_for(migrated_url)
    download = open_names_zip(tmp_path / "opname_csv_gb.zip")
    import_open_names(engine, download)
    with engine.connect() as connection:
        before = connection.scalar(select(func.count()).select_from(Place))
    again = import_open_names(engine, download)
    assert again.replaced == 5 and again.geonames_merged == 0
    with engine.connect() as connection:
        assert connection.scalar(select(func.count()).select_from(Place)) == before
    assert [p.population for p in places(engine, "Wednesfield")] == [33555]


def test_a_place_only_os_open_names_knows_locates_a_bulletin(migrated_url, engine_for, tmp_path):
    engine = engine_for(migrated_url)
    import_postcodes(engine, DEMO_EXTRACT)
    sessions = make_session_factory(engine)
    text = "Appeal after a burglary in Ashmore Park on Tuesday"
    with sessions() as session:
        assert locate_item(session, text, None, "west-midlands", None).by == "force"
    import_open_names(engine, open_names_zip(tmp_path / "opname_csv_gb.zip"))
    with sessions() as session:
        located = locate_item(session, text, None, "west-midlands", None)
    assert (located.by, located.description) == ("place", "Ashmore Park (place)")
    assert located.area.contains(52.6108, -2.0617) and not located.area.contains(52.5963, -2.1)


@pytest.mark.parametrize(
    ("make", "message"),
    [
        (lambda p: written(p, b"ID,NAME1\n1,Wednesfield\n"), "is a damaged zip file"),
        (lambda p: open_names_zip(p, header=None), "not an OS Open Names download"),
        (lambda p: open_names_zip(p, header="ID,NAME1,TYPE"), "lacks the columns NAME1_LANG"),
        (lambda p: open_names_zip(p, {"SJ90": SJ_ROWS[3:5]}), "no populated place"),
        (lambda p: written(p, open_names_zip(p).read_bytes()[:-200]), "is a damaged zip file"),
    ],
)  # fmt: skip
def test_what_is_not_an_os_open_names_download_changes_nothing(
    migrated_url, engine_for, tmp_path, make, message
):
    engine = engine_for(migrated_url)
    with engine.connect() as connection:
        before = connection.execute(select(Place.id, Place.key).order_by(Place.id)).all()
    with pytest.raises(ImportFormatError, match=message):
        import_open_names(engine, make(tmp_path / "download.zip"))
    with engine.connect() as connection:
        assert connection.execute(select(Place.id, Place.key).order_by(Place.id)).all() == before


def test_the_command_imports_and_says_what_it_did(migrated_url, tmp_path):
    env = {"HYPERLOCAL_DATABASE_URL": migrated_url, "PATH": "/usr/bin:/bin"}
    download = open_names_zip(tmp_path / "opname_csv_gb.zip")
    done = subprocess.run([*hyperlocal_command(), "places", "import", str(download)], env=env,
                          capture_output=True, text=True, timeout=120)  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert "4 places (3 Suburban Area, 1 City)" in done.stdout
    refused = subprocess.run([*hyperlocal_command(), "places", "import", str(tmp_path / "no.zip")],
                             env=env, capture_output=True, text=True, timeout=120)  # fmt: skip
    assert refused.returncode == 1 and "nothing was changed" in refused.stderr
