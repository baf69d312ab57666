"""Pure-NumPy port of PyTorch 2.13's tensor printing (``torch/_tensor_str.py``).

Dense strided CPU tensors of the real dtypes this engine carries, under torch's
print options (``PrintOptions``; the default profile unless one is passed).
``format_tensor`` returns exactly what ``repr(torch_tensor)`` returns for the
same data, dtype, autograd state and options.  A non-empty tensor's numbers are
printed by ``engine.printing_fast`` where it applies (the same decisions, made
at once), and by this port otherwise.

The structure mirrors torch's module function-for-function so that the two
can be diffed when torch changes: ``_Formatter``, ``_scalar_str``,
``_vector_str``, ``_tensor_str_with_formatter``, ``_tensor_str``,
``_add_suffixes``, ``_get_summarized_data``.
"""
from __future__ import annotations

import math
from typing import NamedTuple

import numpy as np

from engine.printing_fast import NUMPY_STATS_FROM, fast_tensor_str, small_float_repr, small_float_repr_of

__all__ = ["format_tensor", "format_value", "PrintOptions", "print_options"]


class PrintOptions(NamedTuple):
    """torch's PRINT_OPTS (``torch.set_printoptions``); the defaults are its "default" profile."""

    precision: int = 4
    threshold: float = 1000
    edgeitems: int = 3
    linewidth: int = 80
    sci_mode: bool | None = None  # None: chosen by _Formatter from the values


DEFAULT_OPTIONS = PrintOptions()
_PROFILES = {
    "default": DEFAULT_OPTIONS,
    "short": PrintOptions(precision=2, threshold=1000, edgeitems=2, linewidth=80),
    "full": PrintOptions(precision=4, threshold=math.inf, edgeitems=3, linewidth=80),
}


def print_options(profile=None, precision=None, threshold=None, edgeitems=None, linewidth=None,
                  sci_mode=None) -> PrintOptions:
    """The options ``torch.set_printoptions(...)`` with these arguments sets, starting from the defaults."""
    if profile is not None and profile not in _PROFILES:
        raise ValueError(f"print_options: unknown profile {profile!r} (default, short or full)")
    opts = _PROFILES[profile or "default"]
    for name, v in (("precision", precision), ("edgeitems", edgeitems), ("linewidth", linewidth)):
        if v is not None and (not isinstance(v, int) or isinstance(v, bool) or v < 0):
            raise ValueError(f"print_options: {name} must be a non-negative int, got {v!r}")
    if threshold is not None and (isinstance(threshold, bool) or not isinstance(threshold, (int, float))
                                  or threshold != threshold):
        raise ValueError(f"print_options: threshold must be a number, got {threshold!r}")
    if sci_mode is not None and not isinstance(sci_mode, bool):
        raise ValueError(f"print_options: sci_mode must be True, False or None, got {sci_mode!r}")
    return opts._replace(**{k: v for k, v in (("precision", precision), ("threshold", threshold),
                                              ("edgeitems", edgeitems), ("linewidth", linewidth)) if v is not None},
                         sci_mode=sci_mode)


# the default profile's values, which the one-value helpers below (format_value, value_repr) assume
_PRECISION = DEFAULT_OPTIONS.precision
_LINEWIDTH = DEFAULT_OPTIONS.linewidth

_PREFIX = "tensor("

_FLOAT_NAMES = frozenset({"float16", "float32", "float64"})
_INT_NAMES = frozenset({"int64", "int32", "int16", "int8", "uint8"})
# Dtypes torch never names in a non-empty tensor's repr (default float dtype,
# its complex counterpart, int64 and bool).
_DEFAULT_DTYPES = frozenset({"float32", "int64", "bool"})
_NP_DTYPES = {n: np.dtype(np.bool_ if n == "bool" else n) for n in (*_FLOAT_NAMES, *_INT_NAMES, "bool")}
# An empty tensor names every dtype but the default float dtype.
_DEFAULT_FLOAT = "float32"


