"""A linear regression as PyTorch's tutorials write it: nn.Linear, MSELoss, SGD with momentum, a scheduler,
the device idiom, state_dict save and load."""
import os
import tempfile

if os.environ.get("GRADSERVE_SCRIPT_ENGINE"):
    import engine as torch
else:
    import torch
nn = torch.nn

device = torch.device("cuda" if torch.cuda.is_available() else "cpu")
print(f"Using {device} device")

x = torch.linspace(-1, 1, 20).unsqueeze(1).to(device)
y = 3 * x - 0.5 + 0.25 * x ** 2

model = nn.Linear(1, 1).to(device)
model.load_state_dict({"weight": torch.tensor([[0.5]]), "bias": torch.tensor([0.1])})
print(model)
criterion = nn.MSELoss()
optimizer = torch.optim.SGD(model.parameters(), lr=0.1, momentum=0.9)
scheduler = torch.optim.lr_scheduler.StepLR(optimizer, step_size=20, gamma=0.5)

for epoch in range(60):
    optimizer.zero_grad()
    pred = model(x)
    loss = criterion(pred, y)
    loss.backward()
    optimizer.step()
    scheduler.step()
    if epoch % 10 == 0:
        print(f"epoch {epoch:3d}  loss {loss.item():.6f}  lr {scheduler.get_last_lr()[0]:.4f}")

print(model.weight)
print(model.bias)
print(model.state_dict())
print(optimizer)
with torch.no_grad():
    print(model(torch.tensor([[0.0], [1.0]])))

path = os.path.join(tempfile.mkdtemp(), "model.pth")
torch.save(model.state_dict(), path)
restored = nn.Linear(1, 1)
print(restored.load_state_dict(torch.load(path)))
print(torch.equal(restored.weight, model.weight), torch.allclose(restored(x), model(x)))
print(pred.detach().cpu().numpy()[:3].round(4).tolist())
