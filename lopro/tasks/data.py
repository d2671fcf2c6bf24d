"""Tasks from a dataset file: bring your own data.

``dataset_task(path)`` reads a file of (input, target) examples into numpy
arrays once and returns a Task that works wherever a built-in task does
(profiling, search, evaluation, the binaries with ``--data``);
``write_reordered(src, order, dst)`` writes the dataset back with every
target emitted in a discovered order.

Formats, chosen by the file's extension:

  * text (any extension but the two below, e.g. ``.txt``): one example per
    line, the input tokens, a ``#`` token, the target tokens, separated by
    whitespace: ``3 -1 4 # 3 2 6``. UTF-8 (a leading byte-order mark is
    ignored); blank lines are skipped; ``#`` is never a token.
  * ``.npz``: arrays ``inputs`` [N, Lx] and ``targets`` [N, L] of integers
    or strings (other arrays are ignored, and kept by ``write_reordered``).
  * ``.jsonl``: one JSON object per line, ``{"input": [...], "target":
    [...]}``, tokens integers or strings (other keys are ignored, and kept
    by ``write_reordered``); blank lines are skipped.

Tokens and ids. A token is its text (in .npz and .jsonl the integer 3 and
the string "3" are one token). Inputs and targets have vocabularies of
their own, each sorted: by integer value (ties between spellings such as
``03`` and ``3`` by text) when every token of that side is an integer
(``[+-]?[0-9]+``), else as strings (code-point order). Token ``vocab[i]``
has id ``i``. Inputs may differ in length: each is padded at its end with a
padding id of its own, ``pad_id = Vx`` (one past the input vocabulary), so
the Task's ``input_range`` is ``(0, Vx)`` and its ``target_range`` ``(0,
V - 1)``. Every target has the same length L >= 2, and at least two
distinct target tokens occur (else there is nothing to learn).

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
``src``'s slots as ``p[orders.invert_order(order)]``.

Errors. A bad file raises ``ValueError('PATH:LINE: problem')``, LINE 1-based
(for .npz the example's row, 1-based); an output is written atomically
(``results.atomic_write_bytes``), never half-written.

Memory is O(file): the file's bytes, the id arrays, and per-block token
lists (blocks of about a MiB). A 1,000,000-line text file (37 MB; 4-8
input and 8 target tokens a line) parses in about 3 s on one CPU core, with
at most 120 MB of Python allocations for 72 MB of arrays.

Dimension letters: N examples, Lx input length (the longest input), L
target length, Vx input vocabulary, V target vocabulary.
"""

from __future__ import annotations

import codecs
import dataclasses
import hashlib
import io
import json
import operator
import os
import re
from collections.abc import Iterator, Sequence

import jax
import jax.numpy as jnp
import numpy as np

from lopro import orders as orders_lib
from lopro import results
from lopro.tasks.base import draw_from_pool
from lopro.tasks.base import PoolSampler
from lopro.tasks.base import Task

FORMATS = ('text', 'npz', 'jsonl')
# The separator of the text format.
SEPARATOR = '#'
# Bytes decoded at once; lines are parsed block by block.
_BLOCK_BYTES = 1 << 20
_INTEGER = re.compile(r'[+-]?[0-9]+')


def data_format(path: str) -> str:
  """'npz' or 'jsonl' by ``path``'s extension, else 'text'."""
  extension = os.path.splitext(path)[1].lower()
  return {'.npz': 'npz', '.jsonl': 'jsonl'}.get(extension, 'text')


