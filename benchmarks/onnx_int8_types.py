"""Which 8-bit types should onnx-int8 use on this CPU? S8S8, U8S8 and U8U8 side by side.

    python benchmarks/onnx_int8_types.py                       # inception-mini, Keras
    python benchmarks/onnx_int8_types.py --framework torch --latency-runs 300

Writes three copies of the shipped onnx-int8 profile with ``activations``/``weights`` set, converts
the model to all three in one run (same calibration, interleaved latency against the same float
reference) and prints the table; compare with what 'auto' picks here (``conversion.isa_reason``).
"""

from __future__ import annotations

import argparse
import tempfile
from pathlib import Path

PAIRS = {"s8s8": ("int8", "int8"), "u8s8": ("uint8", "int8"), "u8u8": ("uint8", "uint8")}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--model", default="inception-mini")
    ap.add_argument("--framework", default="keras")
    ap.add_argument("--eval-data", default="fashion-mnist")
    ap.add_argument("--latency-runs", type=int, default=300)
    args = ap.parse_args()

    import edge_inception
    from edge_inception._core.host import host_facts
    from edge_inception.quantizers.ort_ptq import choose_ort_types
    from edge_inception.report.table import print_convert_table

    shipped = Path(edge_inception.__file__).parent / "targets" / "onnx-int8.toml"
    with tempfile.TemporaryDirectory(prefix="onnx-int8-types-") as tmp:
        files = []
        for name, (act, wt) in PAIRS.items():
            text = shipped.read_text().replace('name = "onnx-int8"', f'name = "onnx-int8-{name}"')
            lines = [f'activations = "{act}"' if line.startswith("activations =") else
                     f'weights = "{wt}"' if line.startswith("weights =") else line for line in text.splitlines()]
            files.append(Path(tmp) / f"{name}.toml")
            files[-1].write_text("\n".join(lines) + "\n")
        report = edge_inception.convert(args.model, framework=args.framework, targets=[], target_files=files,
                                        eval_data=args.eval_data, latency_runs=args.latency_runs,
                                        out=Path(tmp) / "out")
        print_convert_table(report)
    act, wt, reason = choose_ort_types(host_facts()["isa"], "auto", "auto")
    print(f"onnx-int8 'auto' here: activations {act}, weights {wt} ({reason})")


if __name__ == "__main__":
    main()
