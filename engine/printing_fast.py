"""A fast route to printing._tensor_str's text: formatter statistics at once, every number in one '%' call."""
from __future__ import annotations

import math
import struct
from bisect import bisect_left as _bisect
from bisect import bisect_right as _bisect_right

import numpy as np

__all__ = ["fast_tensor_str"]

# Below this many shown values the formatter's statistics run on the Python list (NumPy's per-call cost
# dominates there), from it on as NumPy reductions; both give printing._Formatter's decisions exactly.
NUMPY_STATS_FROM = 48
_HOLE = "\x00"  # a number's place in a layout (never in a layout's own text: brackets, commas, blanks, '...')
_LAYOUTS: dict = {}  # (shape, summarize, indent, width, linewidth, edgeitems, spec) -> the '%' format string
_LAYOUTS_MAX = 512
_LAYOUT_HOLES_MAX = 4096  # a layout with more numbers than this is built for the call and not kept
# int_mode's texts: a whole number with the '.' torch appends to a finite one, a non-finite one bare
_WHOLE, _WHOLE_DOT, _WHOLE_W, _WHOLE_DOT_W = "%.0f", "%.0f.", "%*.0f", "%*.0f."


def fast_tensor_str(arr: np.ndarray, indent: int, floating: bool, opts) -> str | None:
    """printing._tensor_str(arr, indent, floating, opts) for a non-empty array of at least one dimension,
    or None where this route does not apply (the caller then takes printing's port of torch's code)."""
    e = opts.edgeitems
    if arr.ndim == 0 or arr.size == 0 or e <= 0:
        return None  # edgeitems=0 prints '[...]' alone: rare, left to the port
    summarize = arr.size > opts.threshold
    shown = _summarized(arr, e) if summarize else arr
    flat = shown.reshape(-1)
    vals = flat.tolist()  # Python floats (each the exact double of its value), ints or bools, as torch's .item()
    kind = arr.dtype.kind
    if kind == "b":
        width = 4 if all(vals) else 5  # 'True', 'False'
        one, texts = f"%{width}s", None
    elif kind in "iu":
        width = max(len(str(max(vals))), len(str(min(vals))))
        one, texts = f"%{width}d", None
    else:
        width, one, texts = _float_spec(flat, vals, opts)
    fmt = _layout(shown.shape, arr.shape, summarize, indent, width, opts, one)
    return fmt % (tuple(vals) if texts is None else tuple(texts))


def _summarized(arr, e):
    """The values torch's formatter sees and prints when it summarizes: the first and last `e` of every axis
    longer than 2e (printing._get_summarized_data)."""
    for axis, size in enumerate(arr.shape):
        if size > 2 * e:
            lead = (slice(None),) * axis
            arr = np.concatenate((arr[(*lead, slice(0, e))], arr[(*lead, slice(size - e, size))]), axis=axis)
    return arr


