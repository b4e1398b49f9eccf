"""What the code reads at run time ships in the package (pip install ., not only a checkout)."""

from __future__ import annotations

import tomllib
from fnmatch import fnmatch
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def test_every_data_file_of_a_package_is_in_its_package_data():
    """places_gb.csv was read by the migrations but left out of the wheel: a fresh
    `pip install . && hyperlocal demo` failed where the checkout's tests passed."""
    config = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]
    globs = config["package-data"]
    missing = []
    packages = {ROOT / package.replace(".", "/") for package in config["packages"]}
    for package in config["packages"]:
        folder = ROOT / package.replace(".", "/")
        patterns = globs.get(package, [])
        # Its own files, and those of its folders that are not packages (templates/, static/):
        # embed_appeals.js, a template, was left out and the widget's script answered 500.
        for file in folder.rglob("*"):
            inner = file.relative_to(folder)
            if (file.is_dir() or file.suffix in (".py", ".pyc") or "__pycache__" in inner.parts
                    or any(parent in packages for parent in file.parents if parent != folder
                           and folder in parent.parents)):  # fmt: skip
                continue
            if not any(fnmatch(inner.as_posix(), pattern) for pattern in patterns):
                missing.append(str(file.relative_to(ROOT)))
    assert missing == [], "add these to [tool.setuptools.package-data]"
