"""Jacobians and higher derivatives with autograd.grad, as the autograd tutorials compute them, and the
tensor helpers they lean on (the legacy constructor, allclose, out=, numpy)."""
import os

if os.environ.get("GRADSERVE_SCRIPT_ENGINE"):
    import engine as torch
else:
    import torch

x = torch.tensor([1.0, 2.0, 3.0], requires_grad=True)


def f(x):
    return torch.stack([x[0] * x[1], x[1] ** 3, x.sum() * x[2]])


y = f(x)
print(y)
jac = torch.stack([torch.autograd.grad(y[i], x, retain_graph=True)[0] for i in range(3)])
print(jac)

v = torch.tensor([1.0, 0.5, 0.25])
y.backward(v)
print(x.grad)

z = (x ** 3).sum()
(g,) = torch.autograd.grad(z, x, create_graph=True)
print(g)
(h,) = torch.autograd.grad(g.sum(), x)
print(h)

inp = torch.eye(4, 5, requires_grad=True)
out = (inp + 1).pow(2).t()
out.backward(torch.ones_like(out), retain_graph=True)
print(f"First call\n{inp.grad}")
out.backward(torch.ones_like(out), retain_graph=True)
print(f"\nSecond call\n{inp.grad}")
inp.grad.zero_()
out.backward(torch.ones_like(out), retain_graph=True)
print(f"\nCall after zeroing gradients\n{inp.grad}")

t = torch.Tensor([[1, 2], [3, 4]])
print(t, t.dtype, torch.Tensor(2, 3).shape)
print(torch.allclose(t, t + 1e-9), torch.equal(t, t.clone()))
out = torch.empty(2, 2)
torch.mul(t, 2, out=out)
print(out)
print(torch.linspace(0, 1, 5), torch.arange(0, 1, 0.25))
print((torch.linspace(-3, 3, 7) ** 3).sum(), torch.linspace(-1, 1, 101).sum())
print(t.numpy().tolist(), x.detach().numpy().dtype)