def _float_spec(flat, vals, opts, finite=False, signed_zero_declines=False):
    """(width, one, texts) of printing._Formatter for these float values: `one` the '%' format of one number
    at its width, and texts None; or `one` '%<width>s' and texts every number already printed, where one
    format cannot print them all (int_mode with non-finite values: only the finite ones take a '.').
    `finite`: the caller knows every value is finite (below NUMPY_STATS_FROM values: no sum taken here).
    `signed_zero_declines` (below NUMPY_STATS_FROM values): a -0.0 among them gives texts () (small_float_repr's
    routes decline it), found where the zeros are looked for anyway."""
    p = opts.precision
    if len(vals) < NUMPY_STATS_FROM:
        if not finite:
            total = sum(vals)  # finite only where every value is (a NaN or an infinity makes it NaN or inf)
            finite = total - total == 0
        # every value finite: sorted (one C call) for the extremes, the smallest magnitude and the zeros
        s = sorted(vals) if finite else None
        if s is not None:
            lo, hi = s[0], s[-1]
            if lo > 0:
                amax, amin = hi, lo
            elif hi < 0:
                amax, amin = -lo, -hi
            else:  # lo <= 0 <= hi: a zero (-0.0 == 0.0) where 0.0 would go, else the smallest magnitude beside it
                i = _bisect(s, 0.0)
                pos = s[i]
                if pos == 0.0:
                    s = None
                else:
                    neg = -s[i - 1]
                    amax, amin = (hi if hi > -lo else -lo), (pos if pos < neg else neg)
        if s is not None:  # every value finite and nonzero: no filter
            nzf, all_finite = vals, True
        else:
            if signed_zero_declines and any(v == 0 and math.copysign(1.0, v) < 0 for v in vals):
                return 0, None, ()
            nzf = [v for v in vals if v and v - v == 0]  # nonzero and finite (inf - inf and nan - nan are nan)
            if not nzf:
                return _no_finite(vals)
            all_finite = len(nzf) == len(vals) or all(v - v == 0 for v in vals)
            s = sorted(nzf)  # (no NaN among them)
            lo, hi = s[0], s[-1]
            if lo > 0:
                amax, amin = hi, lo
            elif hi < 0:
                amax, amin = -lo, -hi
            else:  # both signs, no zero: the smallest magnitude is next to where 0.0 would go
                i = _bisect(s, 0.0)
                pos, neg = s[i], -s[i - 1]
                amax, amin = (hi if hi > -lo else -lo), (pos if pos < neg else neg)
        int_mode = None  # worked out where it decides (not in sci mode)
    else:
        # in the values' own dtype: abs, floor, min and max are exact there, and float() is the exact double
        # torch's tensor_totype compares
        absa = np.abs(flat)
        amax, amin = float(absa.max()), float(absa.min())  # NaN where any is (NumPy's max/min propagate it)
        if amax - amax == 0 and amin > 0:  # every value finite and nonzero: no mask (the common case)
            nz, all_finite = flat, True
        else:
            finite = np.isfinite(flat)
            all_finite = bool(finite.all())
            nz = flat[finite & (flat != 0)]
            if not nz.size:
                return _no_finite(vals)
            absnz = np.abs(nz)
            amax, amin = float(absnz.max()), float(absnz.min())
        int_mode = bool((np.floor(nz) == nz).all())
        hi, lo = float(nz.max()), float(nz.min())
    if opts.sci_mode is None:
        sci = amax > 1.0e8 or amin < 1.0e-4 or amax / amin > 1000.0  # no overflow: the first two rule it out
    else:
        sci = bool(opts.sci_mode)
    if sci:
        one = f"%.{p}e"
        if amin >= 1e-99:
            # two exponent digits at least, three from 1e100 on: the longest texts are the largest value's and
            # the most negative one's (any other holds no more sign or exponent digits)
            width = max(len(one % hi), len(one % lo))
        else:  # three-digit negative exponents at the small end too: every text counted
            nzl = nzf if len(vals) < NUMPY_STATS_FROM else nz.tolist()
            width = max(map(len, map(one.__mod__, nzl)))
        return width, f"%{width}.{p}e", None
    if int_mode is None:  # the extremes first: one of them not whole decides it (the common case)
        int_mode = hi.is_integer() and lo.is_integer() and all(map(float.is_integer, nzf))
    if int_mode:
        # a text's length grows with the magnitude (rounding is monotone), plus one for a sign: the largest
        # and the smallest value hold the longest texts; '+ 1' for the '.' torch appends
        t = _DECADES.get(0) or _decades(0)
        if amax < t[-1]:  # len('%.0f' % v) from the table: a sign, the integer digits
            width = (2 + _bisect_right(t, -lo) if lo < 0 else 1 + _bisect_right(t, lo)) + 1
            if hi > 0:
                width = max(width, 2 + _bisect_right(t, hi))
        else:
            width = max(len(_WHOLE % hi), len(_WHOLE % lo)) + 1
        if all_finite:
            return width, f"%{width - 1}.0f.", None
        return width, f"%{width}s", [(_WHOLE_DOT_W % (width - 1, v)) if v - v == 0 else (_WHOLE_W % (width, v))
                                for v in vals]
    # the longest text is the largest value's or the most negative one's; where all have one sign, that one's:
    # its length from the precision's decade table (a sign, the integer digits, the '.' and p decimals)
    t = _DECADES.get(p) or _decades(p)
    if amax < t[0]:  # one integer digit each (the common case): no search
        width = (p + 2 if p else 1) + (lo < 0)
    elif amax < t[-1]:
        tail = p + 2 if p else 1  # the '.' and p decimals, plus the first integer digit
        if lo > 0:
            width = tail + _bisect_right(t, hi)
        else:
            width = tail + 1 + _bisect_right(t, -lo)
            if hi > 0:
                width = max(width, tail + _bisect_right(t, hi))
    else:  # past the table: the texts themselves
        one = _FIXED.get(p) or _kept(_FIXED, p, f"%.{p}f")
        width = len(one % hi) if lo > 0 else len(one % lo) if hi < 0 else max(len(one % hi), len(one % lo))
    return width, _FIXED_WIDTH.get((width, p)) or _kept(_FIXED_WIDTH, (width, p), f"%{width}.{p}f"), None


