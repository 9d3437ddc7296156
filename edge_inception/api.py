"""Orchestration: wires loading, export, quantization, verification and measurement. No format code.

    from edge_inception import convert
    report = convert(targets="tflite-int8", out="edge-inception-out")
    report["targets"][0]["accuracy"]["delta_points"]
"""

from __future__ import annotations

import datetime as _dt
import functools
from pathlib import Path

from edge_inception import __version__
from edge_inception._core.errors import InputError, TargetFailed
from edge_inception.options import ConvertOptions, MeasureOptions
from edge_inception.report.schema import SCHEMA_VERSION as REPORT_SCHEMA_VERSION


def convert(
    model: str | Path | None = None,
    *,
    targets: str | list[str] = "tflite-int8",
    target_files: list[str | Path] = (),
    jobs: int = 1,
    framework: str = "keras",
    calibration: str | Path | None = None,
    calibration_samples: int | None = None,
    calibration_recipe: str | Path | None = None,
    eval_data: str | Path | None = None,
    eval_limit: int | None = None,
    preprocessing: str | None = None,
    weights: str | Path | None = None,
    input_shape: tuple[int, ...] | None = None,
    out: str | Path = "edge-inception-out",
    force: bool = False,
    threads: int = 2,
    latency_runs: int = 50,
    method: str = "ptq",
    train_data: str | Path | None = None,
    epochs: int = 1,
    learning_rate: float | None = None,
    train_limit: int | None = None,
    distill: bool | None = None,
    compare_ptq: bool = False,
    device: str | list | None = None,
    accept_new_host_key: bool = False,
    trust_remote_code: bool = False,
    keep_float: list[str] | tuple[str, ...] = (),
    max_drop: float | None = None,
    min_agreement: float | None = None,
    diagnose: bool = False,
) -> dict:
    """Convert ``model`` (a zoo name or a path; default the shipped inception-mini) to each target,
    verify every artifact, measure it against its float reference and write ``out/report.json``.

    ``calibration_recipe`` (a recipe NAME or FILE, see edge_inception.calibration_recipes) replaces each
    int8 target's own recipe; ``calibration`` and ``calibration_samples`` override its source and count.

    ``method="qat"`` fine-tunes the model with fake quantization on ``train_data`` first (once per run)
    and exports that model to every int8 target (``distill``: add KL divergence to the float model's
    predictions to the loss; None means yes); ``compare_ptq`` also builds and evaluates the PTQ
    artifact of each int8 target (``row["ptq"]``). ``device`` (one or more URLs or declared names, see
    edge_inception.devices): each target is measured there too, after here (``row["devices"][name]``).
    ``trust_remote_code`` lets code inside the model file run while it loads (refused by default;
    docs/security.md). ``keep_float`` (source-layer patterns) keeps those layers float in every int8
    target; ``max_drop``/``min_agreement`` search for the fewest such groups that meet the budget;
    ``diagnose`` writes out/diagnose.json and draws the heat maps and depth plots in report.html.
    ``jobs`` converts up to that many targets at once, each in a worker process, and times them one at a
    time afterwards (faster on a machine with cores and memory to spare; the workers' memory adds up).
    If the run fails or is interrupted, ``out`` is left as it was before it.
    The keywords are grouped and range-checked as ``edge_inception.options.ConvertOptions``;
    ``run_convert`` takes that object."""
    keywords = {k: v for k, v in locals().items() if k != "model"}
    return run_convert(model, ConvertOptions.from_keywords(**keywords))


