"""torch.autograd.gradcheck and gradgradcheck: finite differences against the engine's analytical gradients.

Ported from PyTorch 2.13's torch/autograd/gradcheck.py for real dense tensors, so that a failure reads as
torch's does to the character: the same central differences (perturbation eps, elements in C order), the
same Jacobian layout (input elements by output elements) and dtypes, the same checks in the same order,
and in fast mode the same random vectors (torch.Generator's default seed, its mt19937 and its uniform
float32 draw). The forward-mode checks (check_forward_ad, check_batched_forward_grad, check_fwd_over_rev) are in
engine/autograd/gradcheck_forward.py.
"""
from __future__ import annotations

import functools
import warnings

import numpy as np

from engine import _backend as B
from engine import budget
from engine.autograd import Node, _seq, edge_of, grad, no_grad
from engine.autograd.gradcheck_forward import (
    _get_failed_batched_grad_test_msg,
    batched_forward_grad_check,
    get_analytical_jacobian_forward_ad,
    undefined_forward_mode_check,
)
from engine.autograd.gradcheck_jacobians import (
    _allclose,
    _as_tuple,
    _check_rows_equal,
    _compute_analytical_jacobian_rows,
    _differentiable_outputs,
    _get_analytical_vjps_wrt_specific_output,
    _get_numerical_jacobian,
    _get_numerical_jvp_wrt_specific_input,
    _get_numerical_vJu,
    _iter_tensors,
    _make_vectors,
    _stack_and_check_tensors,
    _tensor_of,
    is_tensor_like,
)
from engine.errors import TorchAssertionError, TorchRuntimeError, TorchValueError

__all__ = ["gradcheck", "gradgradcheck", "GradcheckError"]


class GradcheckError(TorchRuntimeError):
    """Error raised by gradcheck and gradgradcheck."""

    type = "GradcheckError"


GradcheckError.__name__ = GradcheckError.__qualname__ = "GradcheckError"


# ----- the analytical Jacobian: backward passes, twice (reentrancy) -----


FAILED_NONDET_MSG = """\n
NOTE: If your op relies on non-deterministic operations i.e., it is listed here:
https://pytorch.org/docs/stable/generated/torch.use_deterministic_algorithms.html
this failure might be expected.

If you are adding a new operator, please file an issue and then use one of the
workarounds. The workaround depends on how your test invokes gradcheck/gradgradcheck.
If the test
- manually invokes gradcheck/gradgradcheck, then call gradcheck/gradgradcheck
  with `nondet_tol=<tol>` as a keyword argument.
- is OpInfo-based (e.g., in test_ops_gradients.py), then modify the OpInfo for the test
  to have `gradcheck_nondet_tol=<tol>`.
- is a Module test (e.g., in common_nn.py), then modify the corresponding
  module_test entry to have `gradcheck_nondet_tol=<tol>`
"""


def _check_analytical_jacobian_attributes(inputs, output, nondet_tol, check_grad_dtypes, fast_mode=False, v=None):
    diff_input_list = list(_iter_tensors(inputs, True))

    def vjp_fn(grad_output):
        return grad(output, diff_input_list, grad_output, retain_graph=True, allow_unused=True)

    if fast_mode:
        vjps1 = _get_analytical_vjps_wrt_specific_output(vjp_fn, output.clone(), v)
        vjps2 = _get_analytical_vjps_wrt_specific_output(vjp_fn, output.clone(), v)
    else:
        vjps1 = _compute_analytical_jacobian_rows(vjp_fn, output.clone())
        vjps2 = _compute_analytical_jacobian_rows(vjp_fn, output.clone())
    output_numel = output.numel() if not fast_mode else 1
    # (torch's names for the two flags are swapped here; the checks below keep its behaviour)
    jacobians1, types_ok, sizes_ok = _stack_and_check_tensors(vjps1, inputs, output_numel)
    # torch stacks vjps2 into a second Jacobian for _check_jacobians_equal; compared row by row instead
    reentrant = _check_rows_equal(jacobians1, vjps2, nondet_tol)
    if not types_ok and check_grad_dtypes:
        raise GradcheckError("Gradient has dtype mismatch")
    if not sizes_ok:
        raise GradcheckError("Analytical gradient has incorrect size")
    if not reentrant:
        raise GradcheckError(
            "Backward is not reentrant, i.e., running backward with "
            "same input and grad_output multiple times gives different values, "
            "although analytical gradient matches numerical gradient."
            f"The tolerance for nondeterminism was {nondet_tol}." + FAILED_NONDET_MSG
        )
    return jacobians1


