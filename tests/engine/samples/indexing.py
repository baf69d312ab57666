"""Samples of the indexing family: Tensor.__getitem__ (basic and advanced indexing), select, gather,
scatter_add, index_select, masked_fill."""
from tests.engine.opinfo import ErrorSample, Sample, T

A = (3, 4)
B3 = (2, 3, 4)
C4 = (2, 3, 4, 5)


def IDX(*values):  # noqa: N802 - an int64 index tensor with literal values
    return T(values=list(values), dtype="int64", requires_grad=False)


def LIT(values, dtype="int64"):
    return T(values=values, dtype=dtype, requires_grad=False)


def GI(shape, index, **kw):
    return Sample("__getitem__", (T(shape), index), kind="method", **kw)


def GE(shape, index):
    return ErrorSample("__getitem__", (T(shape), index), kind="method")


MASK23 = LIT([[True, False, True], [False, True, True]], "bool")

SAMPLES = [
    # ints -> SelectBackward0
    GI(A, 1), GI(A, -1), GI((5,), 2), GI(A, (0, 1)), GI(A, (-1, -1)), GI(B3, (1, -2)),
    # slices -> SliceBackward0 (a lone `:` too); no-op slices inside a tuple record nothing (AliasBackward0)
    GI(A, slice(1, None)), GI(A, slice(None)), GI(A, slice(None, None, 2)), GI(A, slice(-2, None)),
    GI(A, slice(-100, 100)), GI(A, slice(5, 1)), GI(A, slice(0, 0)),
    GI(A, (slice(None), slice(1, 3))), GI(A, (slice(None), slice(None))), GI(A, (slice(None), slice(0, 100))),
    GI(A, (slice(-100, None), slice(None))), GI(B3, (slice(1, None), slice(1, 2), slice(None, None, 3))),
    GI(B3, (slice(None), slice(1, 100, 2))),
    # None -> UnsqueezeBackward0, Ellipsis
    GI(A, None), GI(A, (None, None)), GI(A, (Ellipsis, None)), GI(A, (None, Ellipsis, None)),
    GI(A, Ellipsis), GI(A, (Ellipsis, Ellipsis)), GI(A, ()), GI((), None), GI((), Ellipsis),
    GI(A, (slice(1, 2, 3), None, 2)), GI(B3, (Ellipsis, None, 1)), GI(B3, (1, Ellipsis, None, 1)),
    GI(B3, (slice(None), None, Ellipsis, slice(1, 3))),
    # Python bools: an unsqueeze and an index of [0] / []
    GI(A, True), GI(A, False), GI((), True), GI(B3, (True, 1)), GI(B3, (1, True)),
    GI(B3, (slice(None), True, [0, 1])),
    # integer tensors and lists -> IndexBackward0
    GI(A, IDX(0, 2)), GI(A, IDX(2, 0, 2)), GI(A, IDX(-1, -3)), GI(A, [0, 2]), GI(A, [[0, 1]]), GI(A, []),
    GI(A, LIT([[0, 1], [2, 0]])), GI(A, LIT([0, 1], "int32")),
    GI(A, (IDX(0, 1), IDX(1, 3))), GI(A, ([0, 2], slice(1, 3))), GI(A, (slice(1, None), [0, 2])),
    GI(A, (1, IDX(0, 2))), GI(A, (IDX(0, 1), 1)), GI(A, LIT(1)), GI(B3, (1, LIT(2))), GI(B3, (LIT(1), [0])),
    # bool masks (expanded to the positions of their true entries)
    GI(A, LIT([True, False, True], "bool")), GI(A, [True, False, True]), GI(A, LIT(True, "bool")),
    GI(A, LIT(False, "bool")), GI(A, T(A, dtype="bool")), GI(B3, (MASK23, 1)), GI(B3, (MASK23, slice(1, 3))),
    GI(B3, (slice(None), T((3, 4), dtype="bool"))), GI(B3, (MASK23, [0])), GI(B3, (MASK23, [0, 1, 2, 3])),
    GI(C4, (MASK23, None, [0])), GI(C4, (MASK23, Ellipsis, [1])), GI(C4, (MASK23, [0], slice(1, 3))),
    # placement of the advanced dims: in place when adjacent, in front otherwise (after selects)
    GI(B3, (0, slice(None), [0, 1])), GI(B3, ([0, 1], slice(None), [0, 1])),
    GI(B3, (slice(None), [0, 1], [0, 1])), GI(B3, ([0, 1], [0, 1])),
    GI(B3, (slice(None), [[0], [1]], slice(1, 3))),
    GI(B3, (None, [0, 1], None, [0, 1])),
    GI(B3, ([0, 1], None, [0, 1])), GI(B3, (Ellipsis, [0, 1])), GI(B3, ([0, 1], Ellipsis, [0, 1])),
    GI(B3, (LIT([[0, 1], [1, 0]]), slice(None), LIT([[0], [2]]))),
    GI(B3, (LIT([[0, 1]]), LIT([[0], [1], [2]]))),
    GI(C4, ([0, 1], slice(None), [1, 2], slice(None))), GI(C4, (slice(None), [0, 1], slice(None), [1, 2])),
    GI(C4, (1, slice(None), [0, 1], slice(2, 4))), GI(C4, (Ellipsis, [0, 1], 1)),
    # lists that torch reads as tuples (they hold a slice / a sequence)
    GI(B3, [0, slice(None)]), GI(B3, [[0, 1], [1, 0]]),
    # duplicates accumulate in the backward
    GI(A, IDX(1, 1, 1)), GI(A, (IDX(0, 0), IDX(2, 2))),
    # empty results
    GI((0, 3), (slice(None), [5])), GI((2, 0), (slice(None), [])), GI(B3, LIT([], "int64")),
    # select
    Sample("select", (T(A), 0, 1)),
    Sample("select", (T(A), -1, -1)),
    Sample("select", (T(B3), 2, 3)),
    Sample("select", (T(A), 1, 0), kind="method"),
    # gather (GatherBackward0)
    Sample("gather", (T(A), 1, LIT([[0], [1], [2]]))),
    Sample("gather", (T(A), 1, T((3, 5), dtype="int64", low=0, high=4))),
    Sample("gather", (T(A), 0, T((2, 4), dtype="int64", low=0, high=3))),
    Sample("gather", (T(A), -1, T((2, 2), dtype="int64", low=0, high=4))),
    Sample("gather", (T(B3), 2, T((1, 2, 2), dtype="int64", low=0, high=4))),
    Sample("gather", (T(A), 1, LIT([[0], [1], [2]], "int32"))),
    Sample("gather", (T(()), 0, LIT([0, 0]))),
    Sample("gather", (T(A), 1, T((3, 2), dtype="int64", low=0, high=4)), kind="method"),
    # scatter_add (ScatterAddBackward0)
    Sample("scatter_add", (T(A), 1, T(A, dtype="int64", low=0, high=4), T(A))),
    Sample("scatter_add", (T(A), 0, T((2, 4), dtype="int64", low=0, high=3), T((2, 4)))),
    Sample("scatter_add", (T(A), 0, T((2, 4), dtype="int64", low=0, high=3), T((2, 4), requires_grad=False))),
    Sample("scatter_add", (T(A, requires_grad=False), 1, T(A, dtype="int64", low=0, high=4), T(A))),
    Sample("scatter_add", (T(B3), -1, T(B3, dtype="int64", low=0, high=4), T(B3))),
    Sample("scatter_add", (T((5,)), 0, LIT([1, 1, 4]), T((3,)))),
    Sample("scatter_add", (T(A), 1, T(A, dtype="int64", low=0, high=4), T(A)), kind="method"),
    # index_select (IndexSelectBackward0)
    Sample("index_select", (T(A), 1, IDX(0, 2))),
    Sample("index_select", (T(A), 0, IDX(2, 2, 0))),
    Sample("index_select", (T(A), -1, IDX(3, 3))),
    Sample("index_select", (T(A), 1, LIT(1))),
    Sample("index_select", (T(A), 1, LIT([0, 2], "int32"))),
    Sample("index_select", (T(B3), 2, IDX(1, 0))),
    Sample("index_select", (T(()), 0, IDX(0))),
    Sample("index_select", (T(A), 0, IDX(1)), kind="method"),
    # masked_fill: a scalar value (MaskedFillBackward0), a 0-dim tensor value (MaskedFillBackward1)
    Sample("masked_fill", (T(A), T(A, dtype="bool"), 0.5)),
    Sample("masked_fill", (T(A), T((4,), dtype="bool"), -1)),
    Sample("masked_fill", (T(A), T((2, 3, 4), dtype="bool"), 0.5)),
    Sample("masked_fill", (T(A), LIT(True, "bool"), 2.0)),
    Sample("masked_fill", (T(A), T(A, dtype="bool"), T(()))),
    Sample("masked_fill", (T(A), T(A, dtype="bool"), T((), requires_grad=False))),
    Sample("masked_fill", (T(A, requires_grad=False), T(A, dtype="bool"), T(()))),
    Sample("masked_fill", (T(A), T(A, dtype="bool"), LIT(2))),
    Sample("masked_fill", (T(()), LIT([True, False], "bool"), T(()))),
    Sample("masked_fill", (T(A), T(A, dtype="bool"), 3.0), kind="method"),
]