class _Formatter:
    """Port of ``torch._tensor_str._Formatter``.

    torch iterates over 0-d tensors and formats them through
    ``Tensor.__format__``, i.e. ``tensor.item().__format__(spec)``: a Python
    float (the exact double of the stored value) or a Python int/bool.  We do
    the same on ``ndarray.tolist()`` values.  The min/max/ratio tests run in
    float64, as torch converts with ``tensor_totype`` (double on CPU).
    """

    def __init__(self, arr: np.ndarray, floating: bool, opts: PrintOptions = DEFAULT_OPTIONS):
        self.precision = p = opts.precision
        self.floating_dtype = floating
        self.int_mode = True
        self.sci_mode = False
        self.max_width = 1

        flat = arr.reshape(-1)

        if not floating:
            # Identical values give identical strings: widths over the unique set.
            for value in np.unique(flat).tolist():
                self.max_width = max(self.max_width, len(f"{value}"))
            return

        vals = flat.astype(np.float64)  # exact for float16/float32
        nonzero_finite = vals[np.isfinite(vals) & (vals != 0)]
        if nonzero_finite.size == 0:
            # no valid number, do nothing
            return

        nonzero_finite_abs = np.abs(nonzero_finite)
        nonzero_finite_min = nonzero_finite_abs.min()
        nonzero_finite_max = nonzero_finite_abs.max()

        if not np.all(np.ceil(nonzero_finite) == nonzero_finite):
            self.int_mode = False

        if opts.sci_mode is None:
            with np.errstate(over="ignore"):  # 1e300 / 1e-300: inf, as torch computes it, without a warning
                ratio = nonzero_finite_max / nonzero_finite_min
            self.sci_mode = bool(
                ratio > 1000.0
                or nonzero_finite_max > 1.0e8
                or nonzero_finite_min < 1.0e-4
            )
        else:
            self.sci_mode = opts.sci_mode

        values = np.unique(nonzero_finite).tolist()
        if self.int_mode:
            # in int_mode for floats, all numbers are integers, and we append a
            # decimal to nonfinites to indicate that the tensor is of floating
            # type. add 1 to the len to account for this.
            if self.sci_mode:
                spec = f"{{:.{p}e}}"
                for value in values:
                    self.max_width = max(self.max_width, len(spec.format(value)))
            else:
                for value in values:
                    self.max_width = max(self.max_width, len(f"{value:.0f}") + 1)
        else:
            if self.sci_mode:
                spec = f"{{:.{p}e}}"
            else:
                spec = f"{{:.{p}f}}"
            for value in values:
                self.max_width = max(self.max_width, len(spec.format(value)))

    def width(self) -> int:
        return self.max_width

    def format(self, value) -> str:
        if self.floating_dtype:
            if self.sci_mode:
                ret = f"{{:{self.max_width}.{self.precision}e}}".format(value)
            elif self.int_mode:
                ret = f"{value:.0f}"
                if not (math.isinf(value) or math.isnan(value)):
                    ret += "."
            else:
                ret = f"{{:.{self.precision}f}}".format(value)
        else:
            ret = f"{value}"
        return (self.max_width - len(ret)) * " " + ret


def _scalar_str(arr: np.ndarray, formatter: _Formatter) -> str:
    return formatter.format(arr.item())


def _vector_str(arr: np.ndarray, indent: int, summarize: bool, formatter: _Formatter, opts: PrintOptions) -> str:
    # length includes spaces and comma between elements
    element_length = formatter.width() + 2
    elements_per_line = max(1, math.floor((opts.linewidth - indent) / element_length))
    e = opts.edgeitems

    if summarize and not e:
        data = ["..."]
    elif summarize and arr.shape[0] > 2 * e:
        data = (
            [formatter.format(v) for v in arr[:e].tolist()]
            + [" ..."]
            + [formatter.format(v) for v in arr[-e:].tolist()]
        )
    else:
        data = [formatter.format(v) for v in arr.tolist()]

    data_lines = [data[i : i + elements_per_line] for i in range(0, len(data), elements_per_line)]
    lines = [", ".join(line) for line in data_lines]
    return "[" + ("," + "\n" + " " * (indent + 1)).join(lines) + "]"


def _tensor_str_with_formatter(arr: np.ndarray, indent: int, summarize: bool, formatter: _Formatter,
                               opts: PrintOptions) -> str:
    dim = arr.ndim

    if dim == 0:
        return _scalar_str(arr, formatter)

    if dim == 1:
        return _vector_str(arr, indent, summarize, formatter, opts)

    n = arr.shape[0]
    e = opts.edgeitems
    if summarize and n > 2 * e:
        slices = (
            [_tensor_str_with_formatter(arr[i], indent + 1, summarize, formatter, opts) for i in range(e)]
            + ["..."]
            + [
                _tensor_str_with_formatter(arr[i], indent + 1, summarize, formatter, opts)
                for i in range(n - e, n)
            ]
        )
    else:
        slices = [_tensor_str_with_formatter(arr[i], indent + 1, summarize, formatter, opts) for i in range(n)]

    tensor_str = ("," + "\n" * (dim - 1) + " " * (indent + 1)).join(slices)
    return "[" + tensor_str + "]"


