"""Properties of a model and of each of its blocks, as plain data and as rich tables (``inspect --properties``).

:func:`properties_report` infers every registered property (built-ins and plug-ins of the entry-point
group ``alphanas.properties``) for the whole graph and for every block that
:func:`alphanas.ir.blocks.find_blocks` finds; :func:`print_report` shows it for a person: per
(input, output) pair the shapes, the depth and the mixing matrix (rows: input axes, columns: output
axes), and a table with one row per block where each mixing matrix is written on one line.
"""

from __future__ import annotations

from typing import Any

from alphanas.properties.base import Property
from alphanas.properties.propset import PropertySet
from alphanas.properties.registry import registry

#: one character per :class:`~alphanas.properties.mixing.Mixing` level
SYMBOLS = ".1MA"
LEGEND = ("mixing: rows = input axes, columns = output axes; . none, 1 one-to-one, M many-to-one, A all-to-one; "
          "? unknown (a shape alphanas cannot infer: conservatively all-to-one)")


def _axis_names(rank: int) -> list[str]:
    if rank == 4:
        return ["N", "C", "H", "W"]
    if rank == 3:
        return ["N", "T", "D"]
    if rank == 2:
        return ["N", "F"]
    return [f"a{k}" for k in range(rank)]


def compact(matrix) -> str:
    """A mixing matrix on one line: one group per input axis, e.g. ``1...|AAAA|..M.|...M`` (``?``: unknown)."""
    if isinstance(matrix, str):
        return matrix
    return "|".join("".join(SYMBOLS[x] for x in row) for row in matrix)


def _entry(target, props: PropertySet) -> dict[str, Any]:
    return {"inputs": [{"name": v.name, "shape": None if v.shape is None else list(v.shape)} for v in target.inputs],
            "outputs": [{"name": v.name, "shape": None if v.shape is None else list(v.shape)} for v in target.outputs],
            "properties": props.to_json()}


def properties_report(graph, names: list[str] | None = None, blocks: bool = True) -> dict[str, Any]:
    """``{"properties": names, "model": entry, "blocks": [entry + name/kind/origin/nodes]}`` where an entry
    has the boundary (``inputs``, ``outputs`` with shapes) and ``properties``: ``{name: Property.to_json()}``."""
    names = list(registry()) if names is None else list(names)
    report: dict[str, Any] = {"properties": names, "model": _entry(graph, PropertySet.infer(graph, names))}
    if blocks:
        from alphanas.ir.blocks import find_blocks

        report["blocks"] = [{"name": b.name, "kind": b.kind, "origin": b.origin, "nodes": len(b.nodes),
                             **_entry(b.subgraph, PropertySet.infer(b.subgraph, names))}
                            for b in find_blocks(graph)]
    return report


def _pairs(entry) -> list[tuple[int, int]]:
    return [(i, j) for i in range(len(entry["inputs"])) for j in range(len(entry["outputs"]))]


def _matrix(entry, i, j):
    m = entry["properties"].get("mixing")
    return None if m is None else m["matrices"][i][j]


def _depth(entry, i, j):
    d = entry["properties"].get("depth")
    return None if d is None else d["depths"][i][j]


def _others(entry) -> list[str]:
    """``describe()`` of the properties without a dedicated column (plug-ins)."""
    reg = registry()
    out = []
    for name, value in entry["properties"].items():
        if name in ("shape", "depth", "mixing", "cost") or name not in reg:
            continue
        prop: Property = reg[name].from_json(value)
        out.append(prop.describe())
    return out


def _cost(entry) -> str:
    c = entry["properties"].get("cost")
    if c is None:
        return ""
    return f"{_count(c['params'])} params, {_count(c['macs'])} MACs"


def _shape(shape: list | None) -> str:
    """A shape as printed; ``?`` where it is unknown."""
    return "?" if shape is None else str(shape)


def _count(n: int | None) -> str:
    """A count with thousands separators; ``?`` where it is unknown (symbolic dimensions)."""
    return "?" if n is None else f"{n:,}"


def print_report(console, report: dict[str, Any]) -> None:
    """Print the report as rich tables."""
    from alphanas.table import Table

    model = report["model"]
    console.print(f"[bold]properties[/] ({', '.join(report['properties'])}); {LEGEND}")
    t = Table(title="whole model: per (input, output) pair", show_lines=True)
    for col in ("input", "output", "depth", "mixing"):
        t.add_column(col)
    for i, j in _pairs(model):
        vin, vout = model["inputs"][i], model["outputs"][j]
        m = _matrix(model, i, j)
        if m is None:
            mix = "independent" if "mixing" in model["properties"] else ""
        elif isinstance(m, str):
            mix = "? (unknown rank: every input axis may reach every output element)"
        else:
            cols = _axis_names(len(m[0]) if m else 0)
            rows = _axis_names(len(m))
            mix = "\n".join(["  " + " ".join(cols)] + [f"{r:<2}" + " ".join(SYMBOLS[x] for x in row)
                                                        for r, row in zip(rows, m)])
        d = _depth(model, i, j)
        t.add_row(f"{vin['name']} {_shape(vin['shape'])}", f"{vout['name']} {_shape(vout['shape'])}",
                  "" if d is None else str(d), mix)
    console.print(t)
    extra = [_cost(model)] + _others(model)
    for line in filter(None, extra):
        console.print(f"  {line}")
    if "blocks" not in report:
        return
    bt = Table(title=f"blocks ({len(report['blocks'])})")
    for col in ("block", "kind", "nodes", "input -> output shape", "depth", "mixing (per input axis)", "cost"):
        bt.add_column(col, overflow="fold")
    has_other = any(_others(b) for b in report["blocks"])
    if has_other:
        bt.add_column("other properties", overflow="fold")
    for b in report["blocks"]:
        shapes, depths, mixes = [], [], []
        for i, j in _pairs(b):
            m = _matrix(b, i, j)
            if m is None:
                continue
            shapes.append(f"{_shape(b['inputs'][i]['shape'])} -> {_shape(b['outputs'][j]['shape'])}")
            d = _depth(b, i, j)
            depths.append("" if d is None else str(d))
            mixes.append(compact(m))
        row = [b["name"], b["kind"], str(b["nodes"]), "\n".join(shapes), "\n".join(depths), "\n".join(mixes), _cost(b)]
        if has_other:
            row.append("\n".join(_others(b)))
        bt.add_row(*row)
    console.print(bt)
