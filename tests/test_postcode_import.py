"""Importing the official downloads: Code-Point Open zip and ONSPD CSV, on both databases."""

from __future__ import annotations

import io
import shutil
import zipfile
from pathlib import Path

import pytest
from sqlalchemy import func, select

from directory.geography.models import AreaName, Postcode
from directory.geography.postcode_import import ImportFormatError, import_postcodes
from directory.geography.postcodes import get_postcode, nearest_postcodes
from directory.storage import make_session_factory
from tests.conftest import DEMO_EXTRACT, DEMO_POSTCODE_COUNT, TEST_DATA


def _count(engine) -> int:
    with engine.connect() as connection:
        return connection.scalar(select(func.count()).select_from(Postcode))


def _snapshot(engine) -> list[tuple]:
    with engine.connect() as connection:
        return list(connection.execute(select(Postcode).order_by(Postcode.postcode)))


def _rewrite_zip(source: Path, target: Path, replace: dict[str, bytes | None]) -> Path:
    """Copy a zip, replacing (or, for None, dropping) members."""
    with zipfile.ZipFile(source) as old, zipfile.ZipFile(target, "w", zipfile.ZIP_DEFLATED) as new:
        for info in old.infolist():
            if info.filename in replace:
                continue
            new.writestr(info, old.read(info.filename))
        for name, data in replace.items():
            if data is not None:
                new.writestr(name, data)
    return target


def test_code_point_import_converts_names_and_keeps_unlocated_rows(migrated_url, engine_for):
    engine = engine_for(migrated_url)
    summary = import_postcodes(engine, DEMO_EXTRACT)
    assert summary.source == "OS Code-Point Open" and summary.release == "2025.2.0"
    assert (summary.rows_read, summary.imported, summary.updated) == (DEMO_POSTCODE_COUNT,) * 2 + (
        0,
    )
    assert summary.skipped_total == 0 and summary.names > 0
    with make_session_factory(engine)() as session:
        record = get_postcode(session, "wv111aa")
        # Code-Point gives E 394039 N 302013; WGS84 from pyproj, checked against OS's converter.
        assert record.latitude == pytest.approx(52.61586, abs=2e-5)
        assert record.longitude == pytest.approx(-2.08948, abs=2e-5)
        assert (record.eastings, record.northings, record.quality) == (394039, 302013, 10)
        assert record.district.name == "City of Wolverhampton District (B)"
        assert record.ward.code == "E05014846" and record.ward.name == "Fallings Park Ward"
        assert record.country.name == "England"
        unlocated = get_postcode(session, "WV98 2AA")
        assert unlocated.quality == 90 and unlocated.latitude is None
        assert unlocated.quality_description == "no coordinates available"
        assert session.scalar(select(func.count()).select_from(AreaName)) == summary.names


def test_reimport_updates_in_place(migrated_url, engine_for):
    engine = engine_for(migrated_url)
    import_postcodes(engine, DEMO_EXTRACT)
    before = _snapshot(engine)
    summary = import_postcodes(engine, DEMO_EXTRACT)
    assert (summary.imported, summary.updated) == (0, DEMO_POSTCODE_COUNT)
    assert _snapshot(engine) == before


def test_newer_release_updates_changed_rows_and_keeps_missing_ones(
    migrated_url, engine_for, tmp_path
):
    engine = engine_for(migrated_url)
    import_postcodes(engine, DEMO_EXTRACT)
    with zipfile.ZipFile(DEMO_EXTRACT) as archive:
        lines = archive.read("Data/CSV/le.csv").decode().splitlines(keepends=True)
    moved = [
        line.replace(",459318,", ",459418,") if line.startswith('"LE1 1AA"') else line
        for line in lines
    ]
    dropped = [line for line in moved if not line.startswith('"LE1 1AD"')]
    assert len(dropped) == len(lines) - 1
    newer = _rewrite_zip(
        DEMO_EXTRACT, tmp_path / "newer.zip", {"Data/CSV/le.csv": "".join(dropped).encode()}
    )
    summary = import_postcodes(engine, newer)
    assert summary.imported == 0 and summary.updated == DEMO_POSTCODE_COUNT - 1
    assert _count(engine) == DEMO_POSTCODE_COUNT  # LE1 1AD is not deleted
    with make_session_factory(engine)() as session:
        assert get_postcode(session, "LE1 1AD").postcode == "LE1 1AD"
        assert get_postcode(session, "LE1 1AA").eastings == 459418