def _get_analytical_jacobian(inputs, outputs, input_idx, output_idx):
    jacobians = _check_analytical_jacobian_attributes(
        inputs, outputs[output_idx], nondet_tol=float("inf"), check_grad_dtypes=False)
    return jacobians[input_idx]


def _get_analytical_vJu_backward_mode(inputs, outputs, nondet_tol, check_grad_dtypes, all_v, all_u):
    reduced_jacobians = []
    for output, v in zip(outputs, all_v):
        all_vJ = _check_analytical_jacobian_attributes(inputs, output, nondet_tol, check_grad_dtypes,
                                                       fast_mode=True, v=v)
        with no_grad():
            reduced_jacobians.append([vJ.T.squeeze(0).dot(u) for vJ, u in zip(all_vJ, all_u)])
    return reduced_jacobians


# ----- comparison and messages -----


def _get_notallclose_msg(analytical, numerical, output_idx, input_idx, complex_indices, test_imag=False,
                         is_forward_ad=False):
    mode = "computed with forward mode " if is_forward_ad else ""
    return (
        f"Jacobian {mode}mismatch for output {output_idx:d} with respect to input {input_idx:d},\n"
        f"numerical:{numerical}\nanalytical:{analytical}\n"
    )


def _transpose(matrix_of_tensors):
    return list(zip(*matrix_of_tensors))


FAST_FAIL_SLOW_OK_MSG = """
Fast gradcheck failed but element-wise differences are small. This means that the
test might've passed in slow_mode!

If you are adding a new operator, please file an issue and then use one of the
workarounds. The workaround depends on how your test invokes gradcheck/gradgradcheck:

If the test
- manually invokes gradcheck/gradgradcheck, then call gradcheck/gradgradcheck
  with `fast_mode=False` as a keyword argument.
- is OpInfo-based (e.g., in test_ops_gradients.py), then modify the OpInfo for the test
  to have `gradcheck_fast_mode=False`
- is a Module test (e.g., in common_nn.py), then modify the corresponding
  module_test entry to have `gradcheck_fast_mode=False`
""".strip()


def _run_slow_mode_and_get_error(func, tupled_inputs, outputs, input_idx, output_idx, rtol, atol, eps,
                                 is_forward_ad=False):
    """Fast mode failed: the full Jacobians (slow mode) for the message."""
    slow_numerical = _get_numerical_jacobian(func, tupled_inputs, outputs, eps=eps)[input_idx][output_idx]
    if is_forward_ad:

        def new_fn(inp):
            new_inputs = list(tupled_inputs)
            new_inputs[input_idx] = inp
            return _as_tuple(func(*new_inputs))[output_idx]

        slow_analytical = get_analytical_jacobian_forward_ad(
            new_fn, (tupled_inputs[input_idx],), (outputs[output_idx],))[0][0]
    else:
        slow_analytical = _get_analytical_jacobian(tupled_inputs, outputs, input_idx, output_idx)
    with no_grad():
        slow_max_diff = (slow_numerical - slow_analytical).abs().max()
    slow_allclose = _allclose(slow_analytical, slow_numerical, rtol, atol)
    msg = (
        "\nThe above quantities relating the numerical and analytical jacobians are computed \n"
        "in fast mode. See: https://github.com/pytorch/pytorch/issues/53876 for more background \n"
        "about fast mode. Below, we recompute numerical and analytical jacobians in slow mode:\n\n"
        f"Numerical:\n {slow_numerical}\n"
        f"Analytical:\n{slow_analytical}\n\n"
        f"The max per-element difference (slow mode) is: {slow_max_diff}.\n"
    )
    if slow_allclose:
        msg += FAST_FAIL_SLOW_OK_MSG
    return msg


