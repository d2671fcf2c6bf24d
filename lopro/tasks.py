"""Tasks: what the model must produce, and in which orders that is easy.

A ``Task`` bundles a pure JAX sampler ``sample(key, n) -> (inputs, targets)``
with the value ranges the model's vocabulary needs and the orders that are
known to matter (``friendly_order``, ``reference_orders``).

Dimension letters: B examples, Lx input length, L target length.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Mapping
from typing import Any

import jax
import numpy as np

SampleFn = Callable[[jax.Array, int], tuple[jax.Array, jax.Array]]


@dataclasses.dataclass(frozen=True, eq=False)
class Task:
  """A sequence task with a fixed-length target.

  Compared (and hashed) by identity, so that compiled training functions can
  be cached per task; ``get_task`` returns the same object for the same
  arguments.

  Attributes:
    name: short name, e.g. ``'relu'``.
    length: L, the target length.
    input_length: Lx, the input length.
    input_range: inclusive (lo, hi) of every input value.
    target_range: inclusive (lo, hi) of every target value.
    sample_fn: pure, jit- and vmap-able ``(key, n) -> (int32[n, Lx],
      int32[n, L])``, targets in stored order; ``n`` is a Python int.
    friendly_order: int[L] known to be easy, or None.
    reference_orders: name -> int[L]; always has 'forward' and 'reverse',
      and 'friendly' when ``friendly_order`` is set.
    params: the JSON-serialisable arguments the task was built from.
  """
  name: str
  length: int
  input_length: int
  input_range: tuple[int, int]
  target_range: tuple[int, int]
  sample_fn: SampleFn
  friendly_order: np.ndarray | None = None
  reference_orders: Mapping[str, np.ndarray] = dataclasses.field(
      default_factory=dict)
  params: Mapping[str, Any] = dataclasses.field(default_factory=dict)

  @property
  def input_vocab(self) -> int:
    return self.input_range[1] - self.input_range[0] + 1

  @property
  def target_vocab(self) -> int:
    return self.target_range[1] - self.target_range[0] + 1

  def sample(self, key: jax.Array, n: int) -> tuple[jax.Array, jax.Array]:
    """Draws ``n`` examples: (inputs int32[n, Lx], targets int32[n, L])."""
    return self.sample_fn(key, n)
