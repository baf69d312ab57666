"""What PyTorch's autograd tutorials (the 60-minute blitz, "The Fundamentals of Autograd") walk a learner
through, on fixed values: requires_grad and grad_fn, walking next_functions, backward with an external gradient,
a data-dependent loop, turning autograd off and on, a small model's gradients accumulating and being zeroed,
freezing parameters, tensor hooks, and the functional API (jacobian, hessian, vjp, jvp, hvp)."""
import math
import os

if os.environ.get("GRADSERVE_SCRIPT_ENGINE"):
    import engine as torch
else:
    import torch
nn = torch.nn

# ----- tensors that track their history -----
x = torch.ones(2, 2, requires_grad=True)
y = x + 2
print(x)
print(y)
print(y.grad_fn)
z = y * y * 3
out = z.mean()
print(z, out)

a = torch.tensor([[0.5, -1.5], [2.0, 3.0]])
a = (a * 3) / (a - 1)
print(a.requires_grad)
a.requires_grad_(True)
print(a.requires_grad)
print((a * a).sum().grad_fn)

out.backward()
print(x.grad)

Q_a = torch.tensor([2.0, 3.0], requires_grad=True)
Q_b = torch.tensor([6.0, 4.0], requires_grad=True)
Q = 3 * Q_a ** 3 - Q_b ** 2
Q.backward(gradient=torch.tensor([1.0, 1.0]))
print(9 * Q_a ** 2 == Q_a.grad, -2 * Q_b == Q_b.grad)

# ----- a loop whose length depends on the data, and a vector-Jacobian product -----
x = torch.tensor([0.25, -0.5, 1.0], requires_grad=True)
y = x * 2
while y.data.norm() < 1000:
    y = y * 2
print(y)
y.backward(torch.tensor([0.1, 1.0, 0.0001], dtype=torch.float))
print(x.grad)
print(x.requires_grad, (x ** 2).requires_grad)
with torch.no_grad():
    print((x ** 2).requires_grad)
    with torch.enable_grad():
        print((x ** 2).requires_grad)

# ----- walking the graph -----
a = torch.linspace(0.0, 2.0 * math.pi, steps=25, requires_grad=True)
b = torch.sin(a)
c = 2 * b
d = c + 1
out = d.sum()
print(a)
print(b)
print(c)
print(d)
print(out)
print("d:")
print(d.grad_fn)
print(d.grad_fn.next_functions)
print(d.grad_fn.next_functions[0][0].next_functions)
print(d.grad_fn.next_functions[0][0].next_functions[0][0].next_functions)
print(d.grad_fn.next_functions[0][0].next_functions[0][0].next_functions[0][0].next_functions)
print(c.grad_fn, b.grad_fn, a.grad_fn)
out.backward()
print(a.grad)
try:
    torch.sin_(a)
except RuntimeError as e:
    print("in place on a leaf:", e)

# ----- a small model: gradients appear, accumulate, and are zeroed -----


class TinyModel(nn.Module):
    def __init__(self):
        super().__init__()
        self.layer1 = nn.Linear(6, 4)
        self.relu = nn.ReLU()
        self.layer2 = nn.Linear(4, 3)

    def forward(self, x):
        return self.layer2(self.relu(self.layer1(x)))


model = TinyModel()
with torch.no_grad():  # fixed values: the two libraries' generators differ
    for i, p in enumerate(model.parameters()):
        p.copy_(torch.linspace(-0.5, 0.5, p.numel()).reshape(p.shape) * (1 + i / 4))
some_input = torch.linspace(-1, 1, 12).reshape(2, 6)
ideal_output = torch.linspace(0, 1, 6).reshape(2, 3)
print(model)
print(model.layer2.weight[0][0:3])
print(model.layer2.weight.grad)
optimizer = torch.optim.SGD(model.parameters(), lr=0.01)
prediction = model(some_input)
loss = (ideal_output - prediction).pow(2).sum()
print(loss)
loss.backward()
print(model.layer2.weight[0][0:3])
print(model.layer2.weight.grad[0][0:3])
optimizer.step()
print(model.layer2.weight[0][0:3])
for _ in range(5):
    loss = (ideal_output - model(some_input)).pow(2).sum()
    loss.backward()
print(model.layer2.weight.grad[0][0:3])
optimizer.zero_grad()
print(model.layer2.weight.grad)

# ----- freezing: only a new head learns -----
for param in model.parameters():
    param.requires_grad = False
model.layer2 = nn.Linear(4, 2)
with torch.no_grad():
    model.layer2.weight.copy_(torch.tensor([[0.1, -0.2, 0.3, -0.4], [0.5, 0.6, -0.7, 0.8]]))
    model.layer2.bias.zero_()
head_opt = torch.optim.SGD(model.layer2.parameters(), lr=1e-2, momentum=0.9)
model(some_input).sum().backward()
head_opt.step()
print([(name, p.grad is not None) for name, p in model.named_parameters()])
print(model.layer2.weight)

# ----- turning autograd off and on -----
a = torch.ones(2, 3, requires_grad=True)
b1 = 2 * a
a.requires_grad = False
b2 = 2 * a
print(b1)
print(b2)
a = torch.ones(2, 3, requires_grad=True) * 2
b = torch.ones(2, 3, requires_grad=True) * 3
with torch.no_grad():
    c2 = a + b
print(a + b, c2, a * b)


@torch.no_grad()
def add_tensors(x, y):
    return x + y


print(add_tensors(a, b))
x = torch.tensor([0.1, 0.2, 0.3, 0.4, 0.5], requires_grad=True)
print(x, x.detach())

# ----- hooks on the way back -----
x = torch.tensor([1.0, 2.0, 3.0], requires_grad=True)
h = x * x
h.retain_grad()
handle = h.register_hook(lambda g: print("hook sees", g) or g * 2)
(h * 3).sum().backward()
print(h.grad, x.grad)
handle.remove()

# ----- the functional API -----


def exp_adder(x, y):
    return 2 * x.exp() + 3 * y


inputs = (torch.tensor([0.25]), torch.tensor([0.75]))
print(torch.autograd.functional.jacobian(exp_adder, inputs))
inputs = (torch.tensor([0.1, 0.2, 0.3]), torch.tensor([0.4, 0.5, 0.6]))
print(torch.autograd.functional.jacobian(exp_adder, inputs))


def do_some_doubling(x):
    y = x * 2
    while y.data.norm() < 1000:
        y = y * 2
    return y


print(torch.autograd.functional.vjp(do_some_doubling, torch.tensor([0.3, -0.2, 0.1]),
                                    v=torch.tensor([0.1, 1.0, 0.0001])))


def cube_sum(x):
    return (x ** 3).sum()


p = torch.tensor([1.0, -2.0, 0.5])
print(torch.autograd.functional.hessian(cube_sum, p))
print(torch.autograd.functional.jvp(do_some_doubling, p, v=torch.ones(3)))
print(torch.autograd.functional.hvp(cube_sum, p, v=torch.ones(3)))
