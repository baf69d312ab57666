"""gradserve's autograd engine: PyTorch 2.13's semantics on NumPy (or CuPy), usable as `import engine as torch`."""
from __future__ import annotations

from engine import autograd, dtypes
from engine.autograd import enable_grad, is_grad_enabled, no_grad, set_grad_enabled
from engine.dtypes import bool_ as bool  # noqa: A001
from engine.dtypes import dtype, float16, float32, float64, int8, int16, int32, int64, uint8
from engine.dtypes import promote_types, result_type
from engine.errors import EngineError
from engine.ops import factory as _factory
from engine.ops import linalg as _linalg
from engine.ops import pointwise as _pointwise
from engine.ops import reduction as _reduction
from engine.ops import shape as _shape
from engine.tensor import Size, Tensor, as_tensor, is_tensor, tensor

half, double, long = float16, float64, int64
float = float32  # noqa: A001
int = int32  # noqa: A001

from engine.catalog import FUNCTIONS, METHODS  # noqa: E402
from engine import _methods  # noqa: E402

_methods.install(METHODS)
globals().update({k: v for k, v in FUNCTIONS.items() if k not in globals() or k in FUNCTIONS})

from engine import linalg, nn  # noqa: E402
from engine.evaluate import evaluate  # noqa: E402
from engine.ops.factory import manual_seed  # noqa: E402

__all__ = ["Tensor", "tensor", "evaluate", "autograd", "nn", "no_grad", "enable_grad", "EngineError",
           *FUNCTIONS]