def _get_inp_tensors(tupled_inputs):
    inp_idx_tup = [(i, t) for i, t in enumerate(tupled_inputs) if is_tensor_like(t) and t.requires_grad]
    return [tup[0] for tup in inp_idx_tup], [tup[1] for tup in inp_idx_tup]


def _adjusted_atol(atol, u, v):
    """atol scaled by v^T M u (M all ones), as the comparison of v^T J u allows an error per element."""
    with no_grad():
        sum_v = 1.0 if v is None else v.sum()
        sum_u = u.sum()
    return atol * float(sum_u) * float(sum_v)


def _check_analytical_numerical_equal(all_analytical, all_numerical, complex_indices, tupled_inputs, outputs,
                                      func, all_v, all_u, rtol, atol, eps, test_imag, is_forward_ad=False):
    for i, all_numerical_for_input_i in enumerate(all_numerical):
        for j, n in enumerate(all_numerical_for_input_i):
            a = all_analytical[i][j] if is_forward_ad else all_analytical[j][i]  # forward AD's is transposed
            updated_atol = _adjusted_atol(atol, all_u[i], all_v[j] if all_v else None)
            if not _allclose(a, n, rtol, updated_atol):
                jacobians_str = _run_slow_mode_and_get_error(func, tupled_inputs, outputs, i, j, rtol, atol, eps,
                                                             is_forward_ad)
                raise GradcheckError(_get_notallclose_msg(a, n, j, i, complex_indices, test_imag, is_forward_ad)
                                     + jacobians_str)


# ----- the checks -----


def _check_no_differentiable_outputs(func, inputs, func_out, eps):
    """No output requires grad: the numerical gradient must then be zero."""
    for jacobians_all_outputs_and_fixed_input in _get_numerical_jacobian(func, inputs, func_out, eps=eps):
        for jacobian in jacobians_all_outputs_and_fixed_input:
            if np.count_nonzero(jacobian._data) > 0:
                raise GradcheckError("Numerical gradient for function expected to be zero")
    return True


def _check_no_differentiable_outputs_fast(func, func_out, all_inputs, inputs_indices, all_u, eps, nondet_tol):
    for inp_idx, u in zip(inputs_indices, all_u):
        for jvp in _get_numerical_jvp_wrt_specific_input(func, inp_idx, all_inputs, u, eps):
            if jvp.numel() == 0:
                continue
            if np.abs(jvp._data).max() > nondet_tol:
                raise GradcheckError("Numerical gradient for function expected to be zero")
    return True


def _slow_gradcheck(func, func_out, tupled_inputs, outputs, eps, rtol, atol, check_grad_dtypes, nondet_tol, *,
                    use_forward_ad=False, complex_indices=None, test_imag=False, masked=False):
    func_out = _as_tuple(func_out)
    if not outputs:
        return _check_no_differentiable_outputs(func, tupled_inputs, func_out, eps=eps)
    numerical = _transpose(_get_numerical_jacobian(func, tupled_inputs, func_out, eps=eps))
    # the numerical path covers every output; keep those that require grad
    numerical = [nj for o, nj in zip(func_out, numerical) if o.requires_grad]
    if use_forward_ad:
        analytical_forward = get_analytical_jacobian_forward_ad(func, tupled_inputs, func_out,
                                                                check_grad_dtypes=check_grad_dtypes)
        for i, n_per_out in enumerate(numerical):
            for j, n in enumerate(n_per_out):
                a = analytical_forward[j][i]
                if not _allclose(a, n, rtol, atol):
                    raise GradcheckError(_get_notallclose_msg(a, n, i, j, complex_indices, test_imag,
                                                              is_forward_ad=True))
        return True
    for i, o in enumerate(outputs):
        analytical = _check_analytical_jacobian_attributes(tupled_inputs, o, nondet_tol, check_grad_dtypes)
        for j, (a, n) in enumerate(zip(analytical, numerical[i])):
            if not _allclose(a, n, rtol, atol):
                raise GradcheckError(_get_notallclose_msg(a, n, i, j, complex_indices, test_imag))
    return True


