"""The writer: a lowered program's response as JSON bytes, formatted straight from its arrays."""
from __future__ import annotations

import re
from bisect import bisect_left as _bisect

import numpy as np
import orjson

from engine import _backend as B
from engine.printing import FIXED_RANGE, format_tensor, tensor_repr
from engine.printing_fast import decade_table
from engine.program.respond import document, encode, tensor_doc
from engine.program.wire import _SUM_CHECK_MAX, encode_array, wire_number


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
    """row(arr) of a vector row (rep: printing.tensor_repr's, of its shape and dtype) from one list of its values:
    (dumps(encode_array(arr)), key, args), where the repr prints in the response's text: key its '%' format
    (JSON-escaped bytes: the text's format in a JSON string) and args its numbers; or, where it does not (a value
    not finite, a text small_float_repr declines, another shape or dtype), key None and args (rep(arr)'s JSON
    string's inside,). Where the values are all finite (their sum is), encode_array's list is that list.

    The common case, every value nonzero and below the first decade of the print options' precision (one
    integer digit each), not sci_mode and not every value whole, is decided here without the general
    statistics (printing_fast._float_spec): its decisions on those values, written out. There the width is
    (p + 2, or 1 for p = 0) + (a negative value), `one` follows from the width alone, and so does the whole
    format: the key of each of the two widths is the general route's, kept the first time it is seen."""
    layout_of_list, shape, dtype, dumps = rep.layout_of_list, rep.shape, rep.dtype, orjson.dumps
    escaped: dict = {}  # the repr's format -> its JSON-escaped bytes
    opts = getattr(rep, "opts", None)
    common = opts is not None and opts.sci_mode is None  # sci_mode set: the general route decides
    t0 = decade_table(opts.precision)[0] if common else 0.0  # the least value printed with two integer digits
    widths = [None, None]  # the common case's key, by (a negative value among them)

    def general(vals):
        fmt = layout_of_list(vals, True)
        if fmt is None:
            return None
        key = escaped.get(fmt)
        if key is None:
            if len(escaped) >= _TEMPLATES_MAX:
                escaped.clear()
            key = escaped[fmt] = dumps(fmt)[1:-1]
        return key

    def row(arr):
        if type(arr) is np.ndarray and arr.shape == shape and arr.dtype == dtype:
            vals = arr.tolist()
            total = sum(vals)
            if total - total == 0:  # every value finite (NaN - NaN and inf - inf are NaN)
                if common:  # _float_spec's statistics on a finite list, for its common case
                    s = sorted(vals)
                    lo, hi = s[0], s[-1]
                    if lo > 0:
                        amax, amin = hi, lo
                    elif hi < 0:
                        amax, amin = -lo, -hi
                    else:  # both signs, or a zero (amin 0.0: not the common case)
                        i = _bisect(s, 0.0)
                        amin, neg = s[i], -s[i - 1]
                        if neg < amin:
                            amin = neg
                        amax = hi if hi > -lo else -lo
                    # not sci (amax < t0 <= 1e8, amin >= 1e-4, the ratio), not int_mode (an extreme not whole)
                    if amax < t0 and amin >= 1e-4 and amax / amin <= 1000.0 and not (
                            hi.is_integer() and lo.is_integer()):
                        key = widths[lo < 0]
                        if key is None:
                            key = general(vals)
                            if key is None:  # (not reached: the general route prints these values)
                                return dumps(encode_array(arr)), None, (dumps(rep(arr))[1:-1],)
                            widths[lo < 0] = key
                        return dumps(vals), key, vals
                key = general(vals)
                if key is not None:
                    return dumps(vals), key, vals
        return dumps(encode_array(arr)), None, (dumps(rep(arr))[1:-1],)

    return row


def _grad_row(shape, dtype):
    """dumps(encode_array(g)) of a float vector gradient of `shape` (at most wire's _SUM_CHECK_MAX values) and
    `dtype`, its finite case written out (encode_array's own: the Python list, checked finite by its sum)."""
    dumps = orjson.dumps

    def grad(arr):
        if type(arr) is np.ndarray and arr.shape == shape and arr.dtype == dtype:
            vals = arr.tolist()
            total = sum(vals)
            if total - total == 0:
                return dumps(vals)
        return dumps(encode_array(arr))

    return grad


_TEMPLATES_MAX = 64  # a writer's texts kept, one per combination of its one-value reprs' choices


