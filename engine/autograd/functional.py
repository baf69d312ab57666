"""torch.autograd.functional: vjp, jvp, jacobian, hessian, hvp and vhp, ported line for line from PyTorch 2.13."""
from __future__ import annotations

from engine import _backend as B
from engine import budget
from engine.autograd import enable_grad, grad, grad_mode, set_grad_enabled
from engine.autograd.gradcheck_jacobians import _as_tuple as _as_tuple_nocheck  # x as a tuple, unchecked
from engine.errors import (
    TorchAssertionError,
    TorchNotImplementedError,
    TorchRuntimeError,
    TorchTypeError,
)

__all__ = ["vjp", "jvp", "jacobian", "hessian", "hvp", "vhp"]

def _Tensor():
    from engine.tensor import Tensor  # noqa: PLC0415 - engine.tensor imports engine.autograd

    return Tensor


# ----- utility functions (torch's names) -----


def _as_tuple(inp, arg_name=None, fn_name=None):
    """Whether `inp` was a tuple, and it as a tuple of Tensors (torch's TypeError otherwise)."""
    if arg_name is None and fn_name is None:
        return _as_tuple_nocheck(inp)
    Tensor = _Tensor()
    is_inp_tuple = True
    if not isinstance(inp, tuple):
        inp = (inp,)
        is_inp_tuple = False
    for i, el in enumerate(inp):
        if not isinstance(el, Tensor):
            if is_inp_tuple:
                raise TorchTypeError(
                    f"The {arg_name} given to {fn_name} must be either a Tensor or a tuple of Tensors but the"
                    f" value at index {i} has type {type(el)}."
                )
            raise TorchTypeError(
                f"The {arg_name} given to {fn_name} must be either a Tensor or a tuple of Tensors but the"
                f" given {arg_name} has type {type(el)}."
            )
    return is_inp_tuple, inp


def _tuple_postprocess(res, to_unpack):
    """Undo _as_tuple on a (possibly doubly) nested result."""
    if isinstance(to_unpack, tuple):
        if not to_unpack[1]:
            res = tuple(el[0] for el in res)
        if not to_unpack[0]:
            res = res[0]
    elif not to_unpack:
        res = res[0]
    return res


def _grad_preprocess(inputs, create_graph, need_graph):
    """Always new Tensor objects, so the function's own captures of the inputs are told apart (torch #32576):
    a differentiable view where the caller's graph must continue, else a detached leaf."""
    res = []
    for inp in inputs:
        if create_graph and inp.requires_grad:
            res.append(inp.view_as(inp))
        else:
            res.append(inp.detach().requires_grad_(need_graph))
    return tuple(res)


def _grad_postprocess(inputs, create_graph):
    if isinstance(inputs[0], _Tensor()):
        if not create_graph:
            return tuple(inp.detach() for inp in inputs)
        return inputs
    return tuple(_grad_postprocess(inp, create_graph) for inp in inputs)


def _validate_v(v, other, is_other_tuple):
    if len(other) != len(v):
        if is_other_tuple:
            raise TorchRuntimeError(f"v is a tuple of invalid length: should be {len(other)} but got {len(v)}.")
        raise TorchRuntimeError("The given v should contain a single Tensor.")
    for idx, (el_v, el_other) in enumerate(zip(v, other)):
        if el_v.size() != el_other.size():
            prepend = f"Entry {idx} in " if is_other_tuple else ""
            raise TorchRuntimeError(
                f"{prepend}v has invalid size: should be {el_other.size()} but got {el_v.size()}."
            )


def _check_requires_grad(inputs, input_type, strict):
    if not strict:
        return
    if input_type not in ["outputs", "grad_inputs", "jacobian", "hessian"]:
        raise TorchRuntimeError("Invalid input_type to _check_requires_grad")
    for i, inp in enumerate(inputs):
        if inp is None:
            raise TorchRuntimeError(
                f"The output of the user-provided function is independent of input {i}."
                " This is not allowed in strict mode."
            )
        if not inp.requires_grad:
            if input_type == "hessian":
                raise TorchRuntimeError(
                    f"The hessian of the user-provided function with respect to input {i}"
                    " is independent of the input. This is not allowed in strict mode."
                    " You should ensure that your function is thrice differentiable and that"
                    " the hessian depends on the inputs."
                )
            if input_type == "jacobian":
                raise TorchRuntimeError(
                    "While computing the hessian, found that the jacobian of the user-provided"
                    f" function with respect to input {i} is independent of the input. This is not"
                    " allowed in strict mode. You should ensure that your function is twice"
                    " differentiable and that the jacobian depends on the inputs (this would be"
                    " violated by a linear function for example)."
                )
            if input_type == "grad_inputs":
                raise TorchRuntimeError(
                    f"The gradient with respect to input {i} is independent of the inputs of the"
                    " user-provided function. This is not allowed in strict mode."
                )
            raise TorchRuntimeError(
                f"Output {i} of the user-provided function does not require gradients."
                " The outputs must be computed in a differentiable manner from the input"
                " when running in strict mode."
            )


