"""Train a 2-4-1 network on XOR with nnlab's autograd engine and plain gradient descent."""

import numpy as np

import nnlab
from nnlab.functional import sigmoid, tanh

X = nnlab.tensor([[0, 0], [0, 1], [1, 0], [1, 1]])
y = nnlab.tensor([[0], [1], [1], [0]])

rng = np.random.default_rng(1)
W1 = nnlab.tensor(rng.normal(0, 1, (2, 4)), requires_grad=True)
b1 = nnlab.tensor(np.zeros(4), requires_grad=True)
W2 = nnlab.tensor(rng.normal(0, 1, (4, 1)), requires_grad=True)
b2 = nnlab.tensor(np.zeros(1), requires_grad=True)
params = [W1, b1, W2, b2]

learning_rate = 0.5
for step in range(2001):
    out = sigmoid(tanh(X @ W1 + b1) @ W2 + b2)
    loss = ((out - y) ** 2).mean()
    for p in params:
        p.grad = None
    loss.backward()
    for p in params:
        p.data -= learning_rate * p.grad  # w <- w - eta * grad
    if step % 500 == 0:
        print(f"step {step:4d}  loss {loss.item():.5f}")

print("inputs  ->  output")
for inputs, value in zip(X.numpy(), out.numpy()):
    print(f"{inputs.astype(int)}  ->  {value[0]:.3f}")
