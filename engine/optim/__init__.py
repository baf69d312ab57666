"""engine.optim, as torch.optim: SGD, Adam, AdamW, RMSprop, Adagrad and lr_scheduler."""
from engine.optim import lr_scheduler  # noqa: F401
from engine.optim.adagrad import Adagrad  # noqa: F401
from engine.optim.adam import Adam, AdamW  # noqa: F401
from engine.optim.optimizer import Optimizer  # noqa: F401
from engine.optim.rmsprop import RMSprop  # noqa: F401
from engine.optim.sgd import SGD  # noqa: F401
