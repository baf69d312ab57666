"""The convolutions' NumPy kernels (im2col forward, transposed, weight gradient; in tiles or per kernel offset
past _IM2COL_MAX) and their cost rules, which mirror the kernels' choices from the shapes alone."""
from __future__ import annotations

import numpy as np

from engine import _backend as B
from engine import budget as _budget
from engine.ops import rules as R
from engine.ops._window import offsets as _offsets
from engine.ops._window import pad_hw as _pad_hw
from engine.ops._window import tap as _tap
from engine.ops._window import windows as _windows
from engine.ops.conv_checks import _expand_param, _p2

# ======================================================================================================
# numpy kernels (2-d spatial; 1-d convolutions run as 2-d with a height of one)
# ======================================================================================================



# An im2col buffer (N*P*Q rows of C*kh*kw) is held at most _IM2COL_MAX elements or _IM2COL_RATIO times the
# kernel's input and output together at once: past that, the convolution and its weight gradient build it in
# tiles of output rows (each tile one matmul with the same long contraction), and where a single output row's
# columns are past it too, loop over the kernel offsets (one strided slice and matmul each). A 20x20 kernel
# over a 1000x1000 image made a 1.5 GiB buffer.
_IM2COL_MAX = 1 << 20
_IM2COL_RATIO = 4


def _tile_rows(n, c, p, q, kh, kw, around):
    """Output rows per im2col tile (p or more: the whole buffer at once), or 0: loop over kernel offsets.
    around: the elements of the kernel's input and output."""
    per_row = n * q * c * kh * kw
    if per_row == 0:
        return p
    return builtin_max(_IM2COL_MAX, _IM2COL_RATIO * around) // per_row


def _im2col(n, c, p, q, kh, kw, around):
    """Whether a kernel builds the whole im2col buffer at once."""
    return _tile_rows(n, c, p, q, kh, kw, around) >= p


