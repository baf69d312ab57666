"""The engine's coverage of PyTorch's OpInfo targets, by family: `python -m tests.engine.opinfo_coverage`
prints the table; `--write` puts it into docs/ENGINE.md (between the opinfo-coverage markers), where
tests/engine/test_opinfo.py holds it to what the engine resolves now."""
from __future__ import annotations

import pathlib
import sys

from tests.engine import torch_opinfo as O

DOC = pathlib.Path(__file__).resolve().parents[2] / "docs" / "ENGINE.md"
START, END = "<!-- opinfo-coverage:start -->", "<!-- opinfo-coverage:end -->"

FAMILY_NAMES = {
"pointwise": """abs acos acosh add addcdiv addcmul asin asinh atan atan2 atanh ceil clamp clamp_max clamp_min copysign
cos cosh deg2rad div erf erfc exp exp2 expm1 float_power floor fmax fmin fmod frac frexp hypot ldexp lerp log log10
log1p log2 logaddexp logaddexp2 logit maximum minimum mul nan_to_num neg nextafter positive pow rad2deg reciprocal
remainder round rsqrt rsub sgn sigmoid sign sin sinh sqrt square sub tan tanh true_divide trunc where""",
"special": """digamma erfinv i0 lgamma mvlgamma polygamma sinc xlogy special.entr special.erfcx special.i0e special.i1
special.i1e special.log_ndtr special.ndtr special.ndtri special.polygamma special.xlog1py""",
"reduction": """amax amin aminmax cumprod cumsum cumulative_trapezoid diff dist gradient logcumsumexp logsumexp max mean
min nanmean nansum norm prod std std_mean sum trapezoid trapz var var_mean cov corrcoef renorm""",
"sorting": """cummax cummin kthvalue median mode msort nanmedian nanquantile quantile sort topk""",
"shape": """T mT alias_copy as_strided as_strided_copy atleast_1d atleast_2d atleast_3d block_diag broadcast_tensors
broadcast_to cartesian_prod cat chunk column_stack combinations constant_pad_nd diag diag_embed diagflat diagonal
diagonal_copy dsplit dstack expand expand_as expand_copy flatten flip fliplr flipud hsplit hstack meshgrid movedim
narrow narrow_copy permute permute_copy ravel repeat repeat_interleave reshape reshape_as roll rot90 select slice split
split_with_sizes split_with_sizes_copy squeeze squeeze_copy stack sum_to_size t t_copy tensor_split tile transpose
transpose_copy tril triu unbind unbind_copy unflatten unfold unfold_copy unsafe_chunk unsafe_split unsqueeze
unsqueeze_copy view view_as view_copy vsplit vstack""",
"indexing": """as_strided_scatter diagonal_scatter gather index_add index_copy index_fill index_put index_reduce
index_select masked_fill masked_scatter masked_select put scatter scatter_add scatter_reduce select_scatter
slice_scatter take take_along_dim""",
"linalg": """addbmm addmm addmv addr baddbmm bmm cholesky cholesky_inverse cholesky_solve cross dot einsum inner kron
linalg.cholesky linalg.cholesky_ex linalg.cond linalg.cross linalg.det linalg.diagonal linalg.eigh linalg.eigvalsh
linalg.householder_product linalg.inv linalg.inv_ex linalg.lstsq linalg.lu linalg.lu_factor linalg.lu_factor_ex
linalg.lu_solve linalg.matrix_norm linalg.matrix_power linalg.multi_dot linalg.norm linalg.pinv linalg.qr
linalg.slogdet linalg.solve linalg.solve_ex linalg.solve_triangular linalg.svd linalg.svdvals linalg.tensorinv
linalg.tensorsolve linalg.vander linalg.vecdot linalg.vector_norm logdet lu lu_solve lu_unpack matmul matrix_exp mm
mv ormqr outer pca_lowrank pinverse qr svd svd_lowrank tensordot trace triangular_solve vdot""",
"nn": """log_softmax softmax max_pool2d_with_indices_backward native_batch_norm native_dropout_backward
native_group_norm native_layer_norm grid_sampler_2d grid_sampler_3d nn.functional.adaptive_avg_pool1d
nn.functional.adaptive_avg_pool2d
nn.functional.adaptive_avg_pool3d nn.functional.adaptive_max_pool1d nn.functional.adaptive_max_pool2d
nn.functional.adaptive_max_pool3d nn.functional.avg_pool1d nn.functional.avg_pool2d nn.functional.avg_pool3d
nn.functional.batch_norm nn.functional.bilinear nn.functional.celu nn.functional.channel_shuffle nn.functional.conv1d
nn.functional.conv2d nn.functional.conv3d nn.functional.conv_transpose1d nn.functional.conv_transpose2d
nn.functional.conv_transpose3d nn.functional.cosine_similarity nn.functional.elu nn.functional.embedding
nn.functional.embedding_bag nn.functional.fractional_max_pool2d nn.functional.fractional_max_pool3d nn.functional.gelu
nn.functional.glu nn.functional.grid_sample nn.functional.group_norm nn.functional.hardshrink nn.functional.hardsigmoid
nn.functional.hardswish nn.functional.hardtanh nn.functional.instance_norm nn.functional.interpolate
nn.functional.layer_norm nn.functional.leaky_relu nn.functional.linear nn.functional.local_response_norm
nn.functional.logsigmoid nn.functional.max_pool1d nn.functional.max_pool2d nn.functional.max_pool3d
nn.functional.max_unpool1d nn.functional.max_unpool2d nn.functional.max_unpool3d nn.functional.mish
nn.functional.multi_head_attention_forward nn.functional.normalize nn.functional.pad nn.functional.pairwise_distance
nn.functional.pdist nn.functional.pixel_shuffle nn.functional.pixel_unshuffle nn.functional.prelu nn.functional.relu
nn.functional.relu6 nn.functional.rms_norm nn.functional.scaled_dot_product_attention nn.functional.selu
nn.functional.silu nn.functional.softmin nn.functional.softplus nn.functional.softshrink nn.functional.softsign
nn.functional.tanhshrink nn.functional.threshold nn.functional.unfold nn.functional.upsample_bilinear
nn.functional.upsample_nearest cdist""",
"loss": """nn.functional.binary_cross_entropy nn.functional.binary_cross_entropy_with_logits
nn.functional.cosine_embedding_loss nn.functional.cross_entropy nn.functional.ctc_loss nn.functional.gaussian_nll_loss
nn.functional.hinge_embedding_loss nn.functional.huber_loss nn.functional.kl_div nn.functional.l1_loss
nn.functional.linear_cross_entropy nn.functional.margin_ranking_loss nn.functional.mse_loss
nn.functional.multi_margin_loss nn.functional.multilabel_margin_loss nn.functional.multilabel_soft_margin_loss
nn.functional.nll_loss nn.functional.poisson_nll_loss nn.functional.smooth_l1_loss nn.functional.soft_margin_loss
nn.functional.triplet_margin_loss nn.functional.triplet_margin_with_distance_loss""",
"random": """bernoulli normal nn.functional.dropout nn.functional.dropout2d nn.functional.dropout3d
nn.functional.alpha_dropout nn.functional.feature_alpha_dropout nn.functional.rrelu""",
"conversion and copies": """bfloat16 clone contiguous double fill float half to zero_""",
}
FAMILIES = {fam: names.split() for fam, names in FAMILY_NAMES.items()}


def table() -> str:
    """The markdown table: per family, covered / total and the names not covered."""
    cov = O.covered()
    lines = ["| family | covered / total | not covered |", "|---|---|---|"]
    total_c = 0
    for fam, names in FAMILIES.items():
        c = sum(cov[n] for n in names)
        total_c += c
        missing = ", ".join(f"`{n}`" for n in names if not cov[n]) or "-"
        lines.append(f"| {fam} | {c} / {len(names)} | {missing} |")
    n = len(O.TARGETS)
    lines.append(f"| **all** | **{total_c} / {n} ({100 * total_c / n:.1f}%)** | |")
    return "\n".join(lines)


def write_doc() -> None:
    text = DOC.read_text()
    head, _, rest = text.partition(START)
    _, _, tail = rest.partition(END)
    DOC.write_text(f"{head}{START}\n{table()}\n{END}{tail}")


def doc_table() -> str:
    text = DOC.read_text()
    return text.partition(START)[2].partition(END)[0].strip()


if __name__ == "__main__":
    print(table())
    if "--write" in sys.argv[1:]:
        write_doc()
        print(f"written to {DOC}")
