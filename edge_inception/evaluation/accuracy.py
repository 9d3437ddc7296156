"""Run sessions over a data source and score them: top-1/top-5 against labels, fidelity to a reference.

    preds, labels, fingerprint = predict(sessions, source, spec)   # logits per session, streamed in batches
    accuracy_summary(preds["float"], preds["int8"], labels)        # one dict, schema 1.1 'accuracy'

    scorer = Scorer(labelled=True, with_reference=True)            # streaming: nothing but per-image bits
    scorer.update(candidate_logits, reference_logits, labels)      # and running sums is kept
    summaries, fingerprint = stream_scores({"int8": (session, spec)}, source, reference=(ref, ref_spec))
    scorer.summary()

The change of top-1 against the reference comes with a paired-bootstrap 95% interval and an exact
McNemar p-value (evaluation/stats.py). Per-image outcomes travel in the report as bit strings, so a
gate can pair a new run with a stored baseline image by image.
"""

from __future__ import annotations

import hashlib

import numpy as np

from edge_inception._core.progress import progress
from edge_inception.data.readers import ImageSource
from edge_inception.evaluation import stats
from edge_inception.models.spec import ModelSpec


class Fingerprint:
    """sha256 of the raw uint8 images and labels, in order: two reports with the same fingerprint were
    measured on the same data."""

    def __init__(self):
        self._h = hashlib.sha256()

    def update(self, images: np.ndarray, labels: np.ndarray | None) -> None:
        self._h.update(np.ascontiguousarray(images, np.uint8).tobytes())
        if labels is not None:
            self._h.update(np.ascontiguousarray(labels, np.int64).tobytes())

    def hexdigest(self) -> str:
        return self._h.hexdigest()


def predict(sessions: dict, source: ImageSource, spec: ModelSpec, *, batch_size: int = 64,
            description: str = "evaluating") -> tuple[dict[str, np.ndarray], np.ndarray | None, str]:
    """Run every session on the same preprocessed batches; returns logits per session, labels and the
    data fingerprint. Holds every logit: for large sets use ``stream_scores``."""
    outs: dict[str, list[np.ndarray]] = {k: [] for k in sessions}
    labels: list[np.ndarray] = []
    fp = Fingerprint()
    with progress(description, total=len(source)) as advance:
        for images, y in source.batches(batch_size):
            fp.update(images, y)
            x = spec.model_input(images)
            for k, s in sessions.items():
                outs[k].append(s.run(x))
            if y is not None:
                labels.append(y)
            advance(len(images))
    return ({k: np.concatenate(v) for k, v in outs.items()}, (np.concatenate(labels) if labels else None),
            fp.hexdigest())


def stream_scores(candidates: dict, source: ImageSource, *, reference=None, batch_size: int = 64,
                  description: str = "evaluating") -> tuple[dict[str, dict], str]:
    """Score each candidate (and the reference) batch by batch, keeping only per-image bits and running
    sums: 50,000 images cost a few hundred kB, not their logits. ``candidates`` maps a name to
    ``(session, spec)``, ``reference`` is one such pair or None: each session gets the same images
    through its own spec's preprocessing and layout. Returns summaries (the reference's under
    ``REFERENCE``) and the data fingerprint."""
    labelled = source.labelled
    scorers = {k: Scorer(labelled=labelled, with_reference=reference is not None) for k in candidates}
    ref_scorer = Scorer(labelled=labelled, with_reference=False) if reference is not None else None
    fp = Fingerprint()
    with progress(description, total=len(source)) as advance:
        for images, y in source.batches(batch_size):
            fp.update(images, y)
            ref = None
            if reference is not None:
                ref = reference[0].run(reference[1].model_input(images))
                ref_scorer.update(ref, None, y)
            for k, (session, spec) in candidates.items():
                scorers[k].update(session.run(spec.model_input(images)), ref, y)
            advance(len(images))
    out = {k: sc.summary() for k, sc in scorers.items()}
    if ref_scorer is not None:
        out[REFERENCE] = ref_scorer.summary()
    return out, fp.hexdigest()


REFERENCE = "__reference__"