def _get_summarized_data(arr: np.ndarray, e: int) -> np.ndarray:
    """Keep the first and last ``e`` (edgeitems) entries of every axis longer than
    ``2 * e`` (what torch's recursive cat/stack produces)."""
    if arr.ndim == 0:
        return arr
    if arr.ndim >= 2 and not e:
        return arr[(slice(0, 0),) * arr.ndim]
    for axis, size in enumerate(arr.shape):
        if size > 2 * e:
            idx = np.r_[0:e, size - e : size]
            arr = np.take(arr, idx, axis=axis)
    return arr


def _tensor_str(arr: np.ndarray, indent: int, floating: bool, opts: PrintOptions = DEFAULT_OPTIONS) -> str:
    """torch's _tensor_str, the reference that engine.printing_fast must match (its tests compare both)."""
    if arr.size == 0:
        return "[]"

    summarize = arr.size > opts.threshold
    formatter = _Formatter(_get_summarized_data(arr, opts.edgeitems) if summarize else arr, floating, opts)
    return _tensor_str_with_formatter(arr, indent, summarize, formatter, opts)


def _add_suffixes(tensor_str: str, suffixes, indent: int, force_newline: bool, linewidth: int = _LINEWIDTH) -> str:
    tensor_strs = [tensor_str]
    last_line_len = len(tensor_str) - tensor_str.rfind("\n") + 1
    for suffix in suffixes:
        suffix_len = len(suffix)
        if force_newline or last_line_len + suffix_len + 2 > linewidth:
            tensor_strs.append(",\n" + " " * indent + suffix)
            last_line_len = indent + suffix_len
            force_newline = False
        else:
            tensor_strs.append(", " + suffix)
            last_line_len += suffix_len + 2
    tensor_strs.append(")")
    return "".join(tensor_strs)


def format_tensor(data, dtype_name: str, suffixes: list[str] = (), options: PrintOptions | None = None) -> str:
    """``repr()`` of a dense CPU torch tensor holding ``data``.

    ``data`` is an ndarray whose numpy dtype matches ``dtype_name`` (one of
    float32/float64/float16/int64/int32/int16/int8/uint8/bool).  ``suffixes``
    are already-formatted trailing items that torch places after ``size=`` and
    ``dtype=`` (``"grad_fn=<MulBackward0>"`` or ``"requires_grad=True"``).
    ``options``: torch's print options (``print_options(...)``), the default profile if None.
    """
    if type(data) is np.ndarray and 0 < data.size < NUMPY_STATS_FROM and data.ndim \
            and data.dtype == _SMALL_FLOATS.get(dtype_name) and (options is None or options is DEFAULT_OPTIONS):
        # a small float tensor (most vectors of a response): its whole text from one cached '%' format
        items = _SMALL_ITEMS.get((dtype_name, tuple(suffixes)))
        if items is None:
            items = _SMALL_ITEMS[(dtype_name, tuple(suffixes))] = ((() if dtype_name in _DEFAULT_DTYPES else
                                                                    ("dtype=torch." + dtype_name,)) + tuple(suffixes))
            if len(_SMALL_ITEMS) > _SMALL_ITEMS_MAX:
                _SMALL_ITEMS.clear()
        text = small_float_repr(data, dtype_name, items, _PREFIX, items, DEFAULT_OPTIONS)
        if text is not None:
            return text
    expected = _NP_DTYPES.get(dtype_name)
    if expected is None:
        raise ValueError(f"format_tensor: unsupported dtype {dtype_name!r}")
    floating = dtype_name in _FLOAT_NAMES
    arr = data if getattr(data, "ndim", None) == 0 else np.asarray(data)  # a NumPy scalar stays one
    if arr.dtype != expected:
        arr = np.asarray(arr).astype(expected)
    if options is None or options == DEFAULT_OPTIONS:
        if arr.ndim == 0:
            return format_value(arr.item(), dtype_name, suffixes)
        options = DEFAULT_OPTIONS
    return _format_array(arr, dtype_name, floating, suffixes, options)


def tensor_repr(shape: tuple, dtype_name: str, suffixes=()):
    """format_tensor(·, dtype_name, suffixes) as a function of the array, for arrays of one shape (a writer's
    row): a small float tensor's route with what its shape, dtype and suffixes decide worked out once
    (printing_fast.small_float_repr_of); any other array, or one that route declines, format_tensor's."""
    suffixes = tuple(suffixes)

    def general(data):
        return format_tensor(data, dtype_name, suffixes)

    dtype = _SMALL_FLOATS.get(dtype_name)
    if dtype is None or not shape or not 0 < math.prod(shape) < NUMPY_STATS_FROM:
        return general
    items = (() if dtype_name in _DEFAULT_DTYPES else ("dtype=torch." + dtype_name,)) + suffixes
    return small_float_repr_of(tuple(shape), dtype, _PREFIX, items, DEFAULT_OPTIONS, general)