def _fast_gradcheck(func, func_out, inputs, outputs, eps, rtol, atol, check_grad_dtypes, nondet_tol, *,
                    use_forward_ad=False, complex_indices=None, test_imag=False, masked=False):
    """v^T J u both ways: J u by one central difference along a random u, v^T J by one backward pass (forward
    mode: J u by dual tensors, no v)."""
    inp_tensors_idx, inp_tensors = _get_inp_tensors(inputs)
    all_v, all_u, all_u_dense = _make_vectors(inp_tensors, outputs, use_forward_ad=use_forward_ad)
    numerical_vJu = _get_numerical_vJu(func, inputs, inp_tensors_idx, func_out, all_u, all_v, eps)
    if use_forward_ad:
        analytical_vJu = get_analytical_jacobian_forward_ad(func, inputs, _as_tuple(func_out), all_u=all_u,
                                                            check_grad_dtypes=check_grad_dtypes)
        _check_analytical_numerical_equal(analytical_vJu, numerical_vJu, complex_indices, inputs, outputs, func,
                                          all_v, all_u, rtol, atol, eps, test_imag, is_forward_ad=True)
        return True
    if not outputs:
        _check_no_differentiable_outputs_fast(func, func_out, inputs, inp_tensors_idx, all_u, eps, nondet_tol)
    analytical_vJu = _get_analytical_vJu_backward_mode(inputs, outputs, nondet_tol, check_grad_dtypes, all_v,
                                                       all_u_dense)
    _check_analytical_numerical_equal(analytical_vJu, numerical_vJu, complex_indices, inputs, outputs, func,
                                      all_v, all_u, rtol, atol, eps, test_imag)
    return True


def _check_inputs(tupled_inputs):
    any_input_requiring_grad = False
    for idx, inp in enumerate(tupled_inputs):
        if is_tensor_like(inp) and inp.requires_grad:
            if inp._data.dtype != np.float64:
                warnings.warn(
                    f"Input #{idx} requires gradient and "
                    "is not a double precision floating point or complex. "
                    "This check will likely fail if all the inputs are "
                    "not of double precision floating point or complex. ",
                    stacklevel=4,
                )
            if not all(st > 0 or sz <= 1 for st, sz in zip(inp.stride(), inp.size())):
                raise TorchRuntimeError(
                    f"The {idx}th input has a dimension with stride 0. gradcheck only "
                    "supports inputs that are non-overlapping to be able to "
                    "compute the numerical gradients correctly. You should call "
                    ".contiguous on the input before passing it to gradcheck."
                )
            any_input_requiring_grad = True
    if not any_input_requiring_grad:
        raise TorchValueError(
            "gradcheck expects at least one input tensor to require gradient, "
            "but none of them have requires_grad=True."
        )
    return True


FAILED_BATCHED_GRAD_MSG = """
gradcheck or gradgradcheck failed while testing batched gradient computation.
This could have been invoked in a number of ways (via a test that calls
gradcheck/gradgradcheck directly or via an autogenerated test).

If you are adding a new operator, please file an issue and then use one of the
workarounds. The workaround depends on how your test invokes gradcheck/gradgradcheck.
If the test
- manually invokes gradcheck/gradgradcheck, then call gradcheck/gradgradcheck
  with `check_batched_grad=False` as a keyword argument.
- is OpInfo-based (e.g., in test_ops_gradients.py), then modify the OpInfo for the test
  to have `check_batched_grad=False` and/or `check_batched_gradgrad=False`.

If you're modifying an existing operator that supports batched grad computation,
or wish to make a new operator work with batched grad computation, please read
the following.

To compute batched grads (e.g., jacobians, hessians), we vmap over the backward
computation. The most common failure case is if there is a 'vmap-incompatible
operation' in the backward pass. Please see
NOTE: [How to write vmap-compatible backward formulas]
in the codebase for an explanation of how to fix this.
""".strip()


