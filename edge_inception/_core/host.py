"""Facts about the CPU that results depend on: model name, cores and the ISA flags that decide
whether int8 kernels are fast (AVX-512 VNNI, AVX-VNNI, AMX, ARM dot product) or merely small.

    host_facts()  # {'cpu': 'AMD EPYC ...', 'cores': 2, 'isa': {'avx2': True, 'vnni': False, ...}}
    describe_cpu("Apple M1", "arm64", {"asimd", "asimddp"})["isa"]["dotprod"]   # True

The raw feature flags come from archspec (the library Spack and conda use), which reads them portably:
/proc/cpuinfo on Linux, sysctl on macOS, cpuid on Windows, with Linux's flag names everywhere. Where
archspec cannot tell, /proc/cpuinfo is read directly; a CPU with no known flags gets every flag False,
and the ISA-dependent choices then take their safe defaults.
"""

from __future__ import annotations

import functools
import os
import platform
from pathlib import Path

# Our name -> the flag names (Linux spelling, as archspec reports them) that mean it.
_FLAGS = {
    "sse4_2": ("sse4_2",),
    "avx2": ("avx2",),
    "fma": ("fma",),
    "avx512f": ("avx512f",),
    "avx512_vnni": ("avx512_vnni",),
    "avx_vnni": ("avx_vnni",),
    "amx": ("amx_tile", "amx_int8"),
    "neon": ("asimd", "neon"),
    "dotprod": ("asimddp",),
}


def describe_cpu(cpu: str, machine: str, flags: set[str] | frozenset[str]) -> dict:
    """The ISA summary for a CPU described by its name, architecture and raw feature flags."""
    isa = {name: any(f in flags for f in names) for name, names in _FLAGS.items()}
    isa["vnni"] = isa["avx512_vnni"] or isa["avx_vnni"] or isa["amx"]
    if machine.lower() in ("arm64", "aarch64") and not isa["neon"]:
        isa["neon"] = True  # AArch64 mandates Advanced SIMD (NEON)
    return {"cpu": cpu, "machine": machine, "isa": isa}


def _from_archspec() -> tuple[str, set[str]] | None:
    try:
        from archspec.cpu import detect

        info = detect.detected_info()
        return detect.brand_string() or "", set(info.features)
    except Exception:  # noqa: BLE001 - an unknown platform or a missing tool: fall back to /proc/cpuinfo
        return None


def _from_proc_cpuinfo() -> tuple[str, set[str]]:
    cpu, flags = "", set()
    info = Path("/proc/cpuinfo")
    if info.exists():
        for line in info.read_text(errors="replace").splitlines():
            key, _, val = line.partition(":")
            key = key.strip()
            if key in ("model name", "Model", "Hardware") and not cpu:
                cpu = val.strip()
            elif key in ("flags", "Features") and not flags:
                flags = set(val.split())
    return cpu, flags


@functools.cache
def host_facts() -> dict:
    found = _from_archspec()
    cpu, flags = found if found and found[1] else _from_proc_cpuinfo()
    if not cpu:
        cpu = _from_proc_cpuinfo()[0] or platform.processor() or platform.machine()
    return {
        **describe_cpu(cpu, platform.machine(), flags),
        "cores": len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count(),
        "os": platform.platform(),
        "python": platform.python_version(),
    }