@dataclasses.dataclass(frozen=True, eq=False)
class Dataset:
  """A dataset file parsed into id arrays (see the module docstring).

  Attributes:
    path: the file, as given.
    format: 'text', 'npz' or 'jsonl'.
    inputs: int32[N, Lx] input ids, each row padded at its end with
      ``pad_id``.
    input_lengths: int32[N], the tokens of each input before padding.
    targets: int32[N, L] target ids, in the file's (stored) order.
    input_vocab: the Vx input tokens; id i is ``input_vocab[i]``.
    target_vocab: the V target tokens; id i is ``target_vocab[i]``.
    lines: int64[N], the 1-based line of every example (.npz: its row).
    sha256: hex digest of the file's bytes.
  """
  path: str
  format: str
  inputs: np.ndarray
  input_lengths: np.ndarray
  targets: np.ndarray
  input_vocab: tuple[str, ...]
  target_vocab: tuple[str, ...]
  lines: np.ndarray
  sha256: str

  @property
  def num_examples(self) -> int:
    """N."""
    return self.targets.shape[0]

  @property
  def length(self) -> int:
    """L, the target length."""
    return self.targets.shape[1]

  @property
  def pad_id(self) -> int:
    """The padding id of inputs: Vx, one past the input vocabulary."""
    return len(self.input_vocab)

  def target_tokens(self, ids) -> np.ndarray:
    """The tokens of target ids: object[...] of str, ``ids``' shape."""
    return np.asarray(self.target_vocab, dtype=object)[np.asarray(ids)]

  def input_tokens(self, ids) -> list[list[str]]:
    """The tokens of padded input rows int[B, Lx], padding dropped."""
    vocab = self.input_vocab
    return [[vocab[i] for i in row if i != self.pad_id]
            for row in np.asarray(ids).tolist()]


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


# ---------------------------------------------------------------------------
# Reading.


def _read_bytes(path: str) -> bytes:
  try:
    with open(path, 'rb') as f:
      return f.read()
  except OSError as e:
    raise ValueError(f'{path}: cannot read the dataset: '
                     f'{e.strerror or e}') from None


def _iter_lines(path: str, data: bytes) -> Iterator[tuple[int, str]]:
  """(1-based line number, line) of UTF-8 ``data``, decoded block by block.

  Raises:
    ValueError: bytes that are not UTF-8, naming their line and column.
  """
  pos = len(codecs.BOM_UTF8) if data.startswith(codecs.BOM_UTF8) else 0
  line_no = 0
  while pos < len(data):
    end = data.find(b'\n', min(pos + _BLOCK_BYTES, len(data)) - 1)
    end = len(data) if end < 0 else end + 1
    try:
      text = data[pos:end].decode('utf-8')
    except UnicodeDecodeError as e:
      bad = pos + e.start
      bad_line = data.count(b'\n', 0, bad) + 1
      column = bad - data.rfind(b'\n', 0, bad)
      raise ValueError(f'{path}:{bad_line}: not UTF-8 text (byte '
                       f'0x{data[bad]:02x} at column {column})') from None
    lines = text.split('\n')
    if text.endswith('\n'):
      lines.pop()
    for line in lines:
      line_no += 1
      yield line_no, line
    pos = end


def _sorted_vocab(tokens: Sequence[str]) -> tuple[tuple[str, ...], np.ndarray]:
  """(the tokens sorted, int32[len]: the sorted id of every given token).

  Integers by value (ties by text) when every token is one, else strings.
  """
  if all(_INTEGER.fullmatch(t) for t in tokens):
    ranked = sorted(range(len(tokens)),
                    key=lambda i: (int(tokens[i]), tokens[i]))
  else:
    ranked = sorted(range(len(tokens)), key=tokens.__getitem__)
  rank = np.empty(len(tokens), np.int32)
  rank[ranked] = np.arange(len(tokens), dtype=np.int32)
  return tuple(tokens[i] for i in ranked), rank