_DECADES: dict = {}  # precision -> its decade table (_decade_table)
_DECADES_TOP = 15  # a table's thresholds: 10 .. 1e15 (past it, a value's text is measured by printing it)
_DOUBLE = struct.Struct("<d")
_BITS = struct.Struct("<q")


def _decades(p: int) -> list:
    return _kept(_DECADES, p, _decade_table(p))


def decade_table(p: int) -> list:
    """The decade table of precision p (_decade_table), kept."""
    return _DECADES.get(p) or _decades(p)


def _decade_table(p: int) -> list:
    """[T_1, .., T_15]: T_k the least double whose '%.<p>f' text has k + 1 integer digits. Correct rounding
    is monotone, so for 0 <= v < T_15 the text of v has 1 + bisect_right(table, v) integer digits. Found by
    bisection over the doubles between 10**k - 1 (k digits) and 10**k (k + 1), in their order as 64-bit
    integers (positive doubles sort as their bits), on the texts themselves: exact for every precision."""
    one = f"%.{p}f"
    table = []
    for k in range(1, _DECADES_TOP + 1):
        a = _BITS.unpack(_DOUBLE.pack(10.0 ** k - 1))[0]
        b = _BITS.unpack(_DOUBLE.pack(10.0 ** k))[0]
        while b - a > 1:  # invariant: a's text has k integer digits, b's k + 1
            m = (a + b) // 2
            if len((one % _DOUBLE.unpack(_BITS.pack(m))[0]).partition(".")[0]) > k:
                b = m
            else:
                a = m
        table.append(_DOUBLE.unpack(_BITS.pack(b))[0])
    return table


_FIXED: dict = {}  # precision -> '%.<p>f'
_FIXED_WIDTH: dict = {}  # (width, precision) -> '%<width>.<p>f'
_FORMATS_MAX = 256


def _kept(cache: dict, key, fmt: str) -> str:
    """fmt, kept in `cache` under key (bounded: print options' precision is any integer a caller sets)."""
    if len(cache) >= _FORMATS_MAX:
        cache.clear()
    cache[key] = fmt
    return fmt


def _no_finite(vals):
    """No nonzero finite value: torch keeps int_mode, no sci_mode, width 1: zeros print '0.' ('-0.' for
    -0.0), NaN and the infinities bare."""
    return 1, "%1s", [(_WHOLE_DOT % v) if v - v == 0 else (_WHOLE % v) for v in vals]


