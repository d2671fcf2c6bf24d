"""Tasks from a dataset file: bring your own data.

``dataset_task(path)`` reads a file of (input, target) examples into numpy
arrays once and returns a Task that works wherever a built-in task does
(profiling, search, evaluation, the binaries with ``--data``);
``write_reordered(src, order, dst)`` writes the dataset back with every
target emitted in a discovered order.

The file formats, tokens, ids and errors: ``lopro.tasks.files``.

Split. The held-out part is the *last* ``round(heldout * N)`` examples in
file order (at least one), the training part the rest: deterministic, so
shuffle the file first if its order means something. Examples repeated
across the parts are not removed.

Sampling. Training batches are drawn uniformly, with replacement, from the
training part by indexing (``PoolSampler``), as a function of the key
alone: every order of a profile sees the same stream (common random
numbers). A batch larger than the training part is refused (``ValueError``
naming the file), by ``Independent``, ``Halving`` and ``evaluate_order``
before any work and by the sampler itself for any other caller.
``evaluate_order`` decodes the first ``EvalConfig.num_heldout`` examples of
the held-out part (all of them when it has fewer); ``Mixture`` and
``Universal`` draw their ``num_heldout`` examples from it, uniformly with
replacement. The friendly order is unknown (``friendly_order`` is None).

Writing back. ``write_reordered(src, order, dst)`` writes ``src`` in its own
format with every example's targets replaced by ``targets[order]``, the
order a model emits them in; ``dataset_task(dst)`` then reads the targets
permuted, so a model trained left to right on ``dst`` learns ``src`` in
``order``. A prediction ``p`` (int[L], or tokens) for ``dst`` maps back to
``src``'s slots as ``p[orders.invert_order(order)]``. The output is written
atomically (``results.atomic_write_bytes``), never half-written.
"""

from __future__ import annotations

import dataclasses
import hashlib
import io
import json
import operator
import os

import jax
import jax.numpy as jnp
import numpy as np

from lopro import orders as orders_lib
from lopro import results
from lopro.tasks import files
from lopro.tasks.base import draw_from_pool
from lopro.tasks.base import PoolSampler
from lopro.tasks.base import Task
from lopro.tasks.files import data_format
from lopro.tasks.files import Dataset
from lopro.tasks.files import load_dataset


@dataclasses.dataclass(frozen=True, eq=False)
class DatasetSampler(PoolSampler):
  """Draws training batches from a dataset's training part, by indexing.

  ``inputs`` [P, Lx] and ``targets_pool`` [P, L] are the training part;
  ``dataset`` the whole parsed file (vocabularies, paths). A batch larger
  than P is refused.
  """
  dataset: Dataset | None = dataclasses.field(default=None, repr=False)

  def __call__(self, key: jax.Array, n: int) -> tuple[jax.Array, jax.Array]:
    num_train = self.inputs.shape[0]
    if n > num_train:
      raise ValueError(f'{self.dataset.path}: the training part has '
                       f'{num_train} examples, fewer than a batch of {n}; '
                       'use more examples, a smaller held-out fraction or a '
                       'smaller batch')
    return draw_from_pool(key, n, self.inputs, self.targets_pool)


def _check_heldout(heldout) -> float:
  if (isinstance(heldout, (bool, np.bool_))
      or not isinstance(heldout, (int, float, np.integer, np.floating))
      or not 0.0 < heldout < 1.0):
    raise ValueError(f'heldout must be a fraction in (0, 1), got '
                     f'{heldout!r}')
  return float(heldout)


def dataset_task(path: str, *, length: int | None = None,
                 heldout: float = 0.1, name: str | None = None) -> Task:
  """A Task whose examples come from a dataset file.

  The file is parsed once into numpy arrays (``load_dataset``; formats,
  vocabularies, padding and errors in the module docstring). The training
  stream is drawn from the file's training part, uniformly with replacement,
  by indexing, as a function of the key (the same stream for every order);
  the last ``heldout`` fraction of the examples is the task's fixed
  held-out set (``Task.heldout``), which ``evaluate_order`` and the
  mixture and universal estimators use. The friendly order is unknown.

  Args:
    path: a text (``3 -1 4 # 3 2 6`` per line), .npz or .jsonl file.
    length: L every target must have; None: whatever the file has.
    heldout: the held-out fraction, in (0, 1): the last ``round(heldout *
      N)`` examples (at least one).
    name: the task's name; default the file's name without extension.

  Returns:
    A new Task (not memoised): see ``task_from_dataset``.

  Raises:
    ValueError: a bad file (the message names it and the 1-based line), a
      bad ``length``, ``heldout`` or ``name``, or no training example left.
  """
  heldout = _check_heldout(heldout)
  return task_from_dataset(load_dataset(path, length=length),
                           heldout=heldout, name=name)