def test_malformed_rows_are_skipped_with_reasons(migrated_url, engine_for, tmp_path):
    engine = engine_for(migrated_url)
    codes = '"E92000001","E19000001","E18000005","","E08000031"'
    bad_rows = (
        f'"WV1 1AA",10,392309,298969,{codes},"E05014848"\n'
        '"NOT CODE",10,392309,298969,"E92000001","","","","E08000031","E05014848"\n'
        '"WV1 1AB",ten,392309,298969,"E92000001","","","","E08000031","E05014848"\n'
        '"WV1 1AD",10,392309\n'
        f'"WV1 1AF",10,391391,298659,{codes},"E05014853"\n'
        f'"WV1 1AF",10,391391,298659,{codes},"E05014853"\n'
    )
    path = _rewrite_zip(
        DEMO_EXTRACT, tmp_path / "bad.zip",
        {"Data/CSV/wv.csv": bad_rows.encode(), "Data/CSV/le.csv": None, "Data/CSV/m.csv": None},
    )  # fmt: skip
    summary = import_postcodes(engine, path)
    assert summary.rows_read == 6 and summary.imported == 2
    assert summary.skipped == {
        "not a valid full postcode": 1,
        "quality, eastings or northings not a number": 1,
        "not 10 columns": 1,
        "postcode repeated in the file": 1,
    }
    assert "skipped 1: not 10 columns" in summary.describe()