def _layout(shown_shape, shape, summarize, indent, width, opts, one):
    """The whole tensor's text as one '%' format, `one` at each number's place: torch's _tensor_str_with_formatter
    and _vector_str with holes for the numbers (every slice of an axis has the same text)."""
    key = (shape, summarize, indent, width, opts.linewidth, opts.edgeitems, one)
    fmt = _LAYOUTS.get(key)
    if fmt is not None:
        return fmt
    e = opts.edgeitems
    ndim = len(shape)
    ind = indent + ndim - 1  # the innermost vectors' indent
    n = shape[-1]
    per_line = max(1, (opts.linewidth - ind) // (width + 2))
    data = [_HOLE] * e + [" ..."] + [_HOLE] * e if summarize and n > 2 * e else [_HOLE] * n
    lines = [", ".join(data[i : i + per_line]) for i in range(0, len(data), per_line)]
    text = "[" + (",\n" + " " * (ind + 1)).join(lines) + "]"
    for d in range(ndim - 2, -1, -1):  # outward: axis d, its slices `text`
        ind -= 1
        n = shape[d]
        slices = [text] * e + ["..."] + [text] * e if summarize and n > 2 * e else [text] * n
        text = "[" + ("," + "\n" * (ndim - 1 - d) + " " * (ind + 1)).join(slices) + "]"
    fmt = text.replace("%", "%%").replace(_HOLE, one)
    if np.prod(shown_shape) <= _LAYOUT_HOLES_MAX:
        if len(_LAYOUTS) >= _LAYOUTS_MAX:
            _LAYOUTS.clear()
        _LAYOUTS[key] = fmt
    return fmt


# ----- a whole small float tensor's repr as one '%' format (what the writer calls per response row) -----

_REPRS: dict = {}  # (shape, dtype name, suffixes, width, one) -> the whole repr's '%' format string
_REPRS_MAX = 512
_WIDE = "\x01"  # one printed character of a number, while a repr's layout is built (never in its own text)


def small_float_repr(arr: np.ndarray, dtype_name: str, suffixes, prefix: str, items, opts) -> str | None:
    """printing.format_tensor's text for a float array of 1 to NUMPY_STATS_FROM - 1 values under `opts` (no
    summarizing: opts.threshold is at least that many values), `items` what it prints after the values: the
    statistics as _float_spec takes them from the Python list, then the whole text (prefix, layout, items and
    their line breaks) from one '%' format per (shape, dtype, suffixes, width, number format), built once
    by the same _layout and the suffix rule printing._add_suffixes applies, on a text whose numbers are
    placeholders of their printed width. None where the numbers are not all printed `width` wide (_float_spec
    gives texts: non-finite values beside whole ones, or none finite): the caller takes the general route."""
    vals = arr.reshape(-1).tolist()
    # declined: texts printed apart (non-finite values among whole ones: not all `width` wide), or a -0.0: it
    # prints one wider than 0.0 ('-0.0000'), and the width counts nonzero values only: it may pass it (every
    # other text fits: nonzero ones by the width's own rule, zeros, NaN and the infinities are shorter)
    width, one, texts = _float_spec(None, vals, opts, False, True)
    if texts is not None:
        return None
    key = (arr.shape, dtype_name, suffixes, width, one)
    fmt = _REPRS.get(key)
    if fmt is None:
        fmt = _whole_layout(arr.shape, width, one, prefix, items, opts)
        if len(_REPRS) >= _REPRS_MAX:
            _REPRS.clear()
        _REPRS[key] = fmt
    return fmt % tuple(vals)


def small_float_repr_of(shape: tuple, dtype, prefix: str, items, opts, fallback):
    """small_float_repr for arrays of one shape and dtype (a writer's row: app/engine.program.writer), as a
    function of the array: what its key decided (shape, dtype, suffixes) worked out once, the formats of this
    row by number format alone. An array of another shape or dtype, or one small_float_repr declines, is
    `fallback(arr)`'s (printing.format_tensor's general route)."""
    fmts: dict = {}  # one (the number format, its width in it) -> the whole repr's '%' format
    flat = len(shape) == 1

    def layout_of_list(vals, finite=False):
        """The '%' format of the text of an array of this row's shape and dtype whose values (.reshape(-1)
        .tolist()) are `vals`, one hole a value in their order (`fmt % tuple(vals)` is the text), or None where
        small_float_repr declines them. `finite`: the caller knows every value is finite."""
        width, one, texts = _float_spec(None, vals, opts, finite, True)
        if texts is not None:  # as small_float_repr declines them
            return None
        fmt = fmts.get(one)
        if fmt is None:
            if len(fmts) >= 64:
                fmts.clear()
            fmt = fmts[one] = _whole_layout(shape, width, one, prefix, items, opts)
        return fmt

    def of_list(vals, finite=False):
        """The text of an array of this row's shape and dtype from its values (.reshape(-1).tolist()), or None
        where small_float_repr declines them. `finite`: the caller knows every value is finite."""
        fmt = layout_of_list(vals, finite)
        return None if fmt is None else fmt % tuple(vals)

    def rep(arr):
        if type(arr) is not np.ndarray or arr.shape != shape or arr.dtype != dtype:
            return fallback(arr)
        vals = arr.tolist() if flat else arr.reshape(-1).tolist()
        fmt = layout_of_list(vals)
        return fmt % tuple(vals) if fmt is not None else fallback(arr)  # as small_float_repr declines them

    # for a writer's row: its values read once (layout_of_list: its text's format, filled in the response's)
    rep.of_list, rep.layout_of_list, rep.shape, rep.dtype = of_list, layout_of_list, shape, dtype
    rep.opts = opts  # (the writer's row decides its common case by these options: writer._vector_row)
    return rep


def _whole_layout(shape, width, one, prefix, items, opts):
    from engine.printing import _add_suffixes  # noqa: PLC0415 - engine.printing imports this module

    body = _layout(shape, shape, False, len(prefix), width, opts, _WIDE * width).replace("%%", "%")
    text = _add_suffixes(prefix + body, items, len(prefix), force_newline=False, linewidth=opts.linewidth)
    return text.replace("%", "%%").replace(_WIDE * width, one)
