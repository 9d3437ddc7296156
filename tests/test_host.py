"""Host ISA facts are read portably, and the ISA-dependent int8 choices follow them: checked on the CPU
descriptions archspec ships (its microarchitecture database), not only on the machine running the test."""

from __future__ import annotations

import archspec.cpu
import pytest

from edge_inception._core.host import describe_cpu, host_facts
from edge_inception.quantizers.nncf_ptq import choose_overflow_fix
from edge_inception.quantizers.ort_ptq import choose_ort_types


def _isa(uarch: str, machine: str) -> dict:
    return describe_cpu(uarch, machine, archspec.cpu.TARGETS[uarch].features)["isa"]


@pytest.mark.parametrize(("uarch", "machine", "ort", "overflow"), [
    ("m1", "arm64", ("int8", "int8"), "first_layer"),            # Apple silicon (macOS reports arm64)
    ("neoverse_n1", "aarch64", ("int8", "int8"), "first_layer"),  # AWS Graviton 2
    ("zen", "x86_64", ("uint8", "uint8"), "enable"),             # AVX2, no VNNI
    ("icelake", "x86_64", ("uint8", "int8"), "first_layer"),      # AVX-512 VNNI
    ("zen4", "x86_64", ("uint8", "int8"), "first_layer"),
])
def test_auto_choices_follow_the_described_cpu(uarch, machine, ort, overflow):
    isa = _isa(uarch, machine)
    assert isa["vnni"] == (uarch in ("icelake", "zen4"))
    assert isa["dotprod"] == (machine != "x86_64")
    assert choose_ort_types(isa, "auto", "auto")[:2] == ort
    assert choose_overflow_fix("auto", isa)[0] == overflow


def test_host_facts_name_this_cpu():
    facts = host_facts()
    assert facts["cpu"] and facts["cores"] >= 1
    assert set(facts["isa"]) >= {"avx2", "avx512f", "avx512_vnni", "avx_vnni", "amx", "vnni", "neon", "dotprod"}
    if facts["machine"] in ("x86_64", "AMD64"):
        assert facts["isa"]["sse4_2"] and not facts["isa"]["neon"]
