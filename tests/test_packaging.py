"""What the code reads at run time ships in the package (pip install ., not only a checkout)."""

from __future__ import annotations

import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def test_every_data_file_of_a_package_is_in_its_package_data():
    """places_gb.csv was read by the migrations but left out of the wheel: a fresh
    `pip install . && hyperlocal demo` failed where the checkout's tests passed."""
    config = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]
    globs = config["package-data"]
    missing = []
    for package in config["packages"]:
        folder = ROOT / package.replace(".", "/")
        for file in folder.iterdir():
            if file.is_dir() or file.suffix in (".py", ".pyc"):
                continue
            patterns = globs.get(package, [])
            if not any(file.match(pattern) or file.name == pattern for pattern in patterns):
                missing.append(str(file.relative_to(ROOT)))
    assert missing == [], "add these to [tool.setuptools.package-data]"