def run_convert(model: str | Path | None, opts: ConvertOptions) -> dict:
    from edge_inception._core.names import inside
    from edge_inception._core.outputs import check_output_dir
    from edge_inception.data.readers import check_labels, open_source
    from edge_inception.formats import artifact_files, artifact_path
    from edge_inception.models.loader import load_model
    from edge_inception.qat import check_options
    from edge_inception.targets import get_target, resolve_targets

    resolved = resolve_targets(opts.targets, target_files=opts.target_files)  # validated before any work
    qat_settings = check_options(opts.qat, targets=resolved)
    check_output_dir(opts.output.out)  # before any work: a folder that cannot be written is found now
    devices = []
    if opts.device.device:  # reached before any work: an unreachable device is exit 2 now, not after converting
        from edge_inception.devices.measure import prepare_devices

        devices = prepare_devices(list(opts.device.device), accept_new_host_key=opts.device.accept_new_host_key)
    m, d = opts.model, opts.data
    lm = load_model(model, framework=m.framework, preprocessing=m.preprocessing, weights=m.weights,
                    input_shape=m.input_shape, trust_remote_code=m.trust_remote_code)
    if opts.fallback.asked:  # a pattern matching no layer, a model it cannot read: found before any work
        from edge_inception.diagnose.convert_steps import check_options

        check_options(lm, opts.fallback)
    out = Path(opts.output.out)
    stem = lm.spec.name
    refs = {t.float_reference for t in resolved if t.float_reference}
    planned = {name: artifact_path(out, f"{stem}.{name}", get_target(name).format) for name in refs}
    planned |= {t.name: artifact_path(out, f"{stem}.{t.name}", t.format) for t in resolved}
    if opts.qat.compare_ptq:  # the PTQ artifact beside the QAT one
        planned |= {f"{t.name}:ptq": artifact_path(out, f"{stem}.{t.name}.ptq", t.format)
                    for t in resolved if t.is_quantized}
    for path in planned.values():
        inside(out, path)  # target names are identifiers; this also catches a symlink out of --out
    report_path = out / "report.json"
    views = [out / "report.md", out / "report.html"]
    existing = [f for p in [*planned.values(), report_path, *views] for f in artifact_files(p) if f.exists()]
    if existing and not opts.output.force:
        raise InputError(existing[0], "already exists", fix="pass --force to overwrite, or choose another --out")
    if out.exists() and not out.is_dir():
        raise InputError(out, "exists and is not a folder", fix="choose another --out")

    from_zoo = lm.source.startswith("zoo:")
    calib = plan = None
    if any(t.is_quantized for t in resolved):
        from edge_inception.calibration_recipes.plan import plan_calibration

        # QAT of a user model without --calibration starts its ranges from the training images; another user
        # model has no default: its recipe or --calibration must name the images.
        default_calib = (opts.qat.train_data if qat_settings is not None and not from_zoo
                         else "sample:calibration" if from_zoo else None)
        # Each target's recipe (calibration/*.toml) says which images, how many, the batch size (small
        # batches bound what a calibrator holds at once) and the range method; refused here if its library
        # cannot do it.
        plan = plan_calibration(resolved, lm, recipe=d.calibration_recipe, source=d.calibration,
                                samples=d.calibration_samples, default_source=default_calib,
                                qat=qat_settings is not None)
        calib = plan.primary
    # Random weights answer near-uniformly: accuracy on them is noise, so none is claimed by default.
    default_eval = "sample:evaluation" if from_zoo and not lm.random_weights else None
    eval_ref = d.eval_data if d.eval_data is not None else default_eval
    eval_src = open_source(eval_ref, lm.spec, split="test", labelled=True, limit=d.eval_limit) if eval_ref else None
    check_labels(eval_src, lm.classes)
    qat = None
    if qat_settings is not None:  # once per run, before any target; nothing is written until it is done
        from edge_inception.qat import train_qat

        train_src = open_source(opts.qat.train_data, lm.spec, split="train", labelled=True,
                                limit=opts.qat.train_limit)
        check_labels(train_src, lm.classes)
        qat = train_qat(lm, train=train_src, calibration=calib, settings=qat_settings, targets=resolved)

    from edge_inception._core.rollback import rollback_on_failure
    from edge_inception.report.schema import write_report
    from edge_inception.report.views import write_views

    # Bad input found mid-run, Ctrl-C or a crash: out is put back as it was (what --force replaced too).
    with rollback_on_failure(out, protect=existing):
        out.mkdir(parents=True, exist_ok=True)
        ctx = _Context(lm, out, planned, opts.measure, calib, eval_src, qat=qat, compare_ptq=opts.qat.compare_ptq,
                       calibration_plan=plan)
        ctx.fallback = opts.fallback
        from edge_inception.target_worker import run_targets

        rows = run_targets(model, opts, lm, ctx, resolved)  # a large model: a worker process per target
        report = _report(lm, ctx, rows)
        fb = opts.fallback
        if fb.diagnose or fb.max_drop is not None or fb.min_agreement is not None:  # report.html draws them
            from edge_inception.diagnose.convert_steps import write_diagnosis

            write_diagnosis(report, ctx)
        if devices:
            from edge_inception.devices.measure import measure_rows

            report["devices"] = measure_rows(rows, devices, threads=opts.measure.threads,
                                             runs=opts.measure.latency_runs)
        write_report(report, report_path)  # validated against the report schema, then written atomically
        views = write_views(report, out)  # report.md (CI step summaries) and report.html, rendered from the JSON
    report["path"] = str(report_path)
    report["views"] = {k: str(v) for k, v in views.items()}
    return report