def task_from_dataset(dataset: Dataset, *, heldout: float = 0.1,
                      name: str | None = None) -> Task:
  """The Task of a parsed dataset (``dataset_task`` without the parsing).

  Args:
    dataset: a ``load_dataset`` result.
    heldout: the held-out fraction, in (0, 1): the last ``round(heldout *
      N)`` examples (at least one).
    name: the task's name; default the file's name without extension.

  Returns:
    A new Task with ``input_range (0, Vx)`` (``Vx`` the padding id),
    ``target_range (0, V - 1)``, ``heldout`` the held-out part,
    ``num_train_examples`` the training part's size, no friendly order, and
    ``params`` (path, format, sha256, heldout, examples, train_examples,
    heldout_examples, and the sizes input_vocab and target_vocab).
    ``task.sample_fn.dataset`` is ``dataset``: its ``target_vocab`` maps
    target ids back to tokens.

  Raises:
    ValueError: a bad ``heldout`` or ``name``, or no training example left.
  """
  if not isinstance(dataset, Dataset):
    raise ValueError(f'dataset must be a Dataset (load_dataset), got '
                     f'{type(dataset).__name__}')
  heldout = _check_heldout(heldout)
  path = dataset.path
  if name is None:
    name = os.path.splitext(os.path.basename(path))[0] or 'data'
  total = dataset.num_examples
  num_heldout = max(1, round(heldout * total))
  num_train = total - num_heldout
  if num_train < 1:
    raise ValueError(f'{path}: {total} example(s) leave none for training '
                     f'with heldout={heldout}')
  sampler = DatasetSampler(jnp.asarray(dataset.inputs[:num_train]),
                           jnp.asarray(dataset.targets[:num_train]),
                           dataset=dataset)
  params = dict(path=os.path.abspath(path), format=dataset.format,
                sha256=dataset.sha256, heldout=heldout, examples=total,
                train_examples=num_train, heldout_examples=num_heldout,
                input_vocab=len(dataset.input_vocab),
                target_vocab=len(dataset.target_vocab))
  return Task(name=name, length=dataset.length,
              input_length=dataset.inputs.shape[1],
              input_range=(0, dataset.pad_id),
              target_range=(0, len(dataset.target_vocab) - 1),
              sample_fn=sampler, params=params,
              heldout=(dataset.inputs[num_train:],
                       dataset.targets[num_train:]),
              num_train_examples=num_train)


# ---------------------------------------------------------------------------
# Writing back.


def _reordered_text(path: str, data: bytes, order: np.ndarray) -> bytes:
  pick = operator.itemgetter(*order.tolist())
  out = []
  for line_no, line in files.iter_lines(path, data):
    tokens = line.split()
    if not tokens:
      out.append('')
      continue
    k = files.split_text_line(path, line_no, tokens)
    out.append(' '.join(tokens[:k] + [files.SEPARATOR]
                        + list(pick(tokens[k + 1:]))))
  return ('\n'.join(out) + '\n').encode('utf-8')


def _reordered_jsonl(path: str, data: bytes, order: np.ndarray) -> bytes:
  pick = operator.itemgetter(*order.tolist())
  out = []
  for _, line in files.iter_lines(path, data):
    if not line.strip():
      out.append('')
      continue
    obj = json.loads(line)
    obj['target'] = list(pick(obj['target']))
    out.append(json.dumps(obj, ensure_ascii=False))
  return ('\n'.join(out) + '\n').encode('utf-8')


def _reordered_npz(path: str, data: bytes, order: np.ndarray) -> bytes:
  arrays = files.load_npz(path, data)
  arrays['targets'] = arrays['targets'][:, order]
  buffer = io.BytesIO()
  np.savez_compressed(buffer, **arrays)
  return buffer.getvalue()


def write_reordered(src_path: str, order, dst_path: str) -> None:
  """Writes the dataset ``src_path`` with its targets in ``order``.

  Every example's targets become ``targets[order]`` (slot ``order[t]`` of
  the source is emitted t-th); inputs, blank lines and, in .npz and .jsonl,
  the other arrays and keys are kept. The output has the source's format,
  text lines in canonical form (tokens joined by single spaces), and is
  written atomically (``results.atomic_write_bytes``): a bad source or order
  leaves ``dst_path`` untouched. Reading it back with ``dataset_task`` gives
  the targets permuted; a prediction ``p`` for the output maps back to the
  source's slots as ``p[orders.invert_order(order)]``.

  Args:
    src_path: a dataset file (any format ``dataset_task`` reads).
    order: int[L], a permutation of the target slots (e.g. a search
      result's ``order``).
    dst_path: the output; its extension must give the source's format.

  Raises:
    ValueError: a bad source file (as ``load_dataset``), an order that is
      not a permutation of 0..L-1, or an output extension of another format.
  """
  src_path, dst_path = os.fspath(src_path), os.fspath(dst_path)
  fmt = data_format(src_path)
  if data_format(dst_path) != fmt:
    raise ValueError(f'{dst_path}: the output must have the source\'s '
                     f'format ({fmt}, from {src_path}), got '
                     f'{data_format(dst_path)}; use the same extension')
  dataset = load_dataset(src_path)
  try:
    order = orders_lib.validate_order(order, dataset.length)
  except ValueError as e:
    raise ValueError(f'order is not a permutation of the {dataset.length} '
                     f'target slots of {src_path}: {e}') from None
  data = files.read_bytes(src_path)
  if hashlib.sha256(data).hexdigest() != dataset.sha256:
    raise ValueError(f'{src_path}: changed while being read; try again')
  write = {'text': _reordered_text, 'jsonl': _reordered_jsonl,
           'npz': _reordered_npz}[fmt]
  results.atomic_write_bytes(dst_path, write(src_path, data, order))


__all__ = ['DatasetSampler', 'dataset_task', 'task_from_dataset',
           'write_reordered']