def _autograd_grad(outputs, inputs, grad_outputs=None, create_graph=False, retain_graph=None,
                   is_grads_batched=False):
    """autograd.grad that skips outputs which do not require grad (None for every input if none does)."""
    if grad_outputs is None:
        grad_outputs = (None,) * len(outputs)
    new_outputs = ()
    new_grad_outputs = ()
    for out, grad_out in zip(outputs, grad_outputs):
        if out is not None and out.requires_grad:
            new_outputs += (out,)
            new_grad_outputs += (grad_out,)
    if len(new_outputs) == 0:
        return (None,) * len(inputs)
    return grad(new_outputs, inputs, new_grad_outputs, allow_unused=True, create_graph=create_graph,
                retain_graph=retain_graph, is_grads_batched=is_grads_batched)


def _fill_in_zeros(grads, refs, strict, create_graph, stage):
    """Zeros where a gradient is None (or torch's strict-mode error, worded for the stage it arose in)."""
    if stage not in ["back", "back_trick", "double_back", "double_back_trick"]:
        raise TorchRuntimeError(f"Invalid stage argument '{stage}' to _fill_in_zeros")
    from engine.ops.factory import zeros_like  # noqa: PLC0415

    res = ()
    for i, grads_i in enumerate(grads):
        if grads_i is None:
            if strict:
                if stage == "back":
                    raise TorchRuntimeError(
                        "The output of the user-provided function is independent of "
                        f"input {i}. This is not allowed in strict mode."
                    )
                if stage == "back_trick":
                    raise TorchRuntimeError(
                        f"The gradient with respect to the input is independent of entry {i}"
                        " in the grad_outputs when using the double backward trick to compute"
                        " forward mode gradients. This is not allowed in strict mode."
                    )
                if stage == "double_back":
                    raise TorchRuntimeError(
                        "The jacobian of the user-provided function is independent of "
                        f"input {i}. This is not allowed in strict mode."
                    )
                raise TorchRuntimeError(
                    "The hessian of the user-provided function is independent of "
                    f"entry {i} in the grad_jacobian. This is not allowed in strict "
                    "mode as it prevents from using the double backward trick to "
                    "replace forward mode AD."
                )
            grads_i = zeros_like(refs[i])
        elif strict and create_graph and not grads_i.requires_grad:
            if "double" not in stage:
                raise TorchRuntimeError(
                    "The jacobian of the user-provided function is independent of "
                    f"input {i}. This is not allowed in strict mode when create_graph=True."
                )
            raise TorchRuntimeError(
                "The hessian of the user-provided function is independent of "
                f"input {i}. This is not allowed in strict mode when create_graph=True."
            )
        res += (grads_i,)
    return res


# ----- the steps vjp, jvp, jacobian, vhp and hvp share -----


_INPUT_IS = "the input to the user-provided function is"


def _preprocess_inputs(inputs, create_graph, name):
    """Whether inputs was a tuple, and them as fresh Tensors that require grad (_grad_preprocess)."""
    is_inputs_tuple, inputs = _as_tuple(inputs, "inputs", name)
    return is_inputs_tuple, _grad_preprocess(inputs, create_graph=create_graph, need_graph=True)


def _call(func, inputs, strict, name):
    """func run at inputs: whether it returned a tuple, and its outputs as a tuple (strict mode checked)."""
    is_outputs_tuple, outputs = _as_tuple(func(*inputs), "outputs of the user-provided function", name)
    _check_requires_grad(outputs, "outputs", strict=strict)
    return is_outputs_tuple, outputs


def _preprocess_v(v, refs, is_refs_tuple, create_graph, name, refs_are):
    """v as a tuple checked against refs (torch's errors); None only where refs is one single-element Tensor."""
    if v is not None:
        _, v = _as_tuple(v, "v", name)
        v = _grad_preprocess(v, create_graph=create_graph, need_graph=False)
        _validate_v(v, refs, is_refs_tuple)
    elif len(refs) != 1 or refs[0].nelement() != 1:
        raise TorchRuntimeError(f"The vector v can only be None if {refs_are} a single Tensor with a single element.")
    return v


