import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import numpy as np  # noqa: E402
import pytest  # noqa: E402

from edge_inception.cli import main  # noqa: E402


@pytest.fixture
def run_cli(capsys):
    """Run the CLI in-process; returns (exit code, stdout, stderr)."""

    def run(*argv: str):
        code = main(list(argv))
        out, err = capsys.readouterr()
        return code, out, err

    return run


@pytest.fixture(scope="session")
def sample_arrays():
    from edge_inception.data.readers import read_sample

    return {"calibration": read_sample("calibration"), "evaluation": read_sample("evaluation")}


def float_artifacts(folder, targets, *, model: str = "inception-mini") -> dict:
    """target name -> the float artifact of the zoo ``model`` for it, in ``folder``, with its ModelSpec
    embedded as convert writes it (the shipped inception-mini has trained weights)."""
    from edge_inception.exporters import export
    from edge_inception.formats import artifact_path, embed_spec
    from edge_inception.models.loader import load_model
    from edge_inception.targets import get_target

    lm, paths = load_model(model), {}
    for name in targets:
        t = get_target(name)
        dest = artifact_path(folder, f"{model}.{name}", t.format)
        export(lm, dest, target=t)
        embed_spec(dest, t.format, lm.spec)
        paths[name] = dest
    return paths


def write_pngs(folder, images, labels=None, class_names=None):
    from PIL import Image

    folder.mkdir(parents=True, exist_ok=True)
    for i, im in enumerate(images):
        sub = folder if labels is None else folder / (class_names[labels[i]] if class_names else str(labels[i]))
        sub.mkdir(exist_ok=True)
        Image.fromarray(np.asarray(im, np.uint8)).save(sub / f"{i:05d}.png")
    return folder


@pytest.fixture(scope="session")
def image_folders(tmp_path_factory, sample_arrays):
    """Real Fashion-MNIST images as PNG files: an unlabelled calibration folder, a labelled eval folder."""
    root = tmp_path_factory.mktemp("images")
    cx, _ = sample_arrays["calibration"]
    ex, ey = sample_arrays["evaluation"]
    return {
        "calibration": write_pngs(root / "calib", cx[:100]),
        "evaluation": write_pngs(root / "eval", ex[:300], ey[:300]),
    }


@pytest.fixture(scope="session")
def main_job(tmp_path_factory):
    """The README's main job, run once: convert the shipped model to tflite-int8. Returns (exit code, folder).

    CI runs exactly this from the shell first, as a user types it (.ci/run), and points
    EDGE_INCEPTION_MAIN_JOB_OUT at its folder; a folder is reused only when its report is that job's
    (the shipped model, tflite-int8 alone), else the tests convert."""
    import json
    import os
    from pathlib import Path

    given = os.environ.get("EDGE_INCEPTION_MAIN_JOB_OUT")
    if given and (Path(given) / "report.json").is_file():
        report = json.loads((Path(given) / "report.json").read_text())
        if [row["target"] for row in report["targets"]] == ["tflite-int8"] \
                and report["model"]["source"] == "zoo:inception-mini":
            return (0 if report["status"] == "ok" else 1), Path(given)
    out = tmp_path_factory.mktemp("main-job")
    code = main(["convert", "--target", "tflite-int8", "--out", str(out), "--force"])
    return code, out


def tiny_tf_keras_model(tmp_path, kind: str):
    """A small Inception-style tf_keras model (random weights: for loading and conversion checks, not
    accuracy) saved as 'h5' or 'saved_model', and a .npz of 20 calibration images. Returns both paths."""
    import tf_keras

    inp = tf_keras.Input((16, 16, 3))
    x = tf_keras.layers.Conv2D(8, 3, padding="same", activation="relu")(inp)
    a = tf_keras.layers.Conv2D(4, 1, activation="relu")(x)
    b = tf_keras.layers.Conv2D(4, 3, padding="same", activation="relu")(x)
    c = tf_keras.layers.MaxPooling2D(3, strides=1, padding="same")(x)
    c = tf_keras.layers.Conv2D(4, 1, activation="relu")(c)
    x = tf_keras.layers.GlobalAveragePooling2D()(tf_keras.layers.Concatenate()([a, b, c]))
    model = tf_keras.Model(inp, tf_keras.layers.Dense(5)(x))
    if kind == "h5":
        path = tmp_path / "tiny.h5"
        model.save(path)
    else:
        import tensorflow as tf

        path = tmp_path / "tiny_sm"
        tf.saved_model.save(model, str(path))
    rng = np.random.default_rng(0)
    np.savez(tmp_path / "calib.npz", images=rng.integers(0, 256, (20, 16, 16, 3), dtype=np.uint8))
    return path, tmp_path / "calib.npz"