class _Examples:
  """Collects examples block by block: tokens become first-seen ids at once
  (so memory is the id arrays, not Python strings), checks target lengths.
  """

  def __init__(self, path: str, length: int | None):
    self.path = path
    self.length = length  # L once known
    self.expected = length  # the caller's length, or None
    self.first_line = None  # the line that fixed L
    self.input_ids: dict[str, int] = {}
    self.target_ids: dict[str, int] = {}
    self.parts: list[tuple[np.ndarray, ...]] = []

  def other_length(self, count: int, line_no: int) -> None:
    """Called when a line's ``count`` targets differ from ``self.length``."""
    tokens = f'{count} target token{"" if count == 1 else "s"}'
    if self.length is None:
      if count < 2:
        raise ValueError(f'{self.path}:{line_no}: {tokens}; a task needs at '
                         'least 2 (one slot has one order)')
      self.length, self.first_line = count, line_no
      return
    if self.expected is not None:
      raise ValueError(f'{self.path}:{line_no}: {tokens}, expected '
                       f'length={self.expected}')
    raise ValueError(f'{self.path}:{line_no}: {tokens}, but line '
                     f'{self.first_line} has {self.length}; every example '
                     'needs the same number of targets')

  def add(self, inputs: list[str], input_lengths: list[int],
          targets: list[str], lines: list[int]) -> None:
    """One block: flat input and target tokens, per-example lengths, lines."""
    part = []
    for tokens, ids in ((inputs, self.input_ids), (targets, self.target_ids)):
      new = set(tokens).difference(ids)
      ids.update(zip(new, range(len(ids), len(ids) + len(new))))
      part.append(np.fromiter(map(ids.__getitem__, tokens), np.int32,
                              len(tokens)))
    self.parts.append((part[0], np.asarray(input_lengths, np.int32), part[1],
                       np.asarray(lines, np.int64)))

  def finish(self, fmt: str, digest: str, where: str = 'line') -> Dataset:
    path = self.path
    if not self.parts or not sum(p[3].size for p in self.parts):
      raise ValueError(f'{path}: no examples (the file is empty)')
    # One kind of array at a time, dropping the blocks' copies as we go,
    # keeps the peak near twice the arrays.
    parts = [list(kind) for kind in zip(*self.parts)]
    self.parts = []

    def concatenate(kind: int) -> np.ndarray:
      array = np.concatenate(parts[kind])
      parts[kind] = None
      return array

    lines, lengths = concatenate(3), concatenate(1)
    target_vocab, target_rank = _sorted_vocab(list(self.target_ids))
    if len(target_vocab) < 2:
      raise ValueError(f'{path}: every target token ({where}s {lines[0]} to '
                       f'{lines[-1]}) is {target_vocab[0]!r}: one distinct '
                       'target token, nothing to learn')
    input_vocab, input_rank = _sorted_vocab(list(self.input_ids))
    targets = target_rank[concatenate(2)].reshape(lines.size, self.length)
    width = max(1, int(lengths.max()))
    inputs = np.full((lines.size, width), len(input_vocab), np.int32)
    inputs[np.arange(width) < lengths[:, None]] = input_rank[concatenate(0)]
    for array in (inputs, lengths, targets, lines):
      array.setflags(write=False)
    return Dataset(path=path, format=fmt, inputs=inputs,
                   input_lengths=lengths, targets=targets,
                   input_vocab=input_vocab, target_vocab=target_vocab,
                   lines=lines, sha256=digest)


# Examples gathered before their tokens become ids.
_FLUSH = 1 << 15


def _split_text_line(path: str, line_no: int,
                     tokens: list[str]) -> int:
  """The index of the one ``#`` token of a non-blank text line."""
  count = tokens.count(SEPARATOR)
  if count != 1:
    if not count:
      raise ValueError(f'{path}:{line_no}: no "{SEPARATOR}" between inputs '
                       f'and targets (expected e.g. "3 -1 4 # 3 2 6")')
    raise ValueError(f'{path}:{line_no}: {count} "{SEPARATOR}" tokens; '
                     'expected one, between inputs and targets')
  return tokens.index(SEPARATOR)


