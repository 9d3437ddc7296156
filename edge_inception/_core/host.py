"""Facts about the CPU that results depend on: model name, cores and the ISA flags that decide
whether int8 kernels are fast (AVX-512 VNNI, AVX-VNNI, AMX) or merely small.

    host_facts()  # {'cpu': 'AMD EPYC ...', 'cores': 2, 'isa': {'avx2': True, 'vnni': False, ...}}
"""

from __future__ import annotations

import functools
import os
import platform
from pathlib import Path

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


def isa_from_flags(flags) -> dict:
    """The ISA summary of a /proc/cpuinfo 'flags' (x86) or 'Features' (ARM) set; also used for a device's
    cpuinfo (devices/), so host and device are described alike."""
    flags = set(flags)
    isa = {name: any(f in flags for f in names) for name, names in _FLAGS.items()}
    isa["vnni"] = isa["avx512_vnni"] or isa["avx_vnni"] or isa["amx"]
    return isa


@functools.cache
def host_facts() -> dict:
    cpu, flags = platform.processor() or platform.machine(), set()
    info = Path("/proc/cpuinfo")
    if info.exists():
        for line in info.read_text(errors="replace").splitlines():
            key, _, val = line.partition(":")
            key = key.strip()
            if key in ("model name", "Model", "Hardware") and cpu in ("", platform.machine(), platform.processor()):
                cpu = val.strip()
            elif key in ("flags", "Features") and not flags:
                flags = set(val.split())
    isa = isa_from_flags(flags)
    return {
        "cpu": cpu,
        "machine": platform.machine(),
        "cores": len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count(),
        "isa": isa,
        "os": platform.platform(),
        "python": platform.python_version(),
    }