def _win_cols(win, g, r0, r1):
    """Rows r0:r1 of the windows (N, C, P, Q, kh, kw) as im2col columns (G, N*rows*Q, Cig*kh*kw): a copy."""
    n, c, _, q, kh, kw = win.shape
    return (win[:, :, r0:r1].reshape(n, g, c // g, r1 - r0, q, kh, kw).transpose(1, 0, 3, 4, 2, 5, 6)
            .reshape(g, n * (r1 - r0) * q, (c // g) * kh * kw))



def _tap_cols(t, g):
    """A tap (N, G*Cig, P, Q) as (G, N*P*Q, Cig) rows, the layout of one kernel offset's im2col columns."""
    n, c, p, q = t.shape
    return t.reshape(n, g, c // g, p, q).transpose(1, 0, 3, 4, 2).reshape(g, n * p * q, c // g)


def _conv_out_hw(in_hw, k_hw, stride, padding, dilation):
    return tuple(
        (in_hw[i] + 2 * padding[i] - dilation[i] * (k_hw[i] - 1) - 1) // stride[i] + 1 for i in range(2)
    )


def _conv2d_np(x, w, stride, padding, dilation, groups):
    """out[n, g*Cog+o, p, q] = sum over c, kh, kw of
    xpad[n, g*Cig+c, p*s+kh*d, q*s+kw*d] * w[g*Cog+o, c, kh, kw]."""
    n, cin, h, wd = x.shape
    cout, cig, kh, kw = w.shape
    g = groups
    cog = cout // g
    out_hw = _conv_out_hw((h, wd), (kh, kw), stride, padding, dilation)
    if n == 0 or cout == 0 or cig == 0 or out_hw[0] <= 0 or out_hw[1] <= 0:
        return B.xp.zeros(
            (n, cout, builtin_max(out_hw[0], 0), builtin_max(out_hw[1], 0)),
            dtype=np.result_type(x.dtype, w.dtype),
        )
    xpad = _pad_hw(x, padding)
    p, q = out_hw
    rows = _tile_rows(n, cin, p, q, kh, kw, x.size + n * cout * p * q)
    if rows:
        win = _windows(xpad, out_hw, (kh, kw), stride, dilation)  # N, C, P, Q, kh, kw
        wm = w.reshape(g, cog, cig * kh * kw).transpose(0, 2, 1)
        if rows >= p:
            out = np.matmul(_win_cols(win, g, 0, p), wm)  # g, N*P*Q, cog
        else:
            out = B.xp.empty((g, n, p, q, cog), dtype=np.result_type(x.dtype, w.dtype))
            for r0 in range(0, p, rows):
                _budget.check()
                r1 = builtin_min(p, r0 + rows)
                out[:, :, r0:r1] = np.matmul(_win_cols(win, g, r0, r1), wm).reshape(g, n, r1 - r0, q, cog)
    else:
        wg = w.reshape(g, cog, cig, kh, kw)
        out = None
        for i, j in _offsets(kh, kw):
            term = np.matmul(_tap_cols(_tap(xpad, i, j, out_hw, stride, dilation), g),
                             wg[:, :, :, i, j].transpose(0, 2, 1))  # g, N*P*Q, cog
            if out is None:
                out = term
            else:
                out += term
    return B.xp.ascontiguousarray(out.reshape(g, n, p, q, cog).transpose(1, 0, 4, 2, 3).reshape(n, cout, p, q))


def _conv2d_transpose_np(y, w, out_hw, stride, padding, dilation, groups):
    """Adjoint of _conv2d_np in its input: y (N, Cout, P, Q) -> (N, G*Cig, *out_hw)."""
    n, cout, p, q = y.shape
    _, cig, kh, kw = w.shape
    g = groups
    cog = cout // g
    h, wd = out_hw
    dt = np.result_type(y.dtype, w.dtype)
    need_h = (p - 1) * stride[0] + (kh - 1) * dilation[0] + 1 if p else 0
    need_w = (q - 1) * stride[1] + (kw - 1) * dilation[1] + 1 if q else 0
    ph = builtin_max(h + 2 * padding[0], need_h)
    pw = builtin_max(wd + 2 * padding[1], need_w)
    xp = B.xp.zeros((n, g * cig, ph, pw), dtype=dt)
    if n and p and q and cout and cig:
        ym = y.reshape(n, g, cog, p * q).transpose(1, 2, 0, 3).reshape(g, cog, n * p * q)
        xv = xp.reshape(n, g, cig, ph, pw)
        whole = _im2col(n, g * cig, p, q, kh, kw, y.size + n * g * cig * h * wd)
        if whole:
            wm = w.reshape(g, cog, cig * kh * kw).transpose(0, 2, 1)  # g, cig*kk, cog
            cols = np.matmul(wm, ym).reshape(g, cig, kh, kw, n, p, q)
        else:
            wg = w.reshape(g, cog, cig, kh, kw)
        for i, j in _offsets(kh, kw):
            hs, ws = i * dilation[0], j * dilation[1]
            part = cols[:, :, i, j] if whole else np.matmul(
                wg[:, :, :, i, j].transpose(0, 2, 1), ym).reshape(g, cig, n, p, q)
            xv[
                :,
                :,
                :,
                hs : hs + (p - 1) * stride[0] + 1 : stride[0],
                ws : ws + (q - 1) * stride[1] + 1 : stride[1],
            ] += part.transpose(2, 0, 1, 3, 4)
    return B.xp.ascontiguousarray(xp[:, :, padding[0] : padding[0] + h, padding[1] : padding[1] + wd])


def _conv2d_weight_np(gy, x, w_shape, stride, padding, dilation, groups):
    """d <gy, conv(x, w)> / dw."""
    n, cin, h, wd = x.shape
    cout, cig, kh, kw = w_shape
    g = groups
    cog = cout // g
    _, _, p, q = gy.shape
    dt = np.result_type(gy.dtype, x.dtype)
    if n == 0 or p == 0 or q == 0 or cout == 0 or cig == 0:
        return B.xp.zeros(tuple(w_shape), dtype=dt)
    xpad = _pad_hw(x, padding)
    rows = _tile_rows(n, cin, p, q, kh, kw, x.size + gy.size)
    if rows:
        win = _windows(xpad, (p, q), (kh, kw), stride, dilation)
        gw = None
        for r0 in range(0, p, rows):
            _budget.check()
            r1 = builtin_min(p, r0 + rows)
            gm = gy[:, :, r0:r1].reshape(n, g, cog, (r1 - r0) * q).transpose(1, 2, 0, 3).reshape(
                g, cog, n * (r1 - r0) * q)
            term = np.matmul(gm, _win_cols(win, g, r0, r1))
            gw = term if gw is None else np.add(gw, term, out=gw)
        return B.xp.ascontiguousarray(gw.reshape(cout, cig, kh, kw))
    gm = gy.reshape(n, g, cog, p * q).transpose(1, 2, 0, 3).reshape(g, cog, n * p * q)
    gw = B.xp.empty((g, cog, cig, kh, kw), dtype=dt)
    for i, j in _offsets(kh, kw):
        gw[:, :, :, i, j] = np.matmul(gm, _tap_cols(_tap(xpad, i, j, (p, q), stride, dilation), g))
    return gw.reshape(cout, cig, kh, kw)


builtin_max, builtin_min = max, min


# ----- cost rules: the kernels' allocations, from the shapes alone (engine/ops/rules.py) -----


def _spatial2(shape):
    """(H, W) of a 1-d or 2-d convolution operand, as the kernels see it (1-d: a height of one)."""
    return (1, shape[2]) if len(shape) == 3 else (shape[2], shape[3])


def _conv_temp(n, cin, hw, k_hw, out_hw, padding, out_n):
    """_conv2d_np beside its output: the padded input, the im2col buffer (or one offset's columns and one
    product term), the product before its relayout into the output."""
    p, q = out_hw
    pad = n * cin * (hw[0] + 2 * padding[0]) * (hw[1] + 2 * padding[1])
    rows = _tile_rows(n, cin, p, q, *k_hw, n * cin * hw[0] * hw[1] + out_n)
    if rows:
        return pad + n * builtin_min(rows, p) * q * cin * k_hw[0] * k_hw[1]
    return pad + n * p * q * cin


def _transpose_temp(y_n, n, cig_g, out_hw_padded, in_pq, k_hw, out_n):
    """_conv2d_transpose_np beside its output: the zero-filled padded result, y's relayout, the columns (all
    offsets at once, or one offset's)."""
    p, q = in_pq
    xp = n * cig_g * out_hw_padded[0] * out_hw_padded[1]
    cols = n * p * q * cig_g * (k_hw[0] * k_hw[1] if _im2col(n, cig_g, p, q, *k_hw, y_n + out_n) else 1)
    return xp + y_n + cols


def _weight_temp(gy_n, n, cin, hw, k_hw, pq, padding):
    """_conv2d_weight_np beside its output: the padded input, gy's relayout, the columns."""
    p, q = pq
    pad = n * cin * (hw[0] + 2 * padding[0]) * (hw[1] + 2 * padding[1])
    x_n = n * cin * hw[0] * hw[1]
    rows = _tile_rows(n, cin, p, q, *k_hw, x_n + gy_n)
    cols = n * builtin_min(rows, p) * q * cin * k_hw[0] * k_hw[1] if rows else n * p * q * cin
    return pad + gy_n + cols


def _params2(w_shape, stride, padding, dilation, output_padding):
    nd = len(w_shape) - 2
    s, p, d, op = (_expand_param(v, name, nd) for v, name in (
        (stride, "stride"), (padding, "padding"), (dilation, "dilation"), (output_padding, "output_padding")))
    return nd, _p2(s, nd, 1), _p2(p, nd, 0), _p2(d, nd, 1), _p2(op, nd, 0)


def _conv_shapes(x_shape, w_shape, stride, padding, dilation, transposed, output_padding, groups):
    """The output shape of `convolution`, and its 2-d geometry: (out, hw, k, out_hw, s, p, d)."""
    nd, s, p, d, op = _params2(w_shape, stride, padding, dilation, output_padding)
    hw, k = _spatial2(x_shape), _spatial2(w_shape)
    if not transposed:
        cout = w_shape[0]
        out_hw = tuple(builtin_max((hw[i] + 2 * p[i] - d[i] * (k[i] - 1) - 1) // s[i] + 1, 0) for i in range(2))
    else:
        cout = w_shape[1] * groups
        out_hw = tuple((hw[i] - 1) * s[i] - 2 * p[i] + d[i] * (k[i] - 1) + 1 + op[i] for i in range(2))
    out = (x_shape[0], cout) + (out_hw[1:] if nd == 1 else out_hw)
    return out, hw, k, out_hw, s, p, d


def _conv_backward_temp(gy_shape, x_shape, w_shape, stride, padding, dilation, transposed, output_padding,
                        groups, mask=(True, True, True)):
    """convolution_backward's forward beside its outputs: its input-gradient and weight-gradient kernels."""
    nd, s, p, d, op = _params2(w_shape, stride, padding, dilation, output_padding)
    n = x_shape[0]
    hw, k, pq = _spatial2(x_shape), _spatial2(w_shape), _spatial2(gy_shape)
    gy_n, x_n = R.numel(gy_shape), R.numel(x_shape)
    temp = 0
    if mask[0]:
        if transposed:  # the convolution of gy comes out op // s rows past x's, cropped (a copy)
            big = tuple(hw[i] + op[i] // s[i] for i in range(2))
            big_n = n * x_shape[1] * big[0] * big[1]
            temp += _conv_temp(n, gy_shape[1], pq, k, big, p, big_n) + big_n + x_n
        else:
            padded = tuple(builtin_max(hw[i] + 2 * p[i], (pq[i] - 1) * s[i] + (k[i] - 1) * d[i] + 1) for i in range(2))
            temp += _transpose_temp(gy_n, n, x_shape[1], padded, pq, k, x_n)
    if mask[1]:
        if transposed:  # the roles of gy and x swap
            temp += _weight_temp(x_n, n, gy_shape[1], pq, k, hw, p)
        else:
            temp += _weight_temp(gy_n, n, x_shape[1], hw, k, pq, p)
        temp += 2 * R.numel(w_shape)  # a tile's term beside the sum
    return temp


def _convolution_rule(input, weight, bias, stride, padding, dilation, transposed, output_padding, groups):
    out, hw, k, out_hw, s, p, d = _conv_shapes(input.shape, weight.shape, stride, padding, dilation, transposed,
                                               output_padding, groups)
    n_out = R.numel(out)
    x_n = R.numel(input.shape)
    if not transposed:
        temp = _conv_temp(input.shape[0], input.shape[1], hw, k, out_hw, p, n_out) + 2 * n_out
        macs = n_out * weight.shape[1] * k[0] * k[1]
    else:
        padded = tuple(builtin_max(out_hw[i] + 2 * p[i], (hw[i] - 1) * s[i] + (k[i] - 1) * d[i] + 1)
                       for i in range(2))
        temp = _transpose_temp(x_n, input.shape[0], out[1], padded, hw, k, n_out)
        macs = x_n * weight.shape[1] * k[0] * k[1]
    if bias is not None:
        temp += n_out  # out + bias, beside out
    bwd = _conv_backward_temp(out, input.shape, weight.shape, stride, padding, dilation, transposed,
                              output_padding, groups)
    return R.Cost(out, 2.0 * macs, temp, True, bwd + n_out, 4.0 * macs)


def _convolution_backward_rule(grad_output, input, weight, stride, padding, dilation, transposed, output_padding,
                               groups, output_mask):
    mask = list(output_mask) + [False] * (3 - len(output_mask))
    outs = (tuple(input.shape) if mask[0] else (0,), tuple(weight.shape) if mask[1] else (0,),
            (grad_output.shape[1],) if mask[2] else (0,))
    temp = _conv_backward_temp(grad_output.shape, input.shape, weight.shape, stride, padding, dilation, transposed,
                               output_padding, groups, mask)
    k = _spatial2(weight.shape)
    macs = R.numel(grad_output.shape) * weight.shape[1] * k[0] * k[1]
    return R.Cost(outs, 4.0 * macs, temp, True, 2 * temp + sum(R.numel(o) for o in outs), 8.0 * macs)


def _to2d(a, nd):
    return a[:, :, None, :] if nd == 1 else a


def _from2d(a, nd):
    return a[:, :, 0, :] if nd == 1 else a
