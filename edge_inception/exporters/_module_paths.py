"""The user's module paths in a TFLite model converted from PyTorch by litert-torch.

    program = export_for_quantization(module, (example,))   # keeps the metadata PT2E's patterns read
    program = export_for_quantization(module, (example,), dynamic_shapes=({0: batch},))  # QAT's dynamic batch
    flatbuffer = with_module_paths(flatbuffer, module, outputs=output_modules(program))
    # tensor names -> 'block_a1.up', not class chains
    naming_the_layer("... aten.erfinv ...", program)   # "... aten.erfinv in layer 'head.act' ..."

litert-torch names each tensor after the torch.export ``nn_module_stack`` of the node that made it, as
``<root class>/<class>_<attr>/<class>_<attr>;N`` (backend/debuginfo/_build.py), whose root is
torch.export's internal ``_aot_export_non_strict.<locals>.Wrapper`` for the nodes export itself adds.
A verifier message built from such a name points at no module of the user's model. Walking the
user's module tree with the (class, attribute) pairs gives back the module path the user wrote
(``block.proj``); a tensor of the top level is named after the model's class.
"""

from __future__ import annotations


def export_for_quantization(model, args: tuple, **kwargs):
    """torch.export in strict mode where it succeeds, else non-strict (torch's default since 2.9).

    Strict export (TorchDynamo) records ``source_fn_stack`` on every node; non-strict export leaves it
    out. PT2EQuantizer's ``add``, ``add_relu``, ``mul`` and pooling annotators find their nodes through
    ``get_source_partitions``, which reads exactly that key: on a non-strict graph ``x + 0.3 * r`` is
    left unannotated and the residual add, the ReLU after it and the pooling behind it stay float
    (a DEQUANTIZE/ADD/QUANTIZE island that the full-integer check rightly refuses)."""
    import torch

    try:
        return torch.export.export(model, args, strict=True, **kwargs)
    except Exception:  # noqa: BLE001 - Dynamo refuses some Python; non-strict traces more, annotates less
        return torch.export.export(model, args, **kwargs)


def _class_name(cls) -> str:
    # the same spelling as litert_torch.backend.debuginfo._build._class_fullname
    return cls.__qualname__ if cls.__module__ == "builtins" else f"{cls.__module__}.{cls.__qualname__}"


def module_path(hierarchy: str, model) -> str | None:
    """'block.proj' for '__main__.Net/__main__.Block_block/torch.nn.modules.conv.Conv2d_proj'; the model's
    class name for a top-level tensor; None when ``hierarchy`` is not litert-torch's module chain."""
    segments = hierarchy.split("/")
    if not segments[0] or not all(segments):
        return None
    mod, path = model, []
    for seg in segments[1:]:
        for name, child in mod.named_children():
            if seg == f"{_class_name(type(child))}_{name}":
                mod = child
                path.append(name)
                break
        else:
            return None
    if path:
        return ".".join(path)
    root = segments[0]
    # the root is the user's class or torch.export's own Wrapper: both stand for the model itself
    return type(model).__name__ if (root == _class_name(type(model)) or "<locals>" in root) else None


def rename(name: str, model) -> str:
    """Each ';'-separated part of a (possibly fused) tensor name that is a module chain -> its path."""
    parts = name.split(";")
    out = [p if (q := module_path(p, model)) is None else q for p in parts]
    while len(out) > 1 and out[-1] == "" and parts[0] != out[0]:  # litert-torch ends each chain with ';'
        out.pop()
    return ";".join(out)


def output_modules(program) -> list[str]:
    """The module path of the node behind each output of an ExportedProgram ('' for the top level)."""
    (out,) = [n for n in program.graph.nodes if n.op == "output"]
    paths = []
    for node in out.args[0]:
        stack = getattr(node, "meta", {}).get("nn_module_stack") or {}
        paths.append(list(stack.values())[-1][0] if stack else "")
    return paths


def with_module_paths(flatbuffer: bytes, model, *, outputs: list[str] = ()) -> bytes:
    """The TFLite model with its tensors renamed after the user's module paths. The graph's I/O tensors
    keep their signature names; the converter names the tensor an output's producer writes after the
    signature too, so behind float I/O edges that inner tensor takes ``outputs[k]``, the module path."""
    import flatbuffers
    from ai_edge_litert import schema_py_generated as schema

    tfl = schema.ModelT.InitFromObj(schema.Model.GetRootAs(flatbuffer, 0))
    if any(b.offset for b in tfl.buffers or []):
        # Buffers stored after the flatbuffer (ai-edge-quantizer writes them so) are addressed by file
        # offset: re-packing with other names would move the flatbuffer's end and break every offset.
        return flatbuffer
    cache: dict[bytes, bytes] = {}
    for sg in tfl.subgraphs:
        for t in sg.tensors:
            if t.name and t.name not in cache:
                cache[t.name] = rename(t.name.decode(errors="replace"), model).encode()
            if t.name:
                t.name = cache[t.name]
    sg = tfl.subgraphs[0]
    for k, i in enumerate(int(i) for i in sg.outputs):
        edge = [op for op in sg.operators if list(op.outputs) == [i] and len(op.inputs) == 1]
        if k < len(outputs) and outputs[k] and edge:  # an I/O edge op (DEQUANTIZE, or QUANTIZE for uint8)
            sg.tensors[int(edge[0].inputs[0])].name = outputs[k].encode()
    builder = flatbuffers.Builder(len(flatbuffer) + 4096)
    builder.Finish(tfl.Pack(builder), file_identifier=b"TFL3")
    return bytes(builder.Output())


def naming_the_layer(message: str, program) -> str:
    """A converter failure that names an aten/prims operator, with the user's module that calls it
    (from ``nn_module_stack``, as the ONNX exporter's failures do) added after the operator."""
    import re

    from edge_inception.exporters._torch import _layer_of

    m = re.search(r"(?:torch\.ops\.)?(aten|prims)[.:]+(\w+)(?:\.\w+)?", message)  # with its overload
    if not m or " in layer '" in message:
        return message
    where = _layer_of(program, m.group(1), m.group(2))
    return f"{message[:m.end()]}{where}{message[m.end():]}" if where else message
