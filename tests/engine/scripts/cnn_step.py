"""A small CNN as the blitz tutorial builds it: a Module subclass with Conv2d, MaxPool2d, Linear, a training
step with CrossEntropyLoss and Adam, and what a learner prints along the way."""
import os

if os.environ.get("GRADSERVE_SCRIPT_ENGINE"):
    import engine as torch
else:
    import torch
nn = torch.nn
F = torch.nn.functional


class Net(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv1 = nn.Conv2d(1, 4, 3)
        self.pool = nn.MaxPool2d(2, 2)
        self.fc1 = nn.Linear(4 * 3 * 3, 8)
        self.fc2 = nn.Linear(8, 3)

    def forward(self, x):
        x = self.pool(F.relu(self.conv1(x)))
        x = torch.flatten(x, 1)
        x = F.relu(self.fc1(x))
        return self.fc2(x)


net = Net().double()
print(net)
# deterministic parameters (the libraries' random generators differ)
net.load_state_dict({name: torch.linspace(-0.5, 0.5, p.numel(), dtype=torch.float64).reshape(p.shape) * (i + 1) / 4
                     for i, (name, p) in enumerate(net.named_parameters())})
params = list(net.parameters())
print(len(params), params[0].size())

inputs = (torch.arange(2 * 64, dtype=torch.float64).reshape(2, 1, 8, 8) / 64 - 0.5) ** 3
labels = torch.tensor([2, 0])
criterion = nn.CrossEntropyLoss()
optimizer = torch.optim.Adam(net.parameters(), lr=0.01)

for step in range(3):
    optimizer.zero_grad()
    outputs = net(inputs)
    loss = criterion(outputs, labels)
    loss.backward()
    optimizer.step()
    print(f"step {step}: loss {loss.item():.8f}")

print(outputs)
print(net.conv1.bias.grad)
print(net.fc2.weight.grad)
print(net.fc2.bias)
print(loss.grad_fn, loss.grad_fn.next_functions[0][0])
_, predicted = torch.max(outputs, 1)
print(predicted, (predicted == labels).sum().item())
print(sorted(optimizer.state_dict()["state"][0].keys()))
net.eval()
print(net.training, net.fc1.training)
