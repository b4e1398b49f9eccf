"""Cut the committed demo extract out of the full Code-Point Open download.

    python -m directory.data.make_extract \
        ../shared/data/codepo_gb.zip directory/data/codepo_demo.zip

The extract keeps the official layout (Data/CSV/<area>.csv, Doc/Codelist.xlsx with only the codes
used, Doc/metadata.txt, Doc/licence.txt) so tests and ``hyperlocal demo`` go through the same
importer as the full file.
"""

from __future__ import annotations

import argparse
import csv
import io
import re
import zipfile

import openpyxl

DEMO_DISTRICTS = ("WV1", "WV10", "WV11", "WV98", "LE1", "M14")


def make_extract(source: str, target: str, districts: tuple[str, ...] = DEMO_DISTRICTS) -> int:
    """Write ``target`` holding every unit of ``districts`` from ``source``; returns the count."""
    wanted = set(districts)
    areas = sorted({re.match(r"[A-Z]+", d).group(0).lower() for d in districts})  # type: ignore[union-attr]
    counts: dict[str, int] = {}
    codes: set[str] = set()
    with zipfile.ZipFile(source) as full, zipfile.ZipFile(target, "w", zipfile.ZIP_DEFLATED) as out:
        for area in areas:
            rows = []
            with full.open(f"Data/CSV/{area}.csv") as raw:
                for line in io.TextIOWrapper(raw, encoding="utf-8", newline=""):
                    postcode = next(csv.reader([line]))[0]
                    if postcode.split(" ")[0] in wanted:
                        rows.append(line)
                        codes.update(next(csv.reader([line]))[4:])
            counts[area.upper()] = len(rows)
            out.writestr(f"Data/CSV/{area}.csv", "".join(rows))
        for name in ("Doc/licence.txt", "Doc/Code-Point_Open_Column_Headers.csv"):
            out.writestr(name, full.read(name))
        metadata = full.read("Doc/metadata.txt").decode("utf-8")
        head = metadata.split("\n")[:5]
        body = [f"{area:>8}\t{count}" for area, count in sorted(counts.items())]
        out.writestr("Doc/metadata.txt", "\n".join(head + body) + "\n")
        workbook = openpyxl.load_workbook(io.BytesIO(full.read("Doc/Codelist.xlsx")))
        for sheet in workbook.worksheets:
            if not re.fullmatch(r"[A-Z]{3}", sheet.title):
                continue
            for index in range(sheet.max_row, 0, -1):
                if sheet.cell(index, 2).value not in codes:
                    sheet.delete_rows(index)
        buffer = io.BytesIO()
        workbook.save(buffer)
        out.writestr("Doc/Codelist.xlsx", buffer.getvalue())
    return sum(counts.values())


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[1])
    parser.add_argument("source")
    parser.add_argument("target")
    args = parser.parse_args()
    print(f"{make_extract(args.source, args.target)} postcodes written to {args.target}")
