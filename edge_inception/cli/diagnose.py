"""`edge-inception diagnose`: where an int8 artifact loses accuracy, layer by layer, against its source."""

from __future__ import annotations

import json

import click

from edge_inception.cli import _options

EPILOG = """\b
Examples:
  edge-inception diagnose out/inception-mini.tflite-int8.tflite
  edge-inception diagnose out/m.tflite-int8.tflite out/m.onnx-int8.onnx out/m.openvino-int8.xml \\
      --reference model.keras --data fashion-mnist --samples 200 --out diag/
  edge-inception diagnose out/m.onnx-int8.onnx --reference out/m.onnx-fp32.onnx --data test.npz
  edge-inception diagnose out/net.openvino-int8.xml --reference nets.py:make_net --framework torch \\
      --weights net.pt --input-shape 3,224,224 --data images/
"""


@click.command("diagnose", epilog=EPILOG)
@click.argument("artifacts", nargs=-1, required=True, type=click.Path(dir_okay=False))
@click.option("--reference", help="What the artifacts are compared with: the float source model (a .keras/.h5 file "
              "or a zoo name; default: the zoo model an edge-inception artifact names) or a float artifact of the "
              "same format (the run's *-fp32 .tflite/.onnx/.xml), whose tensor names then key the table.")
@click.option("--data", help="Images: a folder, a .npz, 'fashion-mnist' or 'sample' (default for zoo models: the "
              "shipped sample).")
@click.option("--samples", type=click.IntRange(min=1), default=100, show_default=True, help="Images to compare on.")
@click.option("--top", type=click.IntRange(min=1), default=15, show_default=True, help="Rows in the table.")
@click.option("--out", type=click.Path(file_okay=False), help="Write diagnose.json and diagnose.html here.")
@click.option("--weights", type=click.Path(dir_okay=False),
              help="PyTorch state_dict for a factory --reference (file.py:function).")
@click.option("--input-shape", callback=_options.parse_shape,
              help="Input shape C,H,W of a PyTorch factory --reference.")
@_options.force
@_options.threads
@_options.framework
@_options.trust_remote_code
@_options.json_out
def command(artifacts, reference, data, samples, top, out, weights, input_shape, force, threads, framework,
            trust_remote_code, as_json):
    """Compare every quantized tensor of each ARTIFACT with the float source model on the same images:
    local error (the layer fed float input) and accumulated error, keyed by source layer, Inception
    module and branch; ranked worst first, with Inception-specific findings."""
    from edge_inception.diagnose import diagnose
    from edge_inception.diagnose.render import print_diagnose_table

    result = diagnose(list(artifacts), reference=reference, data=data, samples=samples, out=out, force=force,
                      threads=threads, framework=framework, trust_remote_code=trust_remote_code, weights=weights,
                      input_shape=input_shape)
    if as_json:
        click.echo(json.dumps(result, indent=1))
    else:
        print_diagnose_table(result, top=top)