_SMALL_ITEMS: dict = {}  # (dtype name, suffixes) -> what format_tensor prints after a small float tensor's values
_SMALL_ITEMS_MAX = 256
_SMALL_FLOATS = {n: _NP_DTYPES[n] for n in _FLOAT_NAMES}


def _value_items(dtype_name, suffixes):
    """What a 0-d repr prints after its value: the dtype where torch names it, then the suffixes."""
    return ([] if dtype_name in _DEFAULT_DTYPES else ["dtype=torch." + dtype_name]) + list(suffixes)


def format_value(v, dtype_name: str, suffixes=()) -> str:
    """``repr()`` of a 0-d tensor of ``dtype_name`` holding the Python number ``v`` (its ``.item()``)."""
    items = _value_items(dtype_name, suffixes)
    return _add_suffixes(_PREFIX + _scalar_text(v, dtype_name in _FLOAT_NAMES), items, len(_PREFIX),
                         force_newline=False)


def value_repr(dtype_name: str, suffixes=()):
    """format_value(·, dtype_name, suffixes) as a function of the value alone, what does not depend on the
    value worked out once: the items after the value, and how long its text may be before _add_suffixes
    would break the line (the whole tail fits on the first line while prefix, text and items stay within
    the line width)."""
    items = _value_items(dtype_name, suffixes)
    floating = dtype_name in _FLOAT_NAMES
    tail = "".join(", " + s for s in items) + ")"
    room = _LINEWIDTH - len(_PREFIX) - 2 - sum(len(s) + 2 for s in items)

    def rep(v):
        text = _scalar_text(v, floating)
        if len(text) <= room:
            return _PREFIX + text + tail
        return format_value(v, dtype_name, suffixes)

    if floating and room >= _FIXED_MAX:  # then a fixed-point text always fits: one %-format for the row
        fixed, whole = (_PREFIX + f + tail.replace("%", "%%") for f in (_FIXED, _WHOLE))

        def rep_fixed(v):
            if 1.0e-4 <= abs(v) <= 1.0e8:  # _scalar_text's first case (FIXED_RANGE)
                return fixed % v if v % 1 else whole % v
            return rep(v)

        rep_fixed.fixed = (fixed, whole)  # for engine.program.writer, which writes this choice inline
        return rep_fixed
    return rep


FIXED_RANGE = (1.0e-4, 1.0e8)  # the magnitudes printed in fixed point, not sci_mode (bounds included)
_FIXED = f"%.{_PRECISION}f"
_WHOLE = "%.0f."
_SCI = f"%.{_PRECISION}e"
_FIXED_MAX = len(_FIXED % -1.0e8)  # the longest fixed-point text: -100000000.0000


def _scalar_text(v, floating: bool) -> str:
    """What _Formatter prints for a tensor of one element `v` (its .item()), without building one: a lone
    value's max/min ratio is 1, so sci_mode is its magnitude alone, and its width is its own text's.
    tests/engine/test_printing.py holds it to torch's repr over values at every boundary."""
    if not floating:
        return f"{v}"
    a = abs(v)
    if 1.0e-4 <= a <= 1.0e8:  # no sci_mode (NaN, zero and the infinities fail both comparisons or one)
        return _FIXED % v if v % 1 else _WHOLE % v  # int_mode where the value is whole
    if a != a or a == 0 or a == math.inf:  # no nonzero finite value: int_mode, no sci_mode
        return f"{v:.0f}" if v != 0 else f"{v:.0f}."
    return _SCI % v


def _format_array(arr, dtype_name, floating, suffixes, opts, fast=True):
    """The repr of a tensor under `opts`; fast=False: the port of torch's code alone (tests compare both)."""
    indent = len(_PREFIX)
    items: list[str] = []
    if arr.size == 0:
        # Explicitly print the shape if it is not (0,), to match NumPy behavior
        if arr.ndim != 1:
            items.append("size=" + str(tuple(int(s) for s in arr.shape)))
        # In an empty tensor there are no elements to infer the dtype from.
        if dtype_name != _DEFAULT_FLOAT:
            items.append("dtype=torch." + dtype_name)
        tensor_str = "[]"
    else:
        if not opts.edgeitems:
            items.append("size=" + str(tuple(int(s) for s in arr.shape)))
        if dtype_name not in _DEFAULT_DTYPES:
            items.append("dtype=torch." + dtype_name)
        tensor_str = fast_tensor_str(arr, indent, floating, opts) if fast else None
        if tensor_str is None:
            tensor_str = _tensor_str(arr, indent, floating, opts)

    items.extend(suffixes)
    return _add_suffixes(_PREFIX + tensor_str, items, indent, force_newline=False, linewidth=opts.linewidth)