def _read_text(path: str, data: bytes, examples: _Examples) -> None:
  xs, lengths, ys, lines = [], [], [], []
  length = examples.length
  for line_no, line in _iter_lines(path, data):
    tokens = line.split()
    if not tokens:
      continue
    k = _split_text_line(path, line_no, tokens)
    if len(tokens) - k - 1 != length:
      examples.other_length(len(tokens) - k - 1, line_no)
      length = examples.length
    xs.extend(tokens[:k])
    lengths.append(k)
    ys.extend(tokens[k + 1:])
    lines.append(line_no)
    if len(lines) == _FLUSH:
      examples.add(xs, lengths, ys, lines)
      xs, lengths, ys, lines = [], [], [], []
  examples.add(xs, lengths, ys, lines)


def _json_tokens(path: str, line_no: int, obj, key: str) -> list[str]:
  values = obj.get(key) if isinstance(obj, dict) else None
  if not isinstance(values, list):
    raise ValueError(f'{path}:{line_no}: expected an object with "input" '
                     f'and "target" lists, got {_clip(obj)}')
  tokens = []
  for j, value in enumerate(values):
    if isinstance(value, str):
      tokens.append(value)
    elif isinstance(value, int) and not isinstance(value, bool):
      tokens.append(str(value))
    else:
      raise ValueError(f'{path}:{line_no}: {key}[{j}] is {_clip(value)}; '
                       'tokens must be integers or strings')
  return tokens


def _clip(value, size: int = 60) -> str:
  text = json.dumps(value, ensure_ascii=False)
  return text if len(text) <= size else text[:size - 3] + '...'


def _read_jsonl(path: str, data: bytes, examples: _Examples) -> None:
  xs, lengths, ys, lines = [], [], [], []
  length = examples.length
  for line_no, line in _iter_lines(path, data):
    if not line.strip():
      continue
    try:
      obj = json.loads(line)
    except json.JSONDecodeError as e:
      raise ValueError(f'{path}:{line_no}: invalid JSON ({e.msg} at column '
                       f'{e.colno})') from None
    x = _json_tokens(path, line_no, obj, 'input')
    y = _json_tokens(path, line_no, obj, 'target')
    if len(y) != length:
      examples.other_length(len(y), line_no)
      length = examples.length
    xs.extend(x)
    lengths.append(len(x))
    ys.extend(y)
    lines.append(line_no)
    if len(lines) == _FLUSH:
      examples.add(xs, lengths, ys, lines)
      xs, lengths, ys, lines = [], [], [], []
  examples.add(xs, lengths, ys, lines)


def _load_npz(path: str, data: bytes) -> dict[str, np.ndarray]:
  try:
    with np.load(io.BytesIO(data), allow_pickle=False) as f:
      return {key: f[key] for key in f.files}
  except Exception as e:  # zipfile, pickle and format errors alike
    raise ValueError(f'{path}: not a readable .npz file of plain arrays '
                     f'({e})') from None


def _npz_tokens(path: str, arrays: dict[str, np.ndarray], key: str
                ) -> tuple[list[str], np.ndarray]:
  """(tokens, int64 first-seen-free ids into them) of one npz array."""
  if key not in arrays:
    raise ValueError(f'{path}: no {key!r} array (found {sorted(arrays)}); '
                     'expected "inputs" [N, Lx] and "targets" [N, L]')
  array = arrays[key]
  if array.ndim != 2:
    raise ValueError(f'{path}: {key} must be 2-D [N, ...], got shape '
                     f'{array.shape}')
  if array.dtype.kind == 'S':
    try:
      array = np.char.decode(array, 'utf-8')
    except UnicodeDecodeError:
      raise ValueError(f'{path}: {key} holds bytes that are not UTF-8'
                       ) from None
  if array.dtype.kind not in 'iuU':
    raise ValueError(f'{path}: {key} has dtype {array.dtype}; tokens must be '
                     'integers or strings')
  unique, inverse = np.unique(array, return_inverse=True)
  return [str(u) for u in unique.tolist()], inverse.reshape(array.shape)


