"""Run sessions over a data source and score them: top-1 against labels, agreement with a reference.

    preds = predict(sessions, source, spec)     # {"float": logits, "int8": logits}, streamed in batches
    accuracy_summary(preds["float"], preds["int8"], labels)
"""

from __future__ import annotations

import numpy as np

from edge_inception.data.readers import ImageSource
from edge_inception.models.spec import ModelSpec
from edge_inception.report.progress import progress


def predict(sessions: dict, source: ImageSource, spec: ModelSpec, *, batch_size: int = 64,
            description: str = "evaluating") -> tuple[dict[str, np.ndarray], np.ndarray | None]:
    """Run every session on the same preprocessed batches; returns logits per session and labels."""
    outs: dict[str, list[np.ndarray]] = {k: [] for k in sessions}
    labels: list[np.ndarray] = []
    with progress(description, total=len(source)) as advance:
        for images, y in source.batches(batch_size):
            x = spec.model_input(images)
            for k, s in sessions.items():
                outs[k].append(s.run(x))
            if y is not None:
                labels.append(y)
            advance(len(images))
    return {k: np.concatenate(v) for k, v in outs.items()}, (np.concatenate(labels) if labels else None)


def top1(logits: np.ndarray, labels: np.ndarray) -> float:
    return float((logits.argmax(1) == labels).mean())


def accuracy_summary(reference: np.ndarray, candidate: np.ndarray, labels: np.ndarray | None) -> dict:
    """Top-1 of both (when labelled), the change in points, top-1 agreement with the reference, and the
    fidelity of the raw outputs: SQNR (dB) and mean cosine similarity per input."""
    ref, cand = reference.astype(np.float64), candidate.astype(np.float64)
    noise = np.sum((ref - cand) ** 2)
    sqnr = None if noise == 0 else round(float(10 * np.log10(np.sum(ref**2) / noise)), 2)  # None: identical
    norms = np.linalg.norm(ref, axis=1) * np.linalg.norm(cand, axis=1)
    cosine = float(np.mean(np.sum(ref * cand, axis=1) / np.where(norms == 0, 1, norms)))
    out = {"n": int(len(candidate)),
           "agreement": float((reference.argmax(1) == candidate.argmax(1)).mean()),
           "sqnr_db": sqnr, "cosine": round(cosine, 6)}
    if labels is not None:
        ref, cand = top1(reference, labels), top1(candidate, labels)
        out.update(float_top1=ref, top1=cand, delta_points=round((cand - ref) * 100, 4))
    return out
