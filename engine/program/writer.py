"""The writer: a lowered program's response as JSON bytes, formatted straight from its arrays."""
from __future__ import annotations

import re

import numpy as np
import orjson

from engine import _backend as B
from engine.printing import FIXED_RANGE, format_tensor, tensor_repr
from engine.program.respond import document, encode, tensor_doc
from engine.program.wire import encode_array, wire_number


class Writer:
    """A lowered program's response written as JSON bytes straight from its arrays: what structure decides
    (keys, shapes, dtypes, flags, grad_fn names, the graph) is orjson's own text of the document, made once
    with placeholders; per request a generated straight-line function (`source`) formats the values,
    grads and reprs into its holes, the numbers in one orjson call and the reprs in another. It gives
    orjson's text of _lowered_doc's document byte for byte (make_writer checks that before it is kept, and
    lowered_checked again at other values)."""

    __slots__ = ("write", "source")

    def __init__(self, write, source):
        self.write = write  # write(data, grads) -> bytes: the lowered function's output in, the response out
        self.source = source


_LO, _HI = FIXED_RANGE
_HOLE = re.compile(rb'"\xee\x80\x80([0-9]+)\xee\x80\x81"')  # "\ue000<k>\ue001", placeholders k


def _vector_row(rep):
    """(dumps(encode_array(arr)), rep(arr)) of a vector row (rep: printing.tensor_repr's, of its shape and dtype)
    from one list of its values: where they are all finite (their sum is), encode_array's list is that list."""
    of_list, shape, dtype, dumps = rep.of_list, rep.shape, rep.dtype, orjson.dumps

    def row(arr):
        if type(arr) is np.ndarray and arr.shape == shape and arr.dtype == dtype:
            vals = arr.tolist()
            total = sum(vals)
            if total - total == 0:  # every value finite (NaN - NaN and inf - inf are NaN)
                text = of_list(vals, True)
                if text is not None:
                    return dumps(vals), text
        return dumps(encode_array(arr)), rep(arr)

    return row


_TEMPLATES_MAX = 64  # a writer's texts kept, one per combination of its one-value reprs' choices


def _templates(head, segments):
    """template_of(key, kept): the response's '%' format for one combination of choices (key: per one-value
    repr in the text's order, 1 its fixed-point format, 2 its whole one, both in the text at the value's place;
    0 its hole, for rep's own text), kept in `kept` (bounded)."""

    def template_of(key, kept):
        out, at = [head], 0
        for formats, hole, rest in segments:
            if formats is not None:
                c = key[at]
                at += 1
                out.append(b'"' + formats[c - 1] + b'"' if c else hole)
            else:
                out.append(hole)
            out.append(rest)
        if len(kept) >= _TEMPLATES_MAX:
            kept.clear()
        text = kept[key] = b"".join(out)
        return text

    return template_of