@pytest.mark.parametrize(
    ("damage", "message"),
    [
        ("truncate", "damaged"),
        ("flip", "damaged"),
        ("not-zip", "not a postcode download"),
        ("wrong-zip", "neither the OS Code-Point Open download"),
        ("missing", "does not exist"),
        ("binary", "not a postcode download"),
    ],
)
def test_corrupt_or_unrecognised_file_changes_nothing(
    migrated_url, engine_for, tmp_path, damage, message
):
    engine = engine_for(migrated_url)
    import_postcodes(engine, DEMO_EXTRACT)
    before = _snapshot(engine)
    path = tmp_path / "download.zip"
    data = DEMO_EXTRACT.read_bytes()
    if damage == "truncate":
        path.write_bytes(data[: len(data) // 2])
    elif damage == "flip":
        with zipfile.ZipFile(DEMO_EXTRACT) as archive:
            info = archive.getinfo("Data/CSV/wv.csv")
        start = info.header_offset + 30 + len(info.filename) + len(info.extra) + 200
        path.write_bytes(data[:start] + bytes([data[start] ^ 0xFF]) + data[start + 1 :])
    elif damage == "not-zip":
        path.write_text("name,address\nAlice,1 High Street\n")
    elif damage == "wrong-zip":
        buffer = io.BytesIO()
        with zipfile.ZipFile(buffer, "w") as archive:
            archive.writestr("readme.txt", "hello")
        path.write_bytes(buffer.getvalue())
    elif damage == "binary":
        path.write_bytes(bytes(range(256)) * 10)
    else:
        path = tmp_path / "absent.zip"
    with pytest.raises(ImportFormatError, match=message):
        import_postcodes(engine, path)
    assert _snapshot(engine) == before


def test_onspd_adds_northern_ireland_terminated_and_police_force(migrated_url, engine_for):
    engine = engine_for(migrated_url)
    import_postcodes(engine, DEMO_EXTRACT)
    summary = import_postcodes(engine, TEST_DATA / "onspd_sample.csv")
    assert summary.source == "ONS Postcode Directory"
    assert summary.rows_read == 8
    assert summary.skipped == {
        "not a valid full postcode": 1,
        "lat, long, doterm or grid reference malformed": 1,
    }
    # WV11 1AA already existed; WV1 1ZZ, BT1 5GS, BT7 1NN, WV10 9ZZ and LE1 9XX are new.
    assert (summary.imported, summary.updated) == (5, 1)
    with make_session_factory(engine)() as session:
        belfast = get_postcode(session, "bt15gs")
        assert belfast.country.name == "Northern Ireland"
        assert belfast.police_force_code == "N23000001"
        assert belfast.latitude == pytest.approx(54.596538)
        terminated = get_postcode(session, "WV1 1ZZ")
        assert terminated.terminated and terminated.terminated_on.isoformat() == "2015-05-01"
        no_grid = get_postcode(session, "WV10 9ZZ")
        assert no_grid.latitude is None and no_grid.quality == 90
        assert no_grid.county is None  # the E99999999 pseudo-code means "no county"
        merged = get_postcode(session, "WV11 1AA")
        assert merged.police_force_code == "E23000014"
        assert merged.district.name == "City of Wolverhampton District (B)"
        # Terminated postcodes are never offered as "nearest".
        near = nearest_postcodes(session, terminated.latitude, terminated.longitude, 50, 5)
        assert "WV1 1ZZ" not in [n.record.postcode for n in near]
    # A Code-Point re-import keeps the police force area ONSPD added.
    import_postcodes(engine, DEMO_EXTRACT)
    with make_session_factory(engine)() as session:
        assert get_postcode(session, "WV11 1AA").police_force_code == "E23000014"


def test_onspd_zip_as_distributed(migrated_url, engine_for, tmp_path):
    engine = engine_for(migrated_url)
    path = tmp_path / "ONSPD_MAY_2025.zip"
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("Documents/readme.txt", "ONSPD user guide")
        archive.write(TEST_DATA / "onspd_sample.csv", "Data/ONSPD_MAY_2025_UK.csv")
    summary = import_postcodes(engine, path)
    assert summary.source == "ONS Postcode Directory" and summary.imported == 6


def test_database_stays_readable_while_importing(migrated_url, engine_for, monkeypatch):
    """Readers keep getting answers while an import rewrites the rows they read."""
    import threading

    import directory.geography.postcode_import as importer

    monkeypatch.setattr(importer, "BATCH_SIZE", 100)  # many small transactions
    engine = engine_for(migrated_url)
    import_postcodes(engine, DEMO_EXTRACT)
    if engine.dialect.name == "sqlite":
        with engine.connect() as connection:
            assert connection.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
    reader = make_session_factory(engine_for(migrated_url))
    failures: list[BaseException] = []
    done = threading.Event()

    def reimport() -> None:
        try:
            import_postcodes(engine, DEMO_EXTRACT)
        except BaseException as exc:  # reported below
            failures.append(exc)
        finally:
            done.set()

    worker = threading.Thread(target=reimport)
    worker.start()
    reads = []
    while not done.is_set():
        with reader() as session:
            reads.append(get_postcode(session, "WV11 1AA").postcode)  # rewritten by the import
    worker.join()
    assert not failures
    assert reads and set(reads) == {"WV11 1AA"}
    assert _count(engine) == DEMO_POSTCODE_COUNT


def test_import_from_a_copy_outside_the_package(migrated_url, engine_for, tmp_path):
    copy = tmp_path / "codepo_gb.zip"
    shutil.copy(DEMO_EXTRACT, copy)
    assert import_postcodes(engine_for(migrated_url), copy).imported == DEMO_POSTCODE_COUNT


def test_impossible_values_are_skipped_never_stored(migrated_url, engine_for, tmp_path):
    engine = engine_for(migrated_url)
    codes = '"E92000001","E19000001","E18000005","","E08000031"'
    rows = (
        f'"WV1 1AA",10,392309,298969,{codes},"E05014848"\n'
        f'"WV1 1AB",10,99999999,298969,{codes},"E05014848"\n'  # off the grid
        f'"WV1 1AD",10,-5,298969,{codes},"E05014848"\n'  # negative easting
        f'"WV1 1AE",999,392309,298969,{codes},"E05014848"\n'  # no such quality
        f'"WV1 1AF",10,392309,298969,{codes},"E05014848-and-more"\n'  # not a GSS code
        f'"WV1 1AG\n",10,392309,298969,{codes},"E05014848"\n'  # newline inside the field
        f'"WV1 1AH",10,392309,298969,"{"X" * 50}","","","","",""\n'
    )
    path = _rewrite_zip(
        DEMO_EXTRACT, tmp_path / "odd.zip",
        {"Data/CSV/wv.csv": rows.encode(), "Data/CSV/le.csv": None, "Data/CSV/m.csv": None},
    )  # fmt: skip
    summary = import_postcodes(engine, path)
    assert summary.imported == 2 and summary.rows_read == 7
    assert summary.skipped == {
        "eastings or northings outside the British National Grid": 2,
        "unknown positional quality": 1,
        "malformed area code": 2,
    }
    with engine.connect() as connection:
        keys = connection.scalars(select(Postcode.postcode).order_by(Postcode.postcode)).all()
    assert keys == ["WV1 1AA", "WV1 1AG"]  # the stray newline is trimmed, not stored


def _onspd_variant(tmp_path: Path, transform) -> Path:  # type: ignore[no-untyped-def]
    lines = (TEST_DATA / "onspd_sample.csv").read_text().splitlines()
    path = tmp_path / "variant.csv"
    path.write_bytes(transform(lines))
    return path


def test_onspd_header_in_upper_case_is_read(migrated_url, engine_for, tmp_path):
    path = _onspd_variant(
        tmp_path, lambda lines: "\n".join([lines[0].upper(), *lines[1:]]).encode()
    )
    assert import_postcodes(engine_for(migrated_url), path).imported == 6


def test_onspd_without_a_column_it_needs_is_refused(migrated_url, engine_for, tmp_path):
    engine = engine_for(migrated_url)
    import_postcodes(engine, DEMO_EXTRACT)
    before = _snapshot(engine)
    path = tmp_path / "thin.csv"
    path.write_text("pcds,lat,long\nWV11 1AA,52.615855,-2.089476\n")
    with pytest.raises(ImportFormatError, match="no 'doterm', 'osgrdind'"):
        import_postcodes(engine, path)
    assert _snapshot(engine) == before


def test_onspd_bad_bytes_and_infinite_positions_are_skipped(migrated_url, engine_for, tmp_path):
    def damage(lines: list[str]) -> bytes:
        le1 = next(i for i, line in enumerate(lines) if line.startswith("LE1"))
        lines[le1] = lines[le1].replace("52.635000,-1.131000", "inf,-1.131000")
        data = "\n".join(lines).encode()
        return data.replace(b"BT7 1NN,BT7  1NN,BT7 1NN", b"BT7 1NN,BT7  1NN,BT7 1\xffN")

    summary = import_postcodes(engine_for(migrated_url), _onspd_variant(tmp_path, damage))
    assert summary.imported == 4
    assert summary.skipped["position outside the UK"] == 1
    assert summary.skipped["not a valid full postcode"] == 2


def test_file_with_no_usable_row_is_an_error_and_changes_nothing(
    migrated_url, engine_for, tmp_path
):
    engine = engine_for(migrated_url)
    import_postcodes(engine, TEST_DATA / "onspd_sample.csv")
    before = _snapshot(engine)
    path = _rewrite_zip(
        DEMO_EXTRACT, tmp_path / "nine.zip",
        {"Data/CSV/wv.csv": b'"WV1 1AA",10,1,2,3,4,5,6,7\n', "Data/CSV/le.csv": None,
         "Data/CSV/m.csv": None},
    )  # fmt: skip
    with pytest.raises(ImportFormatError, match="no usable postcode rows .1 read; skipped: 1 not"):
        import_postcodes(engine, path)
    assert _snapshot(engine) == before
    with engine.connect() as connection:  # the Codelist names were not written either
        assert connection.scalar(select(func.count()).select_from(AreaName)) == 0
