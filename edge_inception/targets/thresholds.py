"""Gate thresholds, the vocabulary shared by a target profile's ``[gate]`` section (its defaults) and the
gate's own configuration (edge_inception/gating/config.py), defined once here, below both.

    FloatThresholds()            # the built-in defaults against float: 1.0 pt, 0.97, 1.5x, no size limit
    BaselineThresholds()         # against a stored baseline report
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field


def _limit(default: float | None, description: str, *, share: bool = False):
    # strict: a TOML string "1.0" or a boolean is an error, not a number
    bounds = {"ge": 0, "le": 1} if share else {"ge": 0}
    return Field(default, strict=True, description=description, **bounds)


class _Table(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class FloatThresholds(_Table):
    """Against the float reference. Also the schema of a target profile's ``[gate]`` section."""

    max_top1_drop: float = _limit(1.0, "largest top-1 drop against the float reference, in points")
    min_agreement: float = _limit(0.97, "smallest share of inputs whose top-1 equals the float reference's "
                                  "(0..1)", share=True)
    max_latency_ratio: float = _limit(1.5, "largest int8/float median-latency ratio on the same runtime")
    max_size_mb: float | None = _limit(None, "largest artifact size in MB (10^6 bytes); unset: not checked")


class BaselineThresholds(_Table):
    """Against a stored baseline report of the same model and data."""

    max_top1_drop: float = _limit(1.0, "largest top-1 drop against the baseline's top-1 of the same target, "
                                  "in points")
    max_agreement_drop: float = _limit(1.0, "largest drop of agreement with float against the baseline, in points")
    max_latency_increase: float = _limit(0.25, "largest increase of the latency ratio against the baseline's, "
                                         "as a fraction")
    max_size_increase: float = _limit(0.05, "largest increase of the artifact size against the baseline's, "
                                      "as a fraction")