def _test_batched_grad(input, output, output_idx):
    """Two separate vjps against one batched backward (autograd.grad's is_grads_batched) of the same two."""
    from engine.ops.factory import randn_like, zeros  # noqa: PLC0415
    from engine.ops.join import stack  # noqa: PLC0415

    diff_input_list = list(_iter_tensors(input, True))

    def vjp(v, batched=False):
        results = grad(output, diff_input_list, v, retain_graph=True, allow_unused=True, is_grads_batched=batched)
        shape = lambda inp: ((v.shape[0],) if batched else ()) + tuple(inp.shape)  # noqa: E731
        return tuple(g if g is not None else zeros((), dtype=inp.dtype).expand(shape(inp))
                     for g, inp in zip(results, diff_input_list))

    grad_outputs = [randn_like(output) for _ in range(2)]
    expected = [vjp(g_o) for g_o in grad_outputs]
    expected = [stack(list(shards)) for shards in zip(*expected)]
    try:
        result = vjp(stack(grad_outputs), batched=True)
    except RuntimeError as ex:
        raise GradcheckError(f"While computing batched gradients, got: {ex}\n\n{FAILED_BATCHED_GRAD_MSG}") from ex
    for input_idx, (res, exp) in enumerate(zip(result, expected)):
        if _allclose(res, exp, 1e-05, 1e-08):
            continue
        raise GradcheckError(
            _get_failed_batched_grad_test_msg(output_idx, input_idx, res, exp, FAILED_BATCHED_GRAD_MSG))
    return True


def _test_backward_mul_by_grad_output(outputs, inputs, masked):
    """A zero grad_output must give zero input gradients of the inputs' dtypes and sizes."""
    from engine.ops.factory import zeros_like  # noqa: PLC0415

    diff_input_list = list(_iter_tensors(inputs, True))
    if not diff_input_list:
        raise GradcheckError("no Tensors requiring grad found in input")
    grads_input = grad(outputs, diff_input_list, [zeros_like(o) for o in outputs], allow_unused=True)
    for gi, di in zip(grads_input, diff_input_list):
        if gi is None:
            continue
        if masked:
            if not _allclose(gi, zeros_like(gi), 1e-05, 1e-08):
                raise GradcheckError("backward not multiplied by grad_output")
        elif np.any(gi._data != 0):
            raise GradcheckError("backward not multiplied by grad_output")
        if gi.dtype != di.dtype:
            raise GradcheckError("grad is incorrect type")
        if gi.size() != di.size():
            raise GradcheckError("grad is incorrect size")
    return True


class UndefinedGradBackward(Node):
    """torch._C._functions.UndefinedGrad's node: whatever gradient arrives, it passes on none."""

    __slots__ = ()

    def apply(self, grads, create_graph):
        return [None]


def _undefined_grad(o):
    node = UndefinedGradBackward()
    node.next_functions = (edge_of(o),)
    node._seq = next(_seq)
    node._retained = node._pre_hooks = node._hooks = None
    t = _tensor_of(o._data)
    t._req = True
    t.grad_fn = node
    return t