ERRORS = [
    GE(A, 5), GE(A, -4), GE(A, (None, 5)), GE(A, (1, 7)), GE(A, (slice(None), 7)), GE(A, (Ellipsis, 7)),
    GE(A, (None, Ellipsis, 7)), GE(A, (1, 2, 3)), GE(A, (None, 1, 2, 3)), GE(A, (slice(None),) * 3),
    GE((), 0), GE((), 1), GE((), slice(None)),
    GE(A, slice(None, None, -1)), GE(A, slice(None, None, 0)), GE(A, (slice(None), slice(None, None, -1))),
    GE(A, 1.5), GE(A, IDX(5)), GE(A, IDX(-4)), GE(A, (slice(None), IDX(5))), GE(A, LIT([0.0], "float32")),
    GE(A, LIT([0, 1], "int16")), GE(A, LIT([True, False], "bool")), GE(A, T((3, 3), dtype="bool")),
    GE(A, (IDX(0, 1), IDX(0, 1, 2))), GE(A, ([0, 1], [0, 1, 2])), GE(A, (LIT([[0, 1]]), 5)),
    GE(A, (5, IDX(0))),
    GE(A, (IDX(0), IDX(7))), GE(A, (IDX(3), IDX(7))), GE(A, (IDX(0, 5), IDX(9, 0))), GE(A, LIT(5)),
    GE(A, (1, LIT(5))), GE(A, LIT([[True]], "bool")), GE(A, (IDX(0, 1), IDX(0, 1), IDX(0, 1))),
    GE(B3, ([0], slice(None), [7])), GE(B3, (slice(None), [9], [7])),
    GE(B3, (T((2, 3), dtype="bool"), T((4,), dtype="bool"))), GE(B3, (Ellipsis, T((3, 5), dtype="bool"))),
    GE((2, 0), (slice(None), [5])),
    ErrorSample("select", (T(A), 0, 3)),
    ErrorSample("select", (T(A), 2, 0)),
    ErrorSample("select", (T(A), 0, -4)),
    ErrorSample("select", (T(A), -1, 9)),
    ErrorSample("select", (T(()), 0, 0)),
    ErrorSample("gather", (T(A), 1, IDX(0, 1))),
    ErrorSample("gather", (T(A), 1, LIT([[5], [1], [2]]))),
    ErrorSample("gather", (T(A), 1, LIT([[-1], [1], [2]]))),
    ErrorSample("gather", (T(A), 0, LIT([[0, 5], [7, 0]]))),
    ErrorSample("gather", (T(A), 0, T((3, 5), dtype="int64", low=0, high=1))),
    ErrorSample("gather", (T(A), 1, T((4, 4), dtype="int64", low=0, high=1))),
    ErrorSample("gather", (T(A), 2, T(A, dtype="int64", low=0, high=1))),
    ErrorSample("gather", (T(A), 1, LIT([[0.0]], "float32"))),
    ErrorSample("scatter_add", (T(A), 1, LIT([[0], [1], [2]]), T(A, dtype="float16"))),
    ErrorSample("scatter_add", (T(A), 1, LIT([[5], [1], [2]]), T(A))),
    ErrorSample("scatter_add", (T(A), 1, T((3, 5), dtype="int64", low=0, high=1), T(A))),
    ErrorSample("scatter_add", (T(A), 0, T((4, 4), dtype="int64", low=0, high=1), T(A))),
    ErrorSample("scatter_add", (T(A), 1, T((3, 2), dtype="int64", low=0, high=1), T((3, 1)))),
    ErrorSample("scatter_add", (T(A), 1, T((3,), dtype="int64", low=0, high=1), T(A))),
    ErrorSample("scatter_add", (T(A), 1, T((3, 1), dtype="int64", low=0, high=1), T((3,)))),
    ErrorSample("scatter_add", (T(A), 3, T((3, 1), dtype="int64", low=0, high=1), T(A))),
    ErrorSample("scatter_add", (T(A), 1, LIT([[0.0]], "float32"), T(A))),
    ErrorSample("index_select", (T(A), 1, LIT([0.0, 2.0], "float32"))),
    ErrorSample("index_select", (T(A), 1, IDX(0, 4))),
    ErrorSample("index_select", (T(A), 1, IDX(-1))),
    ErrorSample("index_select", (T(A), 1, LIT([[0]]))),
    ErrorSample("index_select", (T(A), 2, IDX(0))),
    ErrorSample("index_select", (T(()), 0, IDX(0, 0))),
    ErrorSample("index_select", (T(()), 0, IDX(1))),
    ErrorSample("index_select", (T((5,)), 0, IDX(5))),
    ErrorSample("index_select", (T((0, 3)), 0, IDX(0))),
    ErrorSample("masked_fill", (T(A), T((3,), dtype="bool"), 0.5)),
    ErrorSample("masked_fill", (T(A), T((4,), dtype="int64", low=0, high=2), 0.5)),
    ErrorSample("masked_fill", (T(A), T((4,), dtype="uint8", low=0, high=2), 0.5)),
    ErrorSample("masked_fill", (T(A), T(A, dtype="bool"), T((1,)))),
]