def _second_pass(outputs, is_outputs_tuple, grad_args, refs, is_result_tuple, strict, create_graph, stage):
    """The last backward pass (grad_args: outputs, inputs, grad_outputs), zeros filled in where it gave
    None (shaped as refs), both results detached unless create_graph: (outputs, result) as the caller's."""
    with set_grad_enabled(True if create_graph else grad_mode.enabled):
        grad_res = _autograd_grad(*grad_args, create_graph=create_graph)
        result = _fill_in_zeros(grad_res, refs, strict, create_graph, stage)
    outputs = _grad_postprocess(outputs, create_graph)
    result = _grad_postprocess(result, create_graph)
    return _tuple_postprocess(outputs, is_outputs_tuple), _tuple_postprocess(result, is_result_tuple)


def _check_single_output(outputs, is_outputs_tuple, name):
    """hessian's, vhp's and hvp's rule: func returns one Tensor of a single element."""
    if is_outputs_tuple or not isinstance(outputs[0], _Tensor()):
        raise TorchRuntimeError(f"The function given to {name} should return a single Tensor")
    if outputs[0].nelement() != 1:
        raise TorchRuntimeError(f"The Tensor returned by the function given to {name} should contain a single element")


# ----- vjp, jvp -----


def vjp(func, inputs, v=None, create_graph=False, strict=False):
    """The vector-Jacobian product v^T J of func at inputs: (func(inputs), vjp)."""
    with enable_grad():
        is_inputs_tuple, inputs = _preprocess_inputs(inputs, create_graph, "vjp")
        is_outputs_tuple, outputs = _call(func, inputs, strict, "vjp")
        v = _preprocess_v(v, outputs, is_outputs_tuple, create_graph, "vjp", "the user-provided function returns")
    return _second_pass(outputs, is_outputs_tuple, (outputs, inputs, v), inputs, is_inputs_tuple,
                        strict, create_graph, "back")


def jvp(func, inputs, v=None, create_graph=False, strict=False):
    """The Jacobian-vector product J v of func at inputs, by the double-backward trick (as torch's)."""
    from engine.ops.factory import zeros_like  # noqa: PLC0415

    with enable_grad():
        is_inputs_tuple, inputs = _preprocess_inputs(inputs, create_graph, "jvp")
        v = _preprocess_v(v, inputs, is_inputs_tuple, create_graph, "jvp", _INPUT_IS)
        is_outputs_tuple, outputs = _call(func, inputs, strict, "jvp")
        # the backward is linear in grad_outputs: its value never reaches the double backward's result
        grad_outputs = tuple(zeros_like(out, requires_grad=True) for out in outputs)
        grad_inputs = _autograd_grad(outputs, inputs, grad_outputs, create_graph=True)
        _check_requires_grad(grad_inputs, "grad_inputs", strict=strict)
    return _second_pass(outputs, is_outputs_tuple, (grad_inputs, grad_outputs, v), outputs, is_outputs_tuple,
                        strict, create_graph, "back_trick")


# ----- jacobian, hessian -----


def _construct_standard_basis_for(tensors, tensor_numels):
    """The N x N identity (N = sum of numels) split by columns into one (N, numel) block per tensor, each in
    its tensor's dtype: row i is the i-th basis vector of the flattened, concatenated tensors."""
    from engine.ops.factory import _finish  # noqa: PLC0415

    total = sum(tensor_numels)
    chunks = []
    start = 0
    for t, n in zip(tensors, tensor_numels):
        budget.charge(total * n, t._data.dtype.itemsize, what="a standard basis")
        block = B.xp.zeros((total, n), dtype=t._data.dtype)
        block[B.xp.arange(start, start + n), B.xp.arange(n)] = 1
        chunks.append(_finish(block, False))
        start += n
    return tuple(chunks)