class Scorer:
    """Streaming accumulator of one candidate's outcomes (and its fidelity to a reference)."""

    def __init__(self, *, labelled: bool, with_reference: bool):
        self.labelled, self.with_reference = labelled, with_reference
        self._top1: list[np.ndarray] = []
        self._top5: list[np.ndarray] = []
        self._ref_top1: list[np.ndarray] = []
        self._ref_top5: list[np.ndarray] = []
        self._agree: list[np.ndarray] = []
        self._signal = self._noise = self._cosine = 0.0
        self.n = 0

    def update(self, candidate: np.ndarray, reference: np.ndarray | None, labels: np.ndarray | None) -> None:
        cand = np.asarray(candidate, np.float64)
        self.n += len(cand)
        if self.labelled and labels is not None:
            self._top1.append(cand.argmax(1) == labels)
            self._top5.append(_in_topk(cand, labels, 5))
        if self.with_reference and reference is not None:
            ref = np.asarray(reference, np.float64)
            self._agree.append(ref.argmax(1) == cand.argmax(1))
            self._signal += float(np.sum(ref**2))
            self._noise += float(np.sum((ref - cand) ** 2))
            norms = np.linalg.norm(ref, axis=1) * np.linalg.norm(cand, axis=1)
            self._cosine += float(np.sum(np.sum(ref * cand, axis=1) / np.where(norms == 0, 1, norms)))
            if self.labelled and labels is not None:
                self._ref_top1.append(ref.argmax(1) == labels)
                self._ref_top5.append(_in_topk(ref, labels, 5))

    def summary(self) -> dict:
        out: dict = {"n": self.n}
        cat = lambda parts: np.concatenate(parts) if parts else np.zeros(0, bool)  # noqa: E731
        per_sample: dict = {"encoding": "packbits-base64", "n": self.n}
        if self.with_reference:
            agree = cat(self._agree)
            out["agreement"] = float(agree.mean()) if self.n else None
            out["agreement_ci95"] = stats.proportion_ci(int(agree.sum()), self.n)
            out["sqnr_db"] = None if self._noise == 0 else round(10 * np.log10(self._signal / self._noise), 2)
            out["cosine"] = round(self._cosine / self.n, 6) if self.n else None
            per_sample["agree"] = stats.encode_bits(agree)
        if self.labelled and self._top1:
            top1, top5 = cat(self._top1), cat(self._top5)
            out["top1"], out["top5"] = float(top1.mean()), float(top5.mean())
            out["top1_ci95"] = stats.proportion_ci(int(top1.sum()), self.n)
            per_sample["candidate_correct"] = stats.encode_bits(top1)
            if self.with_reference:
                ref1, ref5 = cat(self._ref_top1), cat(self._ref_top5)
                out["float_top1"], out["float_top5"] = float(ref1.mean()), float(ref5.mean())
                d = stats.paired_delta_ci(ref1, top1)
                out.update(delta_points=round(d["delta"] * 100, 4),
                           delta_ci95=[round(v * 100, 4) for v in d["ci95"]],
                           mcnemar_p=d["mcnemar_p"], fixed=d["fixed"], broken=d["broken"], ci_method=d["method"])
                per_sample["reference_correct"] = stats.encode_bits(ref1)
        out["per_sample"] = per_sample
        return out


def _in_topk(logits: np.ndarray, labels: np.ndarray, k: int) -> np.ndarray:
    k = min(k, logits.shape[1])
    top = np.argpartition(-logits, k - 1, axis=1)[:, :k]
    return np.any(top == np.asarray(labels)[:, None], axis=1)


def top1(logits: np.ndarray, labels: np.ndarray) -> float:
    return float((logits.argmax(1) == labels).mean())


def accuracy_summary(reference: np.ndarray, candidate: np.ndarray, labels: np.ndarray | None) -> dict:
    """Top-1/top-5 of both (when labelled), the change in points with its paired 95% interval and
    McNemar p, top-1 agreement with the reference (Wilson interval), SQNR (dB) and mean cosine."""
    scorer = Scorer(labelled=labels is not None, with_reference=True)
    scorer.update(candidate, reference, labels)
    return scorer.summary()
