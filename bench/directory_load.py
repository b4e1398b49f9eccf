"""A synthetic but realistic directory for benchmarks: neighbourhoods and sites across GB.

Neighbourhoods are the Voronoi cells of seeds drawn from real postcode positions (so they are
small in cities and large in the country, as real teams' patches are), each given 50 to 500
vertices. Sites mix the three coverage shapes: a few postcode sectors, a circle of 0.5-3 km, or
a polygon. Everything goes through the normal store functions.
"""

from __future__ import annotations

import random
import sqlite3
from pathlib import Path

import shapely
from shapely.geometry import MultiPoint, box, mapping

from directory.geography.area_specs import area_from_spec
from directory.geography.areas import Area
from directory.police.data import ForceData, NeighbourhoodData
from directory.police.store import save_police_import
from directory.sites.store import create_site, set_site_status
from directory.storage import create_db_engine, make_session_factory
from feeds.directory_changes import force_imported, site_changed

GB = box(-8.2, 49.9, 1.8, 60.9)


def _positions(db_file: Path, count: int, rng: random.Random) -> list[tuple[str, float, float]]:
    connection = sqlite3.connect(db_file)
    rows = connection.execute(
        "SELECT postcode, latitude, longitude FROM postcodes WHERE lat_band IS NOT NULL"
    ).fetchall()
    connection.close()
    return rng.sample(rows, count)


def _cells(seeds: list[tuple[str, float, float]], rng: random.Random) -> list[shapely.Polygon]:
    points = MultiPoint([(lng, lat) for _, lat, lng in seeds])
    cells = []
    for cell in shapely.voronoi_polygons(points, extend_to=GB).geoms:
        clipped = cell.intersection(GB)
        if clipped.is_empty or clipped.geom_type != "Polygon":
            continue
        wanted = rng.randint(50, 500)
        step = clipped.exterior.length / wanted
        dense = shapely.segmentize(clipped, max_segment_length=step)
        cells.append(shapely.make_valid(dense) if not dense.is_valid else dense)
    return [c for c in cells if c.geom_type == "Polygon"]


def load_directory(db_file: Path, neighbourhoods: int, sites: int, seed: int = 7) -> None:
    """Add ``neighbourhoods`` teams (in one synthetic force) and ``sites`` approved sites."""
    rng = random.Random(seed)
    engine = create_db_engine(f"sqlite:///{db_file}")
    sessions = make_session_factory(engine)
    seeds = _positions(db_file, neighbourhoods, rng)
    teams = []
    for index, cell in enumerate(_cells(seeds, rng)):
        area = Area("polygon", cell)
        teams.append(NeighbourhoodData(
            code=f"N{index:05}", name=f"Synthetic {index}", description="benchmark",
            url_force=None, centre=area.centroid, boundary=area,
            contact_details={"telephone": "101"}, accounts=[], links=[], officers=[],
        ))  # fmt: skip
    force = ForceData("synthetic", "Synthetic Constabulary", None, "benchmark", "101", [])
    with sessions() as session:
        save_police_import(session, force, teams)
        force_imported(session, force.id)  # as the importer's callers do: the feeds follow
        session.commit()
    centres = _positions(db_file, sites, rng)
    with sessions() as session:
        for index, (postcode, lat, lng) in enumerate(centres):
            kind = index % 3
            if kind == 0:
                spec = {"type": "postcodes", "postcodes": [postcode[:-2]]}
            elif kind == 1:
                spec = {"type": "circle", "center": {"lat": lat, "lng": lng},
                        "radius_m": rng.uniform(500, 3000)}  # fmt: skip
            else:
                cell = shapely.Point(lng, lat).buffer(rng.uniform(0.01, 0.03), quad_segs=8)
                spec = {"type": "polygon", "geometry": mapping(cell)}
                spec["geometry"] = {"type": "Polygon", "coordinates": [
                    [list(p) for p in cell.exterior.coords]]}  # fmt: skip
            site = create_site(
                session, name=f"Synthetic site {index}", url=f"https://site{index}.example.org/",
                area=area_from_spec(session, spec), feed_urls=[f"https://site{index}.example.org/feed"],
            )  # fmt: skip
            set_site_status(session, site, "approved")
            site_changed(session, site)
        session.commit()
    engine.dispose()
