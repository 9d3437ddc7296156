"""Packaging beside pyproject.toml, for the one thing it cannot say: the repository's top-level ``targets/``
(target profiles) and ``calibration/`` (calibration data and recipes) ship inside the wheel, as
``edge_inception/shipped_targets`` and ``edge_inception/shipped_calibration`` (edge_inception/_core/shipped.py)."""

from setuptools import find_packages, setup

SHIPPED = {"edge_inception.shipped_targets": "targets", "edge_inception.shipped_calibration": "calibration"}

setup(
    packages=[*find_packages(include=["edge_inception", "edge_inception.*"]), *SHIPPED],
    package_dir=SHIPPED,
    package_data={"edge_inception": ["models/zoo/weights/*"],
                  **{package: ["*.toml", "*.npz", "*.md"] for package in SHIPPED}},
)