def _templates(head, segments):
    """template_of(key, kept): the response's '%' format for one combination of choices, kept in `kept`
    (bounded). key: a choice per one-value repr and vector repr that prints in the text, in the text's order: a
    one-value repr's 1 for its fixed-point format, 2 for its whole one (both in the text at the value's place),
    0 for its hole (rep's own text); a vector repr's format (JSON-escaped bytes, its numbers' holes in it), or
    None for its hole (its own text)."""

    def template_of(key, kept):
        out, at = [head], 0
        for kind, formats, hole, rest in segments:
            if kind == "inline":
                c = key[at]
                at += 1
                out.append(b'"' + formats[c - 1] + b'"' if c else hole)
            elif kind == "vector":
                c = key[at]
                at += 1
                out.append(hole if c is None else b'"' + c + b'"')
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
    vectors = {}  # a vector repr's hole: its choice's name (its format, or None for its own text in the hole)
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
                ns[f"F{i}"], ns[f"W{i}"] = inline[3 * i + 2][1]  # (read by batch_write.fast_writer)
            else:
                texts.append(f"rep{i}(v{i})")
                text_hole = ("texts", len(texts) - 1)
        else:
            # the row's repr with what its shape, dtype and suffixes decide made once (format_tensor's text)
            rep = ns[f"rep{i}"] = tensor_repr(tuple(shape), dn, suffixes)
            holes[3 * i] = ("arrays", len(arrays))
            if len(shape) == 1 and getattr(rep, "layout_of_list", None) is not None:
                # a vector's values read once, its repr's format in the response's text, its numbers in the
                # text's one '%' call (or, where it does not print so, its own text in its hole)
                ns[f"row{i}"] = _vector_row(rep)
                lines.append(f"    a{i}, k{i}, r{i} = row{i}(data[{i}])")
                arrays.append(f"a{i}")
                text_hole = ("vector", f"*r{i}")
                vectors[3 * i + 2] = f"k{i}"
            else:
                arrays.append(f"dumps(encode_array(data[{i}]))")
                texts.append(f"rep{i}(data[{i}])")
                text_hole = ("texts", len(texts) - 1)
            if g is not None:
                holes[3 * i + 1] = ("arrays", len(arrays))
                if len(shape) == 1 and shape[0] <= _SUM_CHECK_MAX and type(g) is np.ndarray and g.dtype.kind == "f":
                    ns[f"grad{i}"] = _grad_row(tuple(shape), g.dtype)
                    arrays.append(f"grad{i}(grads[{i}])")
                else:
                    arrays.append(f"dumps(encode_array(grads[{i}]))")
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
        refs.append(j if kind in ("inline", "vector") else f"{kind}[{j}]")
        hole, rest = (b'"%b"' if kind in ("texts", "inline", "vector") else b"%b"), piece.replace(b"%", b"%%")
        template += hole + rest
        choice, formats = inline.get(k, (None, None))
        if choice is None:
            choice = vectors.get(k)
        segments.append((kind if choice is not None else None, formats, hole, rest))
        if choice is not None:
            choices.append(choice)
    ns["TEMPLATE"] = template  # (the generic text: batch_write.fast_writer splits it at its holes)
    if choices:  # the text for each combination of the reprs' choices, made on first use; where all are
        # one-value reprs, the one where every value prints in fixed point with a fraction (the common case) now
        ns["TEMPLATES"], ns["template_of"] = {}, _templates(head, segments)
        if not vectors:
            ns["FIXED_TEMPLATE"] = ns["template_of"]((1,) * len(choices), {})
    if numbers:
        lines += [f"    numbers = dumps(({', '.join(numbers)},))",
                  "    if numbers.find(b'null') >= 0:  # orjson writes a non-finite float as null: protocol strings",
                  f"        numbers = dumps(tuple(map(wire, ({', '.join(numbers)},))))",
                  "    numbers = numbers[1:-1].split(b',')"]
    if arrays:
        lines.append(f"    arrays = ({', '.join(arrays)},)")
    if texts:  # ["t1","t2"], split at '","': a repr holds no quote (numbers, dtype and grad_fn names)
        lines.append(f"""    texts = dumps(({', '.join(texts)},))[2:-2].split(b'","')""")
    if choices:  # each value in fixed point or whole, and each vector's numbers, formatted by their formats in
        # the text: one '%' call
        key = f"({''.join(c + ', ' for c in choices)})"
        if not vectors:
            fixed_refs = [r if r not in inline_refs else inline_refs[r] for r in refs]
            lines += [f"    if {' == '.join(choices)} == 1:",
                      f"        return FIXED_TEMPLATE % ({''.join(r + ', ' for r in fixed_refs)})"]
        lines += [f"    TEMPLATE = TEMPLATES.get({key})",
                  "    if TEMPLATE is None:",
                  f"        TEMPLATE = template_of({key}, TEMPLATES)"]
    lines.append(f"    return TEMPLATE % ({''.join(r + ', ' for r in refs)})")
    source = "def write(data, grads):\n" + "\n".join(lines) + "\n"
    exec(compile(source, "<engine.program.writer>", "exec"), ns)  # noqa: S102 - our own generated source
    writer = Writer(ns["write"], source)
    if writer.write(data, grads) != encode(program._lowered_doc(data, grads)):
        return None
    return writer

