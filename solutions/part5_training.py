"""Part 5, the capstone: teach your library to read handwritten digits.

The data set (data/digits.csv.gz, see data/README.md) has 1,797 images of
8x8 pixels, each a handwritten digit 0-9. Everything you need is in Part 4:
an MLP, cross_entropy, SGD and NoGrad. Write the training loop and the
evaluation, then run this file from the kit's folder to see how well it
learns:

    make train

The checker calls `train_digits` on a fixed training set (with seed=0),
computes the test accuracy of the model you return, and needs at least 95%,
with training and evaluation done within 60 seconds (`make list` shows every
exercise's time limit). Your loss history is drawn in the report.
"""

from __future__ import annotations

import gzip
import time
from pathlib import Path

import numpy as np

from .core import Arr, Tensor
from .part4_nn import MLP, SGD, Module, NoGrad, cross_entropy

# The kit's copy of the data: this file is exercises/part5_training.py, the
# data sits in data/ beside exercises/.
DATA_PATH = Path(__file__).resolve().parent.parent / "data" / "digits.csv.gz"

NUM_PIXELS = 64
NUM_CLASSES = 10


def load_digits(path: str | Path = DATA_PATH) -> tuple[Arr, Arr]:
    """Given: the digits as (features, labels).

    features: float32, shape (1797, 64), each pixel scaled from 0..16 to [0, 1].
    labels:   int64, shape (1797,), the digit each image shows.
    """
    with gzip.open(path, "rt") as stream:
        table = np.loadtxt(stream, delimiter=",")
    features = (table[:, :NUM_PIXELS] / 16.0).astype(np.float32)
    labels = table[:, NUM_PIXELS].astype(np.int64)
    return features, labels


def split_train_test(
    features: Arr, labels: Arr, test_fraction: float = 0.2, seed: int = 0
) -> tuple[Arr, Arr, Arr, Arr]:
    """Given: a random split, (train_features, train_labels, test_features, test_labels)."""
    order = np.random.default_rng(seed).permutation(len(labels))
    test_size = int(round(len(labels) * test_fraction))
    test, train = order[:test_size], order[test_size:]
    return features[train], labels[train], features[test], labels[test]


def train_digits(features: Arr, labels: Arr, seed: int = 0) -> tuple[Module, list[float]]:
    """Train a classifier of digits with your own library; return (model, losses).

    features: float32 array of shape (n, 64), pixels in [0, 1].
    labels:   int64 array of shape (n,), digits 0-9.
    seed:     make every random choice from it (np.random.seed(seed) at the
              start covers Linear's initial weights and np.random shuffles),
              so that a run can be repeated.

    Returns
    model:  a Module that maps a Tensor of features, shape (batch, 64), to a
            Tensor of logits, shape (batch, 10); the checker computes its
            accuracy on test images it has kept apart.
    losses: the training loss, in order: the mean cross-entropy of each step
            (or of each epoch), as a list of Python floats (loss.item()).
            Any 1-D sequence of real numbers will do (a NumPy array, say);
            Tensors will not. The report draws it.

    The recipe: an MLP, SGD, and a few epochs over shuffled mini-batches.
    Each step: zero the gradients, compute the mean loss of the batch,
    backpropagate, step. Aim for 95% test accuracy or more, in seconds.
    """
    np.random.seed(seed)
    model = MLP(NUM_PIXELS, [64], NUM_CLASSES)
    learning_rate, epochs, batch_size = 0.1, 15, 32
    optimiser = SGD(model.parameters(), lr=learning_rate, momentum=0.9, weight_decay=1e-3)
    losses = []
    for epoch in range(epochs):
        # Large steps first, small ones at the end (a cosine schedule):
        # the last epochs settle into a minimum instead of bouncing around it.
        optimiser.lr = learning_rate * 0.5 * (1 + np.cos(np.pi * epoch / epochs))
        order = np.random.permutation(len(labels))
        for start in range(0, len(labels), batch_size):
            batch = order[start : start + batch_size]
            logits = model(Tensor(features[batch]))
            loss = cross_entropy(logits, Tensor(labels[batch])).sum() / len(batch)
            optimiser.zero_grad()
            loss.backward()
            optimiser.step()
            losses.append(loss.item())
    return model, losses


def evaluate(model: Module, features: Arr, labels: Arr) -> float:
    """The fraction of examples that `model` classifies right, a float in [0, 1].

    features of shape (n, 64), labels of shape (n,), as in train_digits.
    A model's prediction is its largest logit. Compute it inside NoGrad:
    evaluating needs no graph.
    """
    with NoGrad():
        logits = model(Tensor(features))
    predictions = logits.argmax(dim=1).array
    return float(np.mean(predictions == labels))


def main() -> None:
    """Given: train on the training split, report the test accuracy and the loss."""
    train_features, train_labels, test_features, test_labels = split_train_test(*load_digits())
    started = time.perf_counter()
    model, losses = train_digits(train_features, train_labels)
    seconds = time.perf_counter() - started
    accuracy = evaluate(model, test_features, test_labels)
    print(f"trained on {len(train_labels)} images in {seconds:.2f} s ({len(losses)} loss values)")
    if losses:
        print(f"loss: first {losses[0]:.4f}, last {losses[-1]:.4f}")
    print(f"test accuracy on {len(test_labels)} images: {accuracy:.1%}")


if __name__ == "__main__":
    main()