def make_writer(program, data, grads):
    """The Writer of a lowered program whose response is JSON, None where its text cannot be templated.
    data, grads: the lowered function's output on some values, which the writer must reproduce."""
    low = program.lowered
    if program.respond[2] != "json" or B.xp is not np:
        return None
    rows, nodes = program.fixed
    # the holes, each a Python expression of the generated function, in the order of the document's text
    numbers, arrays, texts, tensors, holes = [], [], [], {}, {}
    inline = {}  # a one-value repr's hole: (its choice's name, its row's (fixed-point format, whole format))
    inline_refs = {}  # a one-value repr's argument -> the value's name (where it prints by its format)
    ns = {"dumps": orjson.dumps, "wire": wire_number, "encode_array": encode_array,
          "format_tensor": format_tensor}
    lines = []
    for i, ((n, shape, dn, rq, _cls, gf, rg, suffixes), rep, g) in enumerate(zip(rows, low.reprs, grads)):
        if rep is not None:  # one value: read once, for data and repr
            # a float's value by float(): .item() gives the same number at 5x the cost (258 vs 47 ns)
            read = "float({})" if data[i].dtype.kind == "f" else "{}.item()"
            lines.append(f"    v{i} = " + read.format(f"data[{i}]"))
            holes[3 * i] = ("numbers", len(numbers))
            numbers.append(f"v{i}")
            if g is not None:
                lines.append(f"    w{i} = " + read.format(f"grads[{i}]"))
                holes[3 * i + 1] = ("numbers", len(numbers))
                numbers.append(f"w{i}")
            ns[f"rep{i}"] = rep
            fixed = getattr(rep, "fixed", None)  # printing.value_repr's fixed-point formats, if it has them
            if fixed is not None and all(orjson.dumps(f)[1:-1] == f.encode() for f in fixed):
                # rep_fixed's own choice, written out here: its formats are bytes needing no JSON escape,
                # formatted straight into the text (no call, no list of texts); elsewhere its own call
                # (the choice: c = 1 fixed, 2 whole, 0 neither: rep's own text) with the formats in the template
                lines.append(f"    c{i} = (1 if v{i} % 1 else 2) if {_LO!r} <= abs(v{i}) <= {_HI!r} else 0")
                text_hole = ("inline", f"v{i} if c{i} else dumps(rep{i}(v{i}))[1:-1]")
                inline_refs[text_hole[1]] = f"v{i}"
                inline[3 * i + 2] = (f"c{i}", tuple(f.encode() for f in fixed))
            else:
                texts.append(f"rep{i}(v{i})")
                text_hole = ("texts", len(texts) - 1)
        else:
            # the row's repr with what its shape, dtype and suffixes decide made once (format_tensor's text)
            rep = ns[f"rep{i}"] = tensor_repr(tuple(shape), dn, suffixes)
            holes[3 * i] = ("arrays", len(arrays))
            if len(shape) == 1 and getattr(rep, "of_list", None) is not None:  # a vector's values read once
                ns[f"row{i}"] = _vector_row(rep)
                lines.append(f"    a{i}, t{i} = row{i}(data[{i}])")
                arrays.append(f"a{i}")
                texts.append(f"t{i}")
            else:
                arrays.append(f"dumps(encode_array(data[{i}]))")
                texts.append(f"rep{i}(data[{i}])")
            if g is not None:
                holes[3 * i + 1] = ("arrays", len(arrays))
                arrays.append(f"dumps(encode_array(grads[{i}]))")
            text_hole = ("texts", len(texts) - 1)
        holes[3 * i + 2] = text_hole
        tensors[n] = tensor_doc(shape, dn, rq, gf, rg, f"\ue000{3 * i}\ue001",
                                 f"\ue000{3 * i + 1}\ue001" if g is not None else None, f"\ue000{3 * i + 2}\ue001")
    text = orjson.dumps(document(tensors, nodes, []))
    parts = _HOLE.split(text)  # text, k, text, k, ..., text
    found = [int(k) for k in parts[1::2]]
    if found != sorted(holes):
        return None  # a placeholder's text also in a name, say: no writer
    template = head = parts[0].replace(b"%", b"%%")
    refs, segments, choices = [], [], []
    for k, piece in zip(found, parts[2::2]):  # a repr's hole keeps its quotes: reprs come unquoted
        kind, j = holes[k]
        refs.append(j if kind == "inline" else f"{kind}[{j}]")
        hole, rest = (b'"%b"' if kind in ("texts", "inline") else b"%b"), piece.replace(b"%", b"%%")
        template += hole + rest
        choice, formats = inline.get(k, (None, None))
        segments.append((formats, hole, rest))
        if choice is not None:
            choices.append(choice)
    if inline:  # the text for each combination of the one-value reprs' choices, made on first use; the one
        # where every value prints in fixed point with a fraction (the common case) made now
        ns["TEMPLATES"], ns["template_of"] = {}, _templates(head, segments)
        ns["FIXED_TEMPLATE"] = ns["template_of"]((1,) * len(choices), {})
    else:
        ns["TEMPLATE"] = template
    if numbers:
        lines += [f"    numbers = dumps(({', '.join(numbers)},))",
                  "    if numbers.find(b'null') >= 0:  # orjson writes a non-finite float as null: protocol strings",
                  f"        numbers = dumps(tuple(map(wire, ({', '.join(numbers)},))))",
                  "    numbers = numbers[1:-1].split(b',')"]
    if arrays:
        lines.append(f"    arrays = ({', '.join(arrays)},)")
    if texts:  # ["t1","t2"], split at '","': a repr holds no quote (numbers, dtype and grad_fn names)
        lines.append(f"""    texts = dumps(({', '.join(texts)},))[2:-2].split(b'","')""")
    if inline:  # each value in fixed point or whole is formatted by its format in the text: one '%' call
        key = f"({''.join(c + ', ' for c in choices)})"
        fixed_refs = [r if r not in inline_refs else inline_refs[r] for r in refs]
        lines += [f"    if {' == '.join(choices)} == 1:",
                  f"        return FIXED_TEMPLATE % ({''.join(r + ', ' for r in fixed_refs)})",
                  f"    TEMPLATE = TEMPLATES.get({key})",
                  "    if TEMPLATE is None:",
                  f"        TEMPLATE = template_of({key}, TEMPLATES)"]
    lines.append(f"    return TEMPLATE % ({''.join(r + ', ' for r in refs)})")
    source = "def write(data, grads):\n" + "\n".join(lines) + "\n"
    exec(compile(source, "<engine.program.writer>", "exec"), ns)  # noqa: S102 - our own generated source
    writer = Writer(ns["write"], source)
    if writer.write(data, grads) != encode(program._lowered_doc(data, grads)):
        return None
    return writer

