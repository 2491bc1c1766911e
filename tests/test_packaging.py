"""One name per module, the same installed or not, and the package's metadata written once."""
from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

import autograd_mini
import benchmarks
import models

ROOT = Path(__file__).resolve().parents[1]
tomllib = pytest.importorskip("tomllib")  # Python 3.11+


def test_this_checkouts_packages_are_the_ones_tested() -> None:
    """Whatever checkout is installed in the environment, the tests import this one's modules."""
    for module in (autograd_mini, models, benchmarks):
        assert Path(module.__file__).resolve().is_relative_to(ROOT), module.__file__


def test_a_plain_copy_runs_from_its_root_without_installing(tmp_path: Path) -> None:
    """`python -m autograd_mini list` from a checkout's root uses that checkout's modules, not the
    installed ones: a copy of the folders is enough."""
    for folder in ("autograd_mini", "models", "benchmarks"):
        shutil.copytree(ROOT / folder, tmp_path / folder, ignore=shutil.ignore_patterns("__pycache__"))
    listed = subprocess.run([sys.executable, "-m", "autograd_mini", "list"], cwd=tmp_path, capture_output=True,
                            text=True, timeout=120)
    assert listed.returncode == 0, listed.stderr
    assert "000.alphas" in listed.stdout and "digits" in listed.stdout
    where = subprocess.run([sys.executable, "-c", "import autograd_mini.app.experiments, models, benchmarks; "
                            "print(models.__file__, benchmarks.__file__, autograd_mini.__file__)"],
                           cwd=tmp_path, capture_output=True, text=True, check=True).stdout.split()
    assert all(Path(f).resolve().is_relative_to(tmp_path.resolve()) for f in where), where


def test_the_printed_blocks_are_package_data_beside_the_models() -> None:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())
    setuptools = project["tool"]["setuptools"]
    assert "package-dir" not in setuptools  # no second name for a folder
    assert {"autograd_mini", "models", "benchmarks", "models.printed"} <= set(setuptools["packages"])
    assert setuptools["package-data"]["models.printed"] == ["*.txt"]
    assert list((ROOT / "models" / "printed").glob("*.txt"))


def test_every_package_folder_is_listed_for_installing() -> None:
    """A package folder missing from pyproject.toml works from the checkout and is absent once installed."""
    listed = set(tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]["packages"])
    folders = {".".join(init.parent.relative_to(ROOT).parts) for top in ("autograd_mini", "models", "benchmarks")
               for init in (ROOT / top).rglob("__init__.py")}
    assert folders <= listed, sorted(folders - listed)


def test_the_version_is_written_once() -> None:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())
    assert "version" not in project["project"] and "version" in project["project"]["dynamic"]
    assert project["tool"]["setuptools"]["dynamic"]["version"] == {"attr": "autograd_mini.__version__"}
    assert (ROOT / "LICENSE").read_text().startswith("MIT License") and project["project"]["license"] == "MIT"


def test_all_names_the_public_api_and_nothing_missing() -> None:
    names = autograd_mini.__all__
    assert len(names) == len(set(names))
    missing = [n for n in names if not hasattr(autograd_mini, n)]
    assert not missing, missing
    for name in ("Tensor", "no_grad", "grad", "gradcheck", "audit", "derive", "trace", "nn", "optim", "losses",
                 "exp", "sum", "max", "linalg", "draw_graph", "__version__"):
        assert name in names, name


def test_every_model_module_is_loaded_and_registers_an_experiment() -> None:
    """A new experiment is one new file in models/: the package imports every module it holds."""
    from autograd_mini.app.experiments import all_experiments
    on_disk = sorted(p.stem for p in (ROOT / "models").glob("*.py") if not p.stem.startswith("_"))
    assert sorted(models.MODULES) == on_disk
    registering = {e.run.__module__ for e in all_experiments().values()}
    for name in on_disk:
        assert any(m == f"models.{name}" for m in registering), f"models/{name}.py registers no experiment"