def _test_undefined_backward_mode(func, outputs, inputs):
    """Backward with no gradient arriving at some outputs must work and give no (or zero) input gradients."""
    from engine.ops.factory import zeros_like  # noqa: PLC0415

    diff_input_list = list(_iter_tensors(inputs, True))
    if not diff_input_list:
        raise GradcheckError("no Tensors requiring grad found in input")

    def warn_bc_breaking():
        warnings.warn(
            "Backwards compatibility: New undefined gradient support checking "
            "feature is enabled by default, but it may break existing callers "
            "of this function. If this is true for you, you can call this "
            'function with "check_undefined_grad=False" to disable the feature',
            stacklevel=2,
        )

    def check_undefined_grad_support(output_to_check):
        grads_output = [zeros_like(o) for o in output_to_check]
        try:
            grads_input = grad(output_to_check, diff_input_list, grads_output, allow_unused=True)
        except RuntimeError as e:
            warn_bc_breaking()
            raise GradcheckError(
                "Expected backward function to handle undefined output grads. "
                'Please look at "Notes about undefined output gradients" in '
                '"tools/autograd/derivatives.yaml"'
            ) from e
        for gi in grads_input:
            if gi is not None and np.any(gi._data != 0):
                warn_bc_breaking()
                raise GradcheckError(
                    "Expected all input grads to be undefined or zero when all output grads are undefined "
                    'or zero. Please look at "Notes about undefined output gradients" in '
                    '"tools/autograd/derivatives.yaml"'
                )
        return True

    outputs_to_check = [[_undefined_grad(o) for o in _differentiable_outputs(func(*inputs)) if is_tensor_like(o)]]
    if len(outputs_to_check[0]) > 1:
        for undef_grad_idx in range(len(outputs)):
            output_to_check = _differentiable_outputs(func(*inputs))
            outputs_to_check.append([_undefined_grad(o) if idx == undef_grad_idx else o
                                     for idx, o in enumerate(output_to_check)])
    return all(check_undefined_grad_support(output) for output in outputs_to_check)


def gradcheck(func, inputs, *, eps: float = 1e-6, atol: float = 1e-5, rtol: float = 1e-3,
              raise_exception: bool = True, nondet_tol: float = 0.0, check_undefined_grad: bool = True,
              check_grad_dtypes: bool = False, check_batched_grad: bool = False,
              check_batched_forward_grad: bool = False, check_forward_ad: bool = False,
              check_backward_ad: bool = True, fast_mode: bool = False, masked: bool | None = None) -> bool:
    """Check the gradients of func at inputs (the tensors that require grad) against central finite
    differences; True, or GradcheckError (False with raise_exception=False)."""
    if not (check_forward_ad or check_backward_ad):
        raise TorchAssertionError("Expected at least one of check_forward_ad or check_backward_ad to be True")
    if check_batched_grad and not check_backward_ad:
        raise TorchAssertionError("Setting check_batched_grad=True requires check_backward_ad to be True")
    if check_batched_forward_grad and not check_forward_ad:
        raise TorchAssertionError(
            "Setting check_batched_forward_grad=True requires check_forward_ad to be True")
    args = dict(func=func, inputs=inputs, eps=eps, atol=atol, rtol=rtol, nondet_tol=nondet_tol,
                check_undefined_grad=check_undefined_grad, check_grad_dtypes=check_grad_dtypes,
                check_batched_grad=check_batched_grad, check_batched_forward_grad=check_batched_forward_grad,
                check_forward_ad=check_forward_ad, check_backward_ad=check_backward_ad, fast_mode=fast_mode,
                masked=masked)
    if not raise_exception:
        try:
            return _gradcheck_helper(**args)
        except GradcheckError:
            return False
    return _gradcheck_helper(**args)


def _gradcheck_helper(func, inputs, eps, atol, rtol, nondet_tol, check_undefined_grad, check_grad_dtypes,
                      check_batched_grad, check_batched_forward_grad, check_forward_ad, check_backward_ad,
                      fast_mode, masked):
    tupled_inputs = _as_tuple(inputs)
    _check_inputs(tupled_inputs)
    func_out = func(*tupled_inputs)
    outputs = _differentiable_outputs(func_out)
    gradcheck_fn = functools.partial(_fast_gradcheck if fast_mode else _slow_gradcheck, masked=masked)
    if check_backward_ad:
        gradcheck_fn(func, func_out, tupled_inputs, outputs, eps, rtol, atol, check_grad_dtypes, nondet_tol)
    if check_forward_ad:
        gradcheck_fn(func, func_out, tupled_inputs, outputs, eps, rtol, atol, check_grad_dtypes, nondet_tol,
                     use_forward_ad=True)
        if check_undefined_grad:
            undefined_forward_mode_check(func, outputs, tupled_inputs)
    if check_batched_forward_grad:
        batched_forward_grad_check(func, tupled_inputs)
    if not check_backward_ad:
        return True
    for i, o in enumerate(outputs):
        if check_batched_grad:
            _test_batched_grad(tupled_inputs, o, i)
    _test_backward_mul_by_grad_output(outputs, tupled_inputs, masked)
    if check_undefined_grad and check_backward_ad:
        _test_undefined_backward_mode(func, outputs, tupled_inputs)
    return True


