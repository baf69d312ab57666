"""gradserve's autograd engine: PyTorch 2.13's semantics on NumPy (or CuPy), usable as `import engine as torch`."""
from __future__ import annotations

from engine import autograd, dtypes  # noqa: F401 - public submodules
from engine.autograd import enable_grad, is_grad_enabled, no_grad, set_grad_enabled  # noqa: F401
from engine.dtypes import bool_ as bool  # noqa: A001, F401
from engine.dtypes import (  # noqa: F401
    dtype,
    float16,
    float32,
    float64,
    int8,
    int16,
    int32,
    int64,
    promote_types,
    result_type,
    uint8,
)
from engine.errors import EngineError
from engine.tensor import Size, Tensor, as_tensor, from_numpy, is_tensor, tensor  # noqa: F401

half, double, long = float16, float64, int64
float = float32  # noqa: A001
int = int32  # noqa: A001

from engine import _methods  # noqa: E402
from engine.catalog import FUNCTIONS, METHODS  # noqa: E402

_methods.install(METHODS)
globals().update(FUNCTIONS)  # engine.add, engine.matmul, ... from the op catalog

from engine import _out  # noqa: E402

_out.install(globals())  # out= on the common functions (the catalog's own entries stay as they are)

from engine import cuda, linalg, nn, optim, special  # noqa: E402, F401
from engine._device import device, get_default_device, set_default_device  # noqa: E402, F401
from engine.compare import allclose, equal, isclose  # noqa: E402, F401
from engine.ops.factory import manual_seed  # noqa: E402, F401
from engine.program import PlanCache, evaluate, evaluate_json  # noqa: E402
from engine.program import functional as evaluate_functional  # noqa: E402 - POST /v1/functional's document
from engine.program import gradcheck as evaluate_gradcheck  # noqa: E402 - POST /v1/gradcheck's document
from engine.serialization import load, save  # noqa: E402, F401

__all__ = ["Tensor", "tensor", "as_tensor", "from_numpy",
           "evaluate", "evaluate_json", "evaluate_functional", "evaluate_gradcheck", "PlanCache", "autograd", "nn",
           "linalg", "no_grad", "enable_grad", "EngineError", "device", "cuda", "optim", "save", "load", "allclose",
           "equal", "set_default_device", "get_default_device",
           *FUNCTIONS]

# torch.autograd.functional, gradcheck and torch.func: as torch, `autograd.gradcheck` is the function (the
# module stays importable by its path: `from engine.autograd.gradcheck import GradcheckError`).
from engine.autograd import forward_ad as _forward_ad  # noqa: E402, F401 - engine.autograd.forward_ad
from engine.autograd import functional as _autograd_functional  # noqa: E402, F401
from engine.autograd import gradcheck as _gradcheck_module  # noqa: E402

autograd.gradcheck = _gradcheck_module.gradcheck
autograd.gradgradcheck = _gradcheck_module.gradgradcheck
from engine import func  # noqa: E402, F401
