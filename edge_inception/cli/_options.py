"""Options shared by several commands, defined once."""

from __future__ import annotations

import click

threads = click.option("--threads", type=click.IntRange(min=1), default=2, show_default=True,
                       help="Threads for every runtime (float and int8 alike, so ratios compare like with like).")
out = click.option("--out", type=click.Path(file_okay=False), default="edge-inception-out", show_default=True,
                   help="Folder for artifacts and report.json.")
force = click.option("--force", is_flag=True, help="Overwrite existing artifacts and report in --out.")
framework = click.option("--framework", type=click.Choice(["keras", "torch"]), default="keras", show_default=True,
                         help="Which twin of a zoo model to use.")
json_out = click.option("--json", "as_json", is_flag=True, help="Print JSON instead of a table.")
preprocessing = click.option("--preprocessing", type=click.Choice(["unit", "inception", "imagenet", "raw"]),
                             help="Pixel scaling the model expects: unit [0,1], inception [-1,1], imagenet mean/std, "
                             "raw 0-255. Artifacts made by edge-inception carry theirs; this overrides it.")
trust_remote_code = click.option(
    "--trust-remote-code", is_flag=True,
    help="Let code inside the model file run while it loads (a Keras Lambda layer or custom class, a .pt2's "
    "pickled objects). Off by default, and such files are refused: use it only for files whose author you trust.")
runtime = click.option("--runtime", type=click.Choice(["litert", "onnxruntime", "openvino", "keras", "torch"]),
                       help="Insist on one runtime (default: chosen from the file).")


def parse_shape(ctx, param, value):
    """--input-shape C,H,W (or CxHxW) -> a tuple of ints."""
    if value is None:
        return None
    try:
        return tuple(int(v) for v in value.replace("x", ",").split(","))
    except ValueError:
        raise click.BadParameter("write it as C,H,W, e.g. 3,299,299") from None


# Measuring on a device (edge_inception/devices): bench, eval and convert take these alike.
device = click.option("--device", help="Measure on a device: ssh://user@host[:port], adb[:SERIAL], local, or a NAME "
                      "declared under [devices.NAME] in edge-inception.toml (see `edge-inception devices`).")
accept_new_host_key = click.option("--accept-new-host-key", is_flag=True,
                                   help="SSH: trust a host key seen for the first time (accept-new); a CHANGED key "
                                   "is still refused.")