@pytest.fixture(scope="session")
def every_target_job(tmp_path_factory):
    """The shipped model converted once to every shipped target profile (profile defaults for calibration,
    the shipped 2,000-image evaluation sample), so tests of formats, profiles, eval and bench share one run.
    Returns (exit code, output folder, {target: report row}).

    CI converts exactly this in its self-gating step (.ci/run) and points EDGE_INCEPTION_EVERY_TARGET_OUT at
    it; a folder is reused only when its report covers every shipped target, else the tests convert."""
    import json
    import os
    from pathlib import Path

    from edge_inception.targets import SHIPPED_DIR, load_target_file

    names = sorted(load_target_file(f).name for f in SHIPPED_DIR.glob("*.toml"))
    given = os.environ.get("EDGE_INCEPTION_EVERY_TARGET_OUT")
    if given and (Path(given) / "report.json").is_file():
        report = json.loads((Path(given) / "report.json").read_text())
        rows = {row["target"]: row for row in report["targets"]}
        if set(rows) == set(names) and report["model"]["source"] == "zoo:inception-mini":
            return (0 if report["status"] == "ok" else 1), Path(given), rows
    out = tmp_path_factory.mktemp("every-target")
    code = main(["convert", "--target", ",".join(names), "--out", str(out), "--force", "--latency-runs", "3"])
    report = json.loads((out / "report.json").read_text())
    return code, out, {row["target"]: row for row in report["targets"]}


# The slowest files first, so that under `pytest -n 2 --dist loadfile` (.ci/run) the two workers start on
# the long ones and finish together instead of one worker idling while the other runs a late heavy file
# (longest-first is the usual greedy schedule). Seconds from --durations on 2 cores as CI runs them (with the
# every-target and main-job conversions reused), longest first, so that only files of a few seconds are left
# for the end; the rest keep their order. pytest-xdist >= 3.6 reorders files by their number of tests unless told not to
# (pytest_configure below): that put the one-test full-size file last, with the other worker idle for minutes.
SLOW_FILES_FIRST = ("test_full_size.py", "test_sweep_ray.py", "test_torch_convert.py", "test_zoo_googlenet.py",
                    "test_qat.py", "test_convert.py", "test_measure.py", "test_sweep_cluster.py", "test_interrupt.py",
                    "test_onnx_export_memory.py", "test_zoo_inception_resnet.py", "test_devices_ssh.py",
                    "test_target_worker.py", "test_tflite_export_once.py", "test_diagnose.py", "test_diagnose_torch.py",
                    "test_profiles.py", "test_devices_native.py", "test_runtimes.py", "test_sweep_devices.py",
                    "test_gate.py", "test_openvino.py", "test_devices_config.py", "test_calibration_recipes.py",
                    "test_residual_int8.py", "test_untrusted_input.py", "test_packaging.py", "test_onnx.py")


def pytest_configure(config):
    """Keep SLOW_FILES_FIRST's order under xdist's loadfile/loadscope schedulers, which otherwise sort
    files by how many tests each holds (`--loadscope-reorder`, on by default)."""
    if hasattr(config.option, "loadscopereorder"):
        config.option.loadscopereorder = False


def pytest_collection_modifyitems(items):
    rank = {name: k for k, name in enumerate(SLOW_FILES_FIRST)}
    items.sort(key=lambda item: rank.get(item.path.name, len(rank)))  # stable: order within a file is kept


def as_from_a_terminal() -> None:
    """preexec_fn for a child a Ctrl-C test interrupts: SIGINT at its default and unblocked, as a shell
    starts a command. A child inherits both from the process that starts it, and in a pytest-xdist
    worker that has loaded native runtimes (Ray, OpenVINO, TensorFlow) SIGINT was once ignored at the
    kernel level (Python's own handler table still said otherwise), so the child never saw the signal."""
    import signal

    signal.pthread_sigmask(signal.SIG_UNBLOCK, {signal.SIGINT})
    signal.signal(signal.SIGINT, signal.SIG_DFL)


def _sigint_ignored_by_kernel() -> bool:
    """SIGINT's bit in /proc/self/status SigIgn: what the kernel does, whatever Python's table says."""
    try:
        with open("/proc/self/status") as f:
            line = next(ln for ln in f if ln.startswith("SigIgn:"))
    except (OSError, StopIteration):
        return False
    return bool(int(line.split()[1], 16) & (1 << (2 - 1)))


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_protocol(item, nextitem):
    """Every test (its fixtures' set-up and tear-down included) leaves SIGINT's handler and the main
    thread's signal mask as it found them, and a test that does not is named: the Ctrl-C tests start
    children that inherit both (an ignored or blocked SIGINT in the xdist worker made five of them time
    out in one CI run)."""
    import signal
    import warnings

    handler, mask = signal.getsignal(signal.SIGINT), signal.pthread_sigmask(signal.SIG_BLOCK, [])
    ignored = _sigint_ignored_by_kernel()
    yield
    now_handler, now_mask = signal.getsignal(signal.SIGINT), signal.pthread_sigmask(signal.SIG_BLOCK, [])
    if now_handler is not handler or now_mask != mask or _sigint_ignored_by_kernel() != ignored:
        signal.pthread_sigmask(signal.SIG_SETMASK, mask)
        if handler is not None:
            signal.signal(signal.SIGINT, handler)  # a sigaction: also undoes a native library's SIG_IGN
        warnings.warn(f"{item.nodeid} left SIGINT changed: handler {handler} -> {now_handler}, "
                      f"blocked {sorted(mask)} -> {sorted(now_mask)} (restored)", stacklevel=1)
        print(f"\nSIGINT changed by {item.nodeid}: {handler} -> {now_handler}, {sorted(mask)} -> {sorted(now_mask)}",
              flush=True)
