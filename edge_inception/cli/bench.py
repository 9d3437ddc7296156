"""`edge-inception bench`: latency, throughput, load time, memory and size of existing artifacts."""

from __future__ import annotations

import json

import click

from edge_inception.cli import _options

EPILOG = """\b
Examples:
  edge-inception bench out/inception-mini.tflite-int8.tflite --reference out/inception-mini.tflite-fp32.tflite
  edge-inception bench out/*.xml --threads 4 --batch 8
  edge-inception bench model.onnx --runs 500
  edge-inception bench model.onnx --min-time 30 --precision 0.005
  edge-inception bench out/m.tflite-int8.tflite --reference out/m.tflite-fp32.tflite --device ssh://pi@raspberrypi.local
  edge-inception bench out/m.openvino-int8.xml --device lab-box --native
"""


@click.command("bench", epilog=EPILOG)
@click.argument("artifacts", nargs=-1, required=True)
@click.option("--reference", help="Float artifact (or zoo model) to interleave with each ARTIFACT (A B A B); "
              "the ratio and its 95% interval come from the per-pair ratios.")
@click.option("--batch", type=click.IntRange(min=1), default=1, show_default=True, help="Images per inference.")
@click.option("--runs", type=click.IntRange(min=1),
              help="Time exactly this many runs (default: adaptive, see --precision).")
@click.option("--min-time", type=click.FloatRange(min=0), default=0.0, show_default=True,
              help="Keep timing at least this many seconds before the precision rule may stop.")
@click.option("--max-time", type=click.FloatRange(min=0.1), default=60.0, show_default=True,
              help="Stop after this many seconds of timed runs (or 1,000 runs).")
@click.option("--precision", type=click.FloatRange(min=0.0001, max=0.5), default=0.01, show_default=True,
              help="Stop once the median's 95% interval is within ± this fraction of it (0.01 = ±1%).")
@click.option("--warmup", type=click.IntRange(min=0), default=5, show_default=True, help="Untimed runs first.")
@click.option("--data", help="Time on real images from here instead of random pixels (latency needs only the shape).")
@_options.device
@click.option("--native", is_flag=True, help="With --device: also run the engine's own benchmark tool there "
              "(OpenVINO benchmark_app; a declared benchmark_model for .tflite) as a cross-check.")
@_options.accept_new_host_key
@_options.preprocessing
@_options.runtime
@_options.framework
@_options.threads
@click.option("--out", type=click.Path(file_okay=False), help="Write bench.json, bench.md and bench.html here.")
@_options.force
@_options.trust_remote_code
@_options.json_out
def command(artifacts, reference, batch, runs, min_time, max_time, precision, warmup, data, device, native,
            accept_new_host_key, preprocessing, runtime, framework, threads, out, force, trust_remote_code, as_json):
    """Warm up, then time each ARTIFACT until its median latency is known to --precision: p50, p90, p99,
    mean and std per inference, throughput at --batch, load + first-inference time, process memory and
    file size. Threads are pinned for every runtime alike.

    With --device the artifacts are timed on that device by edge-inception's runner (or, on adb, by
    LiteRT's benchmark_model) and the statistics are computed here, as for a local run; see
    docs/devices.md."""
    from edge_inception.measure import benchmark

    if native and not device:
        raise click.UsageError("--native applies with --device")
    from edge_inception.report.table import print_bench_table

    report = benchmark(list(artifacts), reference=reference, framework=framework, threads=threads, batch=batch,
                       runs=runs, min_time=min_time, max_time=max_time, precision=precision, warmup=warmup,
                       data=data, preprocessing=preprocessing, runtime=runtime, out=out, force=force,
                       device=device, native=native, accept_new_host_key=accept_new_host_key,
                       trust_remote_code=trust_remote_code)
    if as_json:
        click.echo(json.dumps(report, indent=2))
    else:
        print_bench_table(report)