def _jacfwd(func, inputs, strict=False, vectorize=False, expect=None, known=None):
    """The Jacobian by forward-mode AD: the standard basis of the flattened inputs as one batch of tangents (a
    batched dual level: vmap over forward AD, as torch's), each output's batched tangent its Jacobian transposed.
    expect: as jacobian's, called with the blocks [(shape, numpy dtype), ...] (block (i, j) in output i's
    tangent's dtype, as torch's) before the basis where the caller knows them (known: hessian's, from its inputs),
    else once the function has run, before the blocks are copied out of its tangents."""
    if strict:
        raise TorchRuntimeError(
            "torch.autograd.functional.jacobian: `strict=True` "
            'and `strategy="forward-mode"` are not supported together (yet). '
            "Please either set `strict=False` or "
            '`strategy="reverse-mode"`.'
        )
    is_inputs_tuple, inputs = _as_tuple(inputs, "inputs", "jacobian")
    if vectorize:
        from engine.autograd import forward_ad as fwAD  # noqa: PLC0415 - it imports this package
        from engine.ops.factory import zeros  # noqa: PLC0415

        if expect is not None and known is not None:
            expect(known(inputs))
        input_numels = tuple(input.numel() for input in inputs)
        tangents = _construct_standard_basis_for(inputs, input_numels)
        n = sum(input_numels)
        with fwAD._batched_level(n):
            dual_inputs = tuple(fwAD.make_dual(input, tangent.view((n, *input.shape)))
                                for input, tangent in zip(inputs, tangents))
            is_outputs_tuple, dual_outputs = _as_tuple(func(*dual_inputs), "outputs")
            jv, outputs = [], []
            for dual_out in dual_outputs:
                primal, tangent = fwAD.unpack_dual(dual_out)
                outputs.append(primal)
                jv.append(tangent if tangent is not None else zeros((n, *primal.shape), dtype=primal.dtype))
        if expect is not None and known is None:
            expect([(tuple(out.shape) + tuple(inp.shape), jac._data.dtype) for out, jac in zip(outputs, jv)
                    for inp in inputs])
        jacobian_input_output = []
        for jac_output_i, output_i in zip(jv, outputs):
            jacobian_output_i_output = []
            for jac, input_j in zip(jac_output_i.split(list(input_numels), 0), inputs):
                # the batch dim runs over the inputs in forward mode: it goes last
                jacobian_output_i_output.append(
                    jac.permute(*range(1, jac.ndim), 0).reshape((*output_i.shape, *input_j.shape)))
            jacobian_input_output.append(jacobian_output_i_output)
        return _tuple_postprocess(jacobian_input_output, (is_outputs_tuple, is_inputs_tuple))
    raise TorchNotImplementedError(
        "Computing Jacobian using forward-AD or forward-over-reverse Hessian is"
        "only implemented for `vectorize=True`."
    )


def jacobian(func, inputs, create_graph=False, strict=False, vectorize=False, strategy="reverse-mode", *,
             expect=None):
    """The Jacobian of func at inputs: one Tensor of shape output.shape + input.shape per (output, input)
    pair, nested as the outputs and inputs are (torch's rules). vectorize=True: one backward pass over the
    whole standard basis (autograd.grad's is_grads_batched) instead of one per output element.
    expect (not torch's): called with the result's blocks [(shape, numpy dtype), ...] once the function has run:
    in reverse mode before the first backward pass (POST /v1/functional: the response's size, redteam11 F7),
    where a Jacobian's rows are also charged from their shape; in forward mode before the blocks are copied out
    of the tangents (the function's run is the work there: its outputs' shapes are not known before it)."""
    return _jacobian(func, inputs, create_graph, strict, vectorize, strategy, expect)


def _jacobian(func, inputs, create_graph, strict, vectorize, strategy, expect, known=None):
    """jacobian; known (hessian's, forward mode): the blocks from the inputs, for expect before any work."""
    if strategy not in ("forward-mode", "reverse-mode"):
        raise TorchAssertionError(
            'Expected strategy to be either "forward-mode" or "reverse-mode". Hint: If your '
            'function has more outputs than inputs, "forward-mode" tends to be more performant. '
            'Otherwise, prefer to use "reverse-mode".'
        )
    if strategy == "forward-mode":
        if create_graph:
            raise TorchNotImplementedError(
                "torch.autograd.functional.jacobian: `create_graph=True` "
                'and `strategy="forward-mode"` are not supported together (yet). '
                "Please either set `create_graph=False` or "
                '`strategy="reverse-mode"`.'
            )
        return _jacfwd(func, inputs, strict, vectorize, expect, known)

    with enable_grad():
        is_inputs_tuple, inputs = _preprocess_inputs(inputs, create_graph, "jacobian")
        is_outputs_tuple, outputs = _call(func, inputs, strict, "jacobian")
        if vectorize:
            if strict:
                raise TorchRuntimeError(
                    "torch.autograd.functional.jacobian: `strict=True` "
                    "and `vectorized=True` are not supported together. "
                    "Please either set `strict=False` or "
                    "`vectorize=False`."
                )
            return _jacobian_vectorized(outputs, inputs, create_graph, is_outputs_tuple, is_inputs_tuple, expect)
        return _jacobian_rows(outputs, inputs, create_graph, strict, is_outputs_tuple, is_inputs_tuple, expect)


