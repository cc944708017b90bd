"""The reference solution's training step against the same maths by hand.

A 784-256-256-10 MLP, a batch of 128, float32: forward, mean cross-entropy,
backward, plain SGD step. The hand-written NumPy version starts from the same
weights and must reach the same loss; the two are timed in turn.
"""

from __future__ import annotations

import numpy as np
from solutions.core import Tensor

from solutions.part4_nn import MLP, SGD, cross_entropy

from .common import Result, interleaved, median_timing

BATCH, WIDTHS, LEARNING_RATE = 128, (784, 256, 256, 10), 0.01
STEPS_PER_ROUND, ROUNDS = 10, 9


class HandWrittenMLP:
    """The same network as NumPy arrays, its gradients worked out by hand."""

    def __init__(self, model: MLP):
        self.weights = [layer.weight.array.copy() for layer in model.layers]
        self.biases = [layer.bias.array.copy() for layer in model.layers]

    def step(self, x: np.ndarray, labels: np.ndarray) -> float:
        # Forward, keeping each layer's input and pre-activation.
        inputs, pre_activations = [], []
        activation = x
        for index, (weight, bias) in enumerate(zip(self.weights, self.biases)):
            inputs.append(activation)
            pre_activation = activation @ weight.T + bias
            pre_activations.append(pre_activation)
            last = index == len(self.weights) - 1
            activation = pre_activation if last else np.maximum(pre_activation, 0)
        logits = activation
        rows = np.arange(len(labels))
        shifted = logits - logits.max(axis=1, keepdims=True)
        exponentials = np.exp(shifted)
        totals = exponentials.sum(axis=1, keepdims=True)
        loss = float((np.log(totals[:, 0]) - shifted[rows, labels]).mean())
        # Backward: softmax minus one-hot, then each layer in reverse.
        grad = exponentials / totals
        grad[rows, labels] -= 1
        grad /= len(labels)
        for index in reversed(range(len(self.weights))):
            if index < len(self.weights) - 1:
                grad = grad * (pre_activations[index] > 0)
            weight_grad = grad.T @ inputs[index]
            bias_grad = grad.sum(axis=0)
            if index > 0:
                grad = grad @ self.weights[index]
            self.weights[index] -= LEARNING_RATE * weight_grad
            self.biases[index] -= LEARNING_RATE * bias_grad
        return loss


def reference_step(model: MLP, optimiser: SGD, x: np.ndarray, labels: np.ndarray) -> float:
    loss = cross_entropy(model(Tensor(x)), Tensor(labels)).sum() / len(labels)
    optimiser.zero_grad()
    loss.backward()
    optimiser.step()
    return loss.item()


def run() -> list[Result]:
    generator = np.random.default_rng(0)
    x = generator.normal(size=(BATCH, WIDTHS[0])).astype(np.float32)
    labels = generator.integers(0, WIDTHS[-1], size=BATCH)
    np.random.seed(0)
    model = MLP(WIDTHS[0], list(WIDTHS[1:-1]), WIDTHS[-1])
    optimiser = SGD(model.parameters(), lr=LEARNING_RATE)
    by_hand = HandWrittenMLP(model)

    # Same start, same maths: the losses of the first steps agree.
    first_losses = [reference_step(model, optimiser, x, labels) for _ in range(3)]
    hand_losses = [by_hand.step(x, labels) for _ in range(3)]
    if not np.allclose(first_losses, hand_losses, rtol=1e-4, atol=1e-5):
        raise RuntimeError(f"the two training steps disagree: {first_losses} vs {hand_losses}")

    comparison = interleaved(
        lambda: [reference_step(model, optimiser, x, labels) for _ in range(STEPS_PER_ROUND)],
        lambda: [by_hand.step(x, labels) for _ in range(STEPS_PER_ROUND)],
        rounds=ROUNDS,
    )
    reference, hand = median_timing(comparison.ours), median_timing(comparison.theirs)
    per_step = 1e3 / STEPS_PER_ROUND
    result = comparison.result(
        "MLP training step 784-256-256-10, batch 128",
        f"{reference.cpu * per_step:.2f} ms",
        f"{hand.cpu * per_step:.2f} ms by hand in NumPy",
        1.25,
    )
    result.note = f"float32, one BLAS thread, {STEPS_PER_ROUND} steps a round; " + result.note
    return [result]