class _Context:
    """Per-run state shared by targets: float references are exported and evaluated once."""

    def __init__(self, lm, out, planned, measure: MeasureOptions, calib, eval_src, *, qat=None, compare_ptq=False,
                 calibration_plan=None):
        self.lm, self.out, self.planned = lm, out, planned
        self.calibration_plan = calibration_plan  # each int8 target's CalibrationSet, from its recipe
        self.qat, self.compare_ptq = qat, compare_ptq  # a trained QatModel exports every int8 target
        self.threads, self.latency_runs = measure.threads, measure.latency_runs
        self.calib, self.eval_src = calib, eval_src
        self._references: dict[str, dict] = {}
        self._reference_outputs: dict[str, tuple] = {}  # reference name -> (logits, labels) on eval data
        self._source_session = None
        self.fallback = None  # FallbackOptions, set by run_convert

    def _build(self, target, *, ptq: bool = False) -> dict:
        from edge_inception._core.interrupt import run_interruptible
        from edge_inception._core.memory import release_free_memory
        from edge_inception._core.progress import progress
        from edge_inception.exporters import export
        from edge_inception.formats import embed_spec
        from edge_inception.quantizers import quantize
        from edge_inception.validate import validate

        dest = self.planned[f"{target.name}:ptq" if ptq else target.name]
        with progress(f"{target.name}: converting" + (" (PTQ, for comparison)" if ptq else "")):
            keep = None
            if target.is_quantized:  # the QAT model is a source of its own kind; --compare-ptq quantizes the float one
                from edge_inception.diagnose.convert_steps import plan_layers

                source = self.qat if self.qat is not None and not ptq else self.lm
                calibration = self.calibration_plan.for_target(target) if self.calibration_plan else self.calib
                keep = plan_layers(self, target) if self.fallback is not None else None
                work = functools.partial(quantize, source, dest, target=target, calibration=calibration,
                                         keep_float=keep)
            else:
                work = functools.partial(export, self.lm, dest, target=target)
            # Native converters hold their thread for a minute: in a worker, Ctrl-C still stops the run.
            info = run_interruptible(work)
        release_free_memory()  # what the converter freed goes back before the next target's converter runs
        embed_spec(dest, target.format, self.lm.spec)
        violations = validate(dest, target)
        if keep:  # rules a layer kept float by the plan breaks on purpose
            from edge_inception.diagnose.convert_steps import exempt, graph_of

            violations = exempt(violations, info, graph_of(self), keep)
        return {"artifact": dest, "info": info, "violations": violations}

    def _reference(self, name: str) -> dict:
        from edge_inception.targets import get_target

        built = self._build_once(get_target(name))
        if built["violations"]:
            raise TargetFailed(f"float reference {name} fails its profile: {built['violations'][0]}")
        return built

    def _build_once(self, target) -> dict:
        """``_build(target)``, once per float profile in a run: a float target that is also another row's
        reference (tflite-fp32 beside tflite-int8) is the same profile written to the same planned path."""
        known = self._references.get(target.name)
        if known is not None and known["target"] == target:
            return known
        built = {"target": target, **self._build(target)}
        if not built["violations"] and not target.is_quantized and not target.float_reference:
            self._references[target.name] = built
        return built

    def run_target(self, target, *, time_it: bool = True) -> dict:
        """The target's report row: converted, verified, evaluated and (``time_it``) timed."""
        from edge_inception.formats import artifact_size
        from edge_inception.models.reference import source_session
        from edge_inception.runtimes import get_runtime

        row: dict = {"target": target.name, "format": target.format, "precision": target.precision,
                     "runtime": target.runtime, "status": "ok", "message": "",
                     "method": ("qat" if self.qat is not None else "ptq") if target.is_quantized else "float",
                     # False: the target's device (an NPU, a mobile GPU) is not here; the artifact was checked
                     # statically and accuracy/latency come from the target's runtime on this CPU.
                     "device": target.device, "device_run": target.device_here,
                     "gate": dict(target.gate)}  # schema 1.2: views and the gate read thresholds from here
        try:
            ref = self._reference(target.float_reference) if target.float_reference else None
            built = self._build_once(target)
            path = built["artifact"]
            row.update(artifact=str(path), size_bytes=artifact_size(path), conversion=built["info"],
                       verification={"ok": not built["violations"], "violations": built["violations"]})
            if target.is_quantized and isinstance(built["info"].get("calibration"), dict):  # schema 1.3
                row["calibration"] = built["info"]["calibration"]
            if built["violations"]:
                more = len(built["violations"]) - 1
                raise TargetFailed(f"{target.name}: {built['violations'][0]}" + (f" (and {more} more)" if more else ""))
            fb = self.fallback
            if ref is not None and fb is not None and (fb.max_drop is not None or fb.min_agreement is not None):
                # --max-drop / --min-agreement: the plan found replaces the artifact before it is measured
                from edge_inception.diagnose.convert_steps import meet_target_budget

                ref_rt = get_runtime(ref["target"].runtime).load(ref["artifact"], threads=self.threads)
                built, fallback = meet_target_budget(self, target, built, ref_rt)
                if fallback is not None:
                    row["fallback"] = fallback
                    row.update(size_bytes=artifact_size(path))
                    if "verification" in fallback:
                        row["verification"] = fallback["verification"]
                        if fallback["verification"]["violations"]:
                            raise TargetFailed(f"{target.name} with its fallback plan: "
                                               f"{fallback['verification']['violations'][0]}")
            session = get_runtime(target.runtime).load(path, threads=self.threads)
            if ref is not None:
                ref_path = ref["artifact"]
                ref_session = get_runtime(ref["target"].runtime).load(ref_path, threads=self.threads)
                row["reference"] = {"target": ref["target"].name, "artifact": str(ref_path),
                                    "size_bytes": artifact_size(ref_path)}
                row["size_ratio"] = row["reference"]["size_bytes"] / row["size_bytes"]
            else:
                if self._source_session is None:
                    self._source_session = source_session(self.lm)
                ref_session = self._source_session
                row["reference"] = {"target": f"source ({self.lm.kind})", "artifact": self.lm.source}
            row["engine"] = session.facts
            if self.eval_src is not None:
                row["accuracy"] = self._accuracy(target, row["reference"]["target"], ref_session, session)
            if self.compare_ptq and target.is_quantized:
                row["ptq"] = self._ptq(target, row["reference"]["target"], ref_session)
            if time_it:
                self.time_row(row, target)
        except TargetFailed as e:
            row.update(status="failed", message=e.message)
        return row

    def time_row(self, row: dict, target) -> None:
        """Add the latency of the row's artifact, interleaved with its reference, and the notes that
        depend on it. ``convert --jobs N`` converts targets side by side and times them here afterwards,
        one at a time, so no conversion shares the CPU with a timed run."""
        from edge_inception.evaluation.latency import int8_speed_notes, paired_latency
        from edge_inception.models.reference import source_session
        from edge_inception.runtimes import get_runtime
        from edge_inception.targets import get_target

        x = self._latency_input()
        # Timed on freshly loaded sessions, both in the same state: an interpreter resized for the
        # evaluation batches and back can time differently from one that never was (LiteRT).
        lat_session = get_runtime(target.runtime).load(row["artifact"], threads=self.threads)
        if target.float_reference:
            lat_ref = get_runtime(get_target(target.float_reference).runtime).load(row["reference"]["artifact"],
                                                                                    threads=self.threads)
        else:
            if self._source_session is None:
                self._source_session = source_session(self.lm)
            lat_ref = self._source_session
        row["latency"] = {"threads": self.threads, **paired_latency(lat_ref, lat_session, x, runs=self.latency_runs)}
        row["notes"] = int8_speed_notes(row["latency"]["ratio"], quantized=target.is_quantized)
        if not target.device_here:
            row["measured_on"] = f"{target.runtime} on this machine's CPU, not {target.device_description}"
            row["notes"].append(f"checked statically; not run on {target.device_description}: accuracy and "
                                f"latency are from {target.runtime} on this machine's CPU")

    def _accuracy(self, target, ref_name: str, ref_session, session) -> dict:
        """Evaluate the candidate; a reference shared by several targets is evaluated only once."""
        from edge_inception.evaluation.accuracy import accuracy_summary, predict

        sessions = {"cand": session} if ref_name in self._reference_outputs else {"ref": ref_session, "cand": session}
        logits, labels, self.eval_fingerprint = predict(sessions, self.eval_src, self.lm.spec,
                                                        description=f"{target.name}: evaluating")
        if "ref" in logits:
            self._reference_outputs[ref_name] = (logits["ref"], labels)
        ref_logits, labels = self._reference_outputs[ref_name]
        return accuracy_summary(ref_logits, logits["cand"], labels)

    def _ptq(self, target, ref_name: str, ref_session) -> dict:
        """The same target by post-training quantization, on the same evaluation images (--compare-ptq);
        its failure is reported there and does not fail the QAT row."""
        from edge_inception.formats import artifact_size
        from edge_inception.runtimes import get_runtime

        try:
            built = self._build(target, ptq=True)
            path = built["artifact"]
            if built["violations"]:
                raise TargetFailed(f"PTQ {target.name}: {built['violations'][0]}")
            result = {"status": "ok", "artifact": str(path), "size_bytes": artifact_size(path),
                      "conversion": built["info"]}
            if self.eval_src is not None:
                session = get_runtime(target.runtime).load(path, threads=self.threads)
                result["accuracy"] = self._accuracy(target, ref_name, ref_session, session)
            return result
        except TargetFailed as e:
            return {"status": "failed", "message": e.message}

    def _latency_input(self):
        src = self.eval_src or (self.calib.source if self.calib else None)
        if src is None:
            import numpy as np

            # Latency only needs the right shape; accuracy is never measured on this.
            return self.lm.spec.to_model_layout(
                np.random.default_rng(0).random((1, *self.lm.spec.input_shape), dtype=np.float32))
        images, _ = next(iter(src.batches(1)))
        return self.lm.spec.model_input(images)


def _report(lm, ctx: _Context, rows: list[dict]) -> dict:
    from edge_inception._core.host import host_facts

    return {
        "schema_version": REPORT_SCHEMA_VERSION,
        "kind": "convert",
        "tool": {"name": "edge-inception", "version": __version__},
        "created": _dt.datetime.now(_dt.UTC).isoformat(timespec="seconds"),
        "model": lm.to_dict(),
        "host": host_facts(),
        "data": {
            "calibration": ctx.calib.to_dict() if ctx.calib else None,
            "evaluation": {"source": ctx.eval_src.name, "samples": len(ctx.eval_src),
                           "fingerprint": getattr(ctx, "eval_fingerprint", None)} if ctx.eval_src else None,
        },
        "settings": {"threads": ctx.threads, "latency_runs": ctx.latency_runs,
                     "method": "qat" if ctx.qat is not None else "ptq",
                     **({"qat": ctx.qat.info} if ctx.qat is not None else {})},
        "status": "ok" if all(r["status"] == "ok" for r in rows) else "failed",
        "targets": rows,
    }