def _blocks(outputs, inputs):
    """The Jacobian's blocks in reverse mode, (shape, numpy dtype) for each (output, input): the input's dtype
    (the gradients' and zeros_like's)."""
    return [(tuple(out.shape) + tuple(inp.shape), inp._data.dtype) for out in outputs for inp in inputs]


def _jacobian_vectorized(outputs, inputs, create_graph, is_outputs_tuple, is_inputs_tuple, expect=None):
    """torch's NOTE [Computing jacobian with vmap and grad for multiple outputs]: the standard basis of
    the flattened outputs, split across them, as one batch of grad_outputs for a single backward pass."""
    output_numels = tuple(output.numel() for output in outputs)
    grad_outputs = _construct_standard_basis_for(outputs, output_numels)
    if expect is not None:
        expect(_blocks(outputs, inputs))
    flat_outputs = tuple(output.reshape(-1) for output in outputs)
    vj = list(_autograd_grad(flat_outputs, inputs, grad_outputs, create_graph=create_graph,
                             is_grads_batched=True))
    for el_idx, vj_el in enumerate(vj):
        if vj_el is not None:
            continue
        from engine.ops.factory import zeros_like  # noqa: PLC0415

        vj[el_idx] = zeros_like(inputs[el_idx]).expand((sum(output_numels),) + tuple(inputs[el_idx].shape))
    jacobian_input_output = []
    for jac_input_i, input_i in zip(vj, inputs):
        jacobian_input_i_output = []
        for jac, output_j in zip(jac_input_i.split(list(output_numels), 0), outputs):
            jacobian_input_i_output.append(jac.view(tuple(output_j.shape) + tuple(input_i.shape)))
        jacobian_input_output.append(jacobian_input_i_output)
    jacobian_output_input = tuple(zip(*jacobian_input_output))
    jacobian_output_input = _grad_postprocess(jacobian_output_input, create_graph)
    return _tuple_postprocess(jacobian_output_input, (is_outputs_tuple, is_inputs_tuple))


def _jacobian_rows(outputs, inputs, create_graph, strict, is_outputs_tuple, is_inputs_tuple, expect=None):
    """One backward pass per output element (a Jacobian row), stacked."""
    from engine.ops.factory import zeros_like  # noqa: PLC0415
    from engine.ops.join import stack  # noqa: PLC0415

    _charge_rows(outputs, inputs)
    if expect is not None:
        expect(_blocks(outputs, inputs))
    jac = ()
    for i, out in enumerate(outputs):
        jac_i = tuple([] for _ in range(len(inputs)))
        for j in range(out.nelement()):
            budget.check()
            vj = _autograd_grad((out.reshape(-1)[j],), inputs, retain_graph=True, create_graph=create_graph)
            for el_idx, (jac_i_el, vj_el, inp_el) in enumerate(zip(jac_i, vj, inputs)):
                if vj_el is not None:
                    if strict and create_graph and not vj_el.requires_grad:
                        raise TorchRuntimeError(
                            "The jacobian of the user-provided function is "
                            f"independent of input {i}. This is not allowed in "
                            "strict mode when create_graph=True."
                        )
                    jac_i_el.append(vj_el)
                else:
                    if strict:
                        raise TorchRuntimeError(
                            f"Output {i} of the user-provided function is "
                            f"independent of input {el_idx}. This is not allowed in "
                            "strict mode."
                        )
                    jac_i_el.append(zeros_like(inp_el))
        jac += (tuple(stack(jac_i_el, 0).view(tuple(out.size()) + tuple(inputs[el_idx].size()))
                      for el_idx, jac_i_el in enumerate(jac_i)),)
    jac = _grad_postprocess(jac, create_graph)
    return _tuple_postprocess(jac, (is_outputs_tuple, is_inputs_tuple))