def _read_npz(path: str, data: bytes, examples: _Examples) -> None:
  arrays = _load_npz(path, data)
  x_tokens, x_ids = _npz_tokens(path, arrays, 'inputs')
  y_tokens, y_ids = _npz_tokens(path, arrays, 'targets')
  if x_ids.shape[0] != y_ids.shape[0]:
    raise ValueError(f'{path}: inputs has {x_ids.shape[0]} rows but targets '
                     f'{y_ids.shape[0]}')
  if not y_ids.shape[0]:
    return
  if y_ids.shape[1] != examples.length:
    examples.other_length(y_ids.shape[1], 1)
  # The tokens are unique already: their ids are their positions.
  examples.input_ids = dict(zip(x_tokens, range(len(x_tokens))))
  examples.target_ids = dict(zip(y_tokens, range(len(y_tokens))))
  num = y_ids.shape[0]
  examples.parts.append((
      x_ids.astype(np.int32).reshape(-1),
      np.full(num, x_ids.shape[1], np.int32),
      y_ids.astype(np.int32).reshape(-1), np.arange(1, num + 1)))


def load_dataset(path: str, *, length: int | None = None) -> Dataset:
  """Parses a dataset file into id arrays (formats: the module docstring).

  Args:
    path: a text, .npz or .jsonl file.
    length: L every target must have; None: the first example's.

  Returns:
    A Dataset.

  Raises:
    ValueError: an unreadable or bad file, naming the file and the 1-based
      line (.npz: row): no ``#``, ragged or too short targets, no
      examples, bytes that are not UTF-8, invalid JSON or tokens, one
      distinct target token.
  """
  if not isinstance(path, (str, os.PathLike)):
    raise ValueError(f'path must be a str, got {path!r}')
  path = os.fspath(path)
  if length is not None:
    if (isinstance(length, (bool, np.bool_))
        or not isinstance(length, (int, np.integer)) or length < 2):
      raise ValueError(f'length must be an int >= 2 or None, got {length!r}')
    length = int(length)
  data = _read_bytes(path)
  digest = hashlib.sha256(data).hexdigest()
  fmt = data_format(path)
  examples = _Examples(path, length)
  {'text': _read_text, 'jsonl': _read_jsonl, 'npz': _read_npz}[fmt](
      path, data, examples)
  del data  # before the arrays are assembled
  return examples.finish(fmt, digest, 'row' if fmt == 'npz' else 'line')


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
  for line_no, line in _iter_lines(path, data):
    tokens = line.split()
    if not tokens:
      out.append('')
      continue
    k = _split_text_line(path, line_no, tokens)
    out.append(' '.join(tokens[:k] + [SEPARATOR]
                        + list(pick(tokens[k + 1:]))))
  return ('\n'.join(out) + '\n').encode('utf-8')


def _reordered_jsonl(path: str, data: bytes, order: np.ndarray) -> bytes:
  pick = operator.itemgetter(*order.tolist())
  out = []
  for _, line in _iter_lines(path, data):
    if not line.strip():
      out.append('')
      continue
    obj = json.loads(line)
    obj['target'] = list(pick(obj['target']))
    out.append(json.dumps(obj, ensure_ascii=False))
  return ('\n'.join(out) + '\n').encode('utf-8')


def _reordered_npz(path: str, data: bytes, order: np.ndarray) -> bytes:
  arrays = _load_npz(path, data)
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
  data = _read_bytes(src_path)
  if hashlib.sha256(data).hexdigest() != dataset.sha256:
    raise ValueError(f'{src_path}: changed while being read; try again')
  write = {'text': _reordered_text, 'jsonl': _reordered_jsonl,
           'npz': _reordered_npz}[fmt]
  results.atomic_write_bytes(dst_path, write(src_path, data, order))


__all__ = ['Dataset', 'DatasetSampler', 'FORMATS', 'data_format',
           'dataset_task', 'load_dataset', 'task_from_dataset',
           'write_reordered']