def gradgradcheck(func, inputs, grad_outputs=None, *, eps: float = 1e-6, atol: float = 1e-5, rtol: float = 1e-3,
                  gen_non_contig_grad_outputs: bool = False, raise_exception: bool = True, nondet_tol: float = 0.0,
                  check_undefined_grad: bool = True, check_grad_dtypes: bool = False,
                  check_batched_grad: bool = False, check_fwd_over_rev: bool = False,
                  check_rev_over_rev: bool = True, fast_mode: bool = False, masked: bool = False) -> bool:
    """gradcheck of the function (inputs, grad_outputs) -> autograd.grad(func(inputs), inputs, grad_outputs,
    create_graph=True): second derivatives against finite differences of the first. Without grad_outputs,
    random ones in [-1, 1) (from the engine's generator: torch's draws from its own)."""
    if not (check_fwd_over_rev or check_rev_over_rev):
        raise TorchAssertionError("Expected at least one of check_fwd_over_rev or check_rev_over_rev to be True")
    if check_undefined_grad and not check_rev_over_rev:
        raise TorchAssertionError("Setting check_undefined_grad=True requires check_rev_over_rev to be True")
    if check_batched_grad and not check_rev_over_rev:
        raise TorchAssertionError("Setting check_batched_grad=True requires check_rev_over_rev to be True")
    tupled_inputs = _as_tuple(inputs)
    if grad_outputs is None:
        from engine.ops.factory import _generator  # noqa: PLC0415

        outputs = _differentiable_outputs(func(*tupled_inputs))
        tupled_grad_outputs = []
        for x in outputs:
            dt = x._data.dtype if x.is_floating_point() else np.float64
            budget.charge(x.numel(), 8, what="random grad_outputs")
            t = _tensor_of(B.xp.asarray(_generator[0].uniform(-1.0, 1.0, tuple(x.shape)).astype(dt)))
            t.requires_grad_(True)
            tupled_grad_outputs.append(t)
        tupled_grad_outputs = tuple(tupled_grad_outputs)
    else:
        tupled_grad_outputs = _as_tuple(grad_outputs)
    num_outputs = len(tupled_grad_outputs)
    # the requires_grad of the inputs, kept here: gradcheck detaches inputs for forward-mode checks
    diff_input_args_indices = {i for i, x in enumerate(tupled_inputs) if is_tensor_like(x) and x.requires_grad}
    diff_grad_output_indices = {i for i, x in enumerate(tupled_grad_outputs) if x.requires_grad}

    def new_func(*args):
        input_args = tuple(x.requires_grad_() if i in diff_input_args_indices else x
                           for i, x in enumerate(args[:-num_outputs]))
        outputs = _differentiable_outputs(func(*input_args))
        grad_outputs = tuple(x.requires_grad_() if i in diff_grad_output_indices else x
                             for i, x in enumerate(args[-num_outputs:]))
        diff_input_args = tuple(x for i, x in enumerate(input_args) if i in diff_input_args_indices)
        grad_inputs = grad(outputs, diff_input_args, grad_outputs, create_graph=True, allow_unused=True)
        return tuple(g for g in grad_inputs if g is not None)

    return gradcheck(new_func, tupled_inputs + tupled_grad_outputs, eps=eps, atol=atol, rtol=rtol,
                     raise_exception=raise_exception, nondet_tol=nondet_tol,
                     check_undefined_grad=check_undefined_grad, check_grad_dtypes=check_grad_dtypes,
                     check_batched_grad=check_batched_grad, fast_mode=fast_mode, check_forward_ad=check_fwd_over_rev,
                     check_backward_ad=check_rev_over_rev, masked=masked)


# torch.autograd.gradcheck is the function; its module is reached by path. The class is also an attribute
# of the function, so `engine.autograd.gradcheck.GradcheckError` works as well.
gradcheck.GradcheckError = GradcheckError
