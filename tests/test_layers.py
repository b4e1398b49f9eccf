"""The one staircase: api -> feeds -> directory, and the order inside each, enforced.

The contracts live in pyproject.toml ([tool.importlinter]) and are checked by import-linter,
which follows every import, indirect ones and those inside functions included. The second test
plants one forbidden import in a copy of the tree and checks that the same contracts refuse it,
so the rule cannot pass by checking nothing.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
PACKAGES = ("api", "directory", "feeds", "migrations")
LINT = (
    "import sys; from importlinter.cli import lint_imports; "
    "sys.exit(lint_imports(config_filename='pyproject.toml', no_cache=True, no_logo=True))"
)


def lint(tree: Path) -> subprocess.CompletedProcess[str]:
    """import-linter over the packages in ``tree``, as a fresh interpreter imports them."""
    return subprocess.run(
        [sys.executable, "-c", LINT], cwd=tree, capture_output=True, text=True, timeout=120,
        env={**os.environ, "PYTHONPATH": str(tree), "COLUMNS": "200"},
    )  # fmt: skip


def test_the_tree_keeps_every_layer_contract() -> None:
    result = lint(ROOT)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "4 kept, 0 broken" in result.stdout


def _sources_only(folder: str, names: list[str]) -> list[str]:
    """What copytree leaves out: caches and every file that is not Python source."""
    return [n for n in names if n == "__pycache__"
            or (not n.endswith(".py") and not (Path(folder) / n).is_dir())]  # fmt: skip


@pytest.fixture(scope="module")
def tree_copy(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The packages' sources and pyproject.toml, copied once; each case edits and restores."""
    tree = tmp_path_factory.mktemp("tree")
    for package in PACKAGES:
        shutil.copytree(ROOT / package, tree / package, ignore=_sources_only)
    shutil.copy(ROOT / "pyproject.toml", tree / "pyproject.toml")
    return tree


@pytest.mark.parametrize(
    ("module", "line", "broken"),
    [
        # the directory reaching up into feeds (as its store functions once did for the registry)
        ("directory/sites/store.py", "import feeds.ingest.registry", "never back up"),
        # ...or into the API, lazily inside a function
        ("directory/police/store.py", "def _f():\n    from api import errors", "never back up"),
        # feeds reaching up into the API
        ("feeds/syndication/bulletins.py", "from api.auth import authorise", "never back up"),
        # ingestion calling syndication (bulletins are handed in as on_new_posts instead)
        ("feeds/ingest/refresh.py", "import feeds.syndication.bulletins", "syndication on ingest"),
        # syndication driving the worker loop
        ("feeds/syndication/webhooks.py", "import feeds.worker", "syndication on ingest"),
        # geography depending on the sites that use it
        ("directory/geography/areas.py", "import directory.sites.store", "shared base"),
        # sites and police are siblings: neither imports the other
        ("directory/sites/store.py", "import directory.police.store", "shared base"),
        # the police depending on the resident lookup built on top of it
        ("directory/police/patches.py", "import directory.local", "shared base"),
        # the shared base depending on a domain
        ("directory/storage.py", "import directory.geography.geo", "shared base"),
        # Flask below the API
        ("feeds/ingest/http.py", "import flask", "nothing of Flask"),
        ("directory/geography/locate.py", "from werkzeug.exceptions import NotFound", "Flask"),
    ],
)
def test_an_import_against_the_staircase_is_refused(
    tree_copy: Path, module: str, line: str, broken: str
) -> None:
    path = tree_copy / module
    original = path.read_text(encoding="utf-8")
    path.write_text(original + "\n\n" + line + "\n", encoding="utf-8")
    try:
        result = lint(tree_copy)
    finally:
        path.write_text(original, encoding="utf-8")
    assert result.returncode == 1, result.stdout + result.stderr
    # The contract meant; an import that also drags Flask in breaks that contract as well.
    refused = [line for line in result.stdout.splitlines() if line.endswith(" BROKEN")]
    assert any(broken in line for line in refused), result.stdout


@pytest.mark.parametrize(
    ("module", "broken"),
    [("directory/helpers.py", "shared base"), ("feeds/helpers.py", "syndication on ingest")],
)
def test_a_new_module_must_be_given_its_place_in_the_layers(
    tree_copy: Path, module: str, broken: str
) -> None:
    path = tree_copy / module
    path.write_text('"""A module nobody placed in a layer."""\n', encoding="utf-8")
    try:
        result = lint(tree_copy)
    finally:
        path.unlink()
    assert result.returncode == 1, result.stdout + result.stderr
    assert "not listed as layers" in result.stdout
    refused = [line for line in result.stdout.splitlines() if line.endswith(" BROKEN")]
    assert any(broken in line for line in refused), result.stdout