def _charge_rows(outputs, inputs):
    """Before the first backward pass, what the rows and their stacks will hold at the last stack (a lower
    bound of its charge then: every block, and the last output's rows beside its blocks), and the largest
    block's elements: a Jacobian that cannot be held is refused before its passes, not after (redteam11 F7)."""
    b = budget.current()
    if b is None:
        return
    blocks = [(out.numel() * inp.numel(), inp._data.dtype.itemsize) for out in outputs for inp in inputs]
    for n, _ in blocks:  # in the order they are stacked: the first too large is the one stack would refuse
        b.charge(0, 0.0, "the Jacobian's rows", n)
    last = blocks[len(blocks) - len(inputs):]
    b.charge(sum(n * size for n, size in blocks) + sum(n * size for n, size in last), 0.0, "the Jacobian's rows")


def hessian(func, inputs, create_graph=False, strict=False, vectorize=False,
            outer_jacobian_strategy="reverse-mode", *, expect=None):
    """The Hessian of a scalar func at inputs: the Jacobian of its gradient (hessian[i][j] for a tuple).
    expect: as jacobian's, for the outer Jacobian (the Hessian's blocks); in forward mode (forward-over-reverse:
    all the work is in the one batched call) from the inputs' shapes, before the function runs (safeJ)."""
    is_inputs_tuple, inputs = _as_tuple(inputs, "inputs", "hessian")
    if outer_jacobian_strategy not in ("forward-mode", "reverse-mode"):
        raise TorchAssertionError('Expected strategy to be either "forward-mode" or "reverse-mode".')

    def ensure_single_output_function(*inp):
        is_out_tuple, t_out = _call(func, inp, strict, "hessian")
        _check_single_output(t_out, is_out_tuple, "hessian")
        return t_out[0].squeeze()

    def jac_func(*inp):
        if outer_jacobian_strategy == "forward-mode":
            inp = tuple(t.requires_grad_(True) for t in inp)
        jac = jacobian(ensure_single_output_function, inp, create_graph=True)
        _check_requires_grad(jac, "jacobian", strict=strict)
        return jac

    res = _jacobian(jac_func, inputs, create_graph, strict, vectorize, outer_jacobian_strategy, expect,
                    _hessian_blocks)
    return _tuple_postprocess(res, (is_inputs_tuple, is_inputs_tuple))


def _hessian_blocks(inputs):
    """A Hessian's blocks before its function runs, in forward mode: block (i, j) is gradient i's tangent along
    input j, input i's shape then input j's, in input i's dtype (gradient i's: torch's forward-mode dtypes)."""
    return [(tuple(a.shape) + tuple(b.shape), a._data.dtype) for a in inputs for b in inputs]


# ----- vhp, hvp -----


def _scalar_function_outputs(func, inputs, v, create_graph, strict, name):
    """vhp's and hvp's common start: inputs, v checked, func run and held to one single-element Tensor, and
    its gradient with a graph (the Jacobian)."""
    is_inputs_tuple, inputs = _preprocess_inputs(inputs, create_graph, name)
    v = _preprocess_v(v, inputs, is_inputs_tuple, create_graph, name, _INPUT_IS)
    is_outputs_tuple, outputs = _call(func, inputs, strict, name)
    _check_single_output(outputs, is_outputs_tuple, name)
    jac = _autograd_grad(outputs, inputs, create_graph=True)
    _check_requires_grad(jac, "jacobian", strict=strict)
    return is_inputs_tuple, inputs, v, is_outputs_tuple, outputs, jac


def vhp(func, inputs, v=None, create_graph=False, strict=False):
    """v^T H of a scalar func at inputs: (func(inputs), vhp)."""
    with enable_grad():
        is_inputs_tuple, inputs, v, is_outputs_tuple, outputs, jac = _scalar_function_outputs(
            func, inputs, v, create_graph, strict, "vhp")
    return _second_pass(outputs, is_outputs_tuple, (jac, inputs, v), inputs, is_inputs_tuple,
                        strict, create_graph, "double_back")


def hvp(func, inputs, v=None, create_graph=False, strict=False):
    """H v of a scalar func at inputs, by the double-backward trick: (func(inputs), hvp)."""
    from engine.ops.factory import zeros_like  # noqa: PLC0415

    with enable_grad():
        is_inputs_tuple, inputs, v, is_outputs_tuple, outputs, jac = _scalar_function_outputs(
            func, inputs, v, create_graph, strict, "hvp")
        grad_jac = tuple(zeros_like(inp, requires_grad=True) for inp in inputs)
        double_back = _autograd_grad(jac, inputs, grad_jac, create_graph=True)
        _check_requires_grad(jac, "hessian", strict=strict)
    return _second_pass(outputs, is_outputs_tuple, (double_back, grad_jac, v), inputs, is_inputs_tuple,
                        strict, create_graph, "double_back_trick")
