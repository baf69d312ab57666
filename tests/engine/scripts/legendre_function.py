"""A custom autograd Function as PyTorch's "Defining new autograd Functions" example teaches it: the Legendre
polynomial P3(x) = (5x^3 - 3x) / 2 with its own backward, fitted to sin(x) by gradient descent on four scalar
leaves, then inspected (its node, what it saved, gradcheck, saved-tensor hooks)."""
import math
import os

if os.environ.get("GRADSERVE_SCRIPT_ENGINE"):
    import engine as torch
else:
    import torch


class LegendreP3(torch.autograd.Function):
    @staticmethod
    def forward(ctx, x):
        ctx.save_for_backward(x)
        return 0.5 * (5 * x ** 3 - 3 * x)

    @staticmethod
    def backward(ctx, grad_output):
        (x,) = ctx.saved_tensors
        return grad_output * 1.5 * (5 * x ** 2 - 1)


dtype = torch.float
device = torch.device("cpu")
xs = torch.linspace(-math.pi, math.pi, 500, device=device, dtype=dtype)
target = torch.sin(xs)

# y = a + b * P3(c + d * x), started near the answer
a = torch.full((), 0.0, device=device, dtype=dtype, requires_grad=True)
b = torch.full((), -1.0, device=device, dtype=dtype, requires_grad=True)
c = torch.full((), 0.0, device=device, dtype=dtype, requires_grad=True)
d = torch.full((), 0.3, device=device, dtype=dtype, requires_grad=True)

lr = 2e-5
P3 = LegendreP3.apply
for step in range(600):
    pred = a + b * P3(c + d * xs)
    loss = (pred - target).pow(2).sum()
    if step % 100 == 99:
        print(step, f"{loss.item():.3f}")
    loss.backward()
    with torch.no_grad():
        for p in (a, b, c, d):
            p -= lr * p.grad
            p.grad = None

print(f"y = {a.item():.4f} + {b.item():.4f} * P3({c.item():.4f} + {d.item():.4f} x)")

# the node the Function records, and what it keeps
z = torch.tensor([0.5, -1.0, 2.0], requires_grad=True)
out = P3(z * 2)
print(out)
print(out.grad_fn, out.grad_fn.name())
print(out.grad_fn.next_functions)
print(out.grad_fn.saved_tensors)
print(out.grad_fn.needs_input_grad)
out.sum().backward()
print(z.grad)
try:
    print(out.grad_fn.saved_tensors)
except RuntimeError as e:
    print("after backward:", str(e)[:60])

# its backward against finite differences
zz = torch.tensor([0.3, -0.7, 1.1], dtype=torch.float64, requires_grad=True)
print(torch.autograd.gradcheck(P3, (zz,)), torch.autograd.gradgradcheck(P3, (zz,)))

# what it saves goes through saved-tensor hooks like any other node's
log = []
with torch.autograd.graph.saved_tensors_hooks(lambda t: log.append(("pack", tuple(t.shape))) or t,
                                              lambda t: log.append(("unpack", tuple(t.shape))) or t):
    w = P3(zz * zz).sum()
w.backward()
print(log)
print(zz.grad)
