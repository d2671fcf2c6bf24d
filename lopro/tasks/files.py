"""Dataset files parsed into id arrays: formats, tokens, ids, errors.

``load_dataset(path)`` reads a file of (input, target) examples into numpy
arrays once (``Dataset``); ``lopro.tasks.data`` makes a Task of it and
writes it back in an order (``write_reordered``).

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
import os
import re
from collections.abc import Iterator, Sequence

import numpy as np

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


# ---------------------------------------------------------------------------
# Reading.


def read_bytes(path: str) -> bytes:
  try:
    with open(path, 'rb') as f:
      return f.read()
  except OSError as e:
    raise ValueError(f'{path}: cannot read the dataset: '
                     f'{e.strerror or e}') from None


def iter_lines(path: str, data: bytes) -> Iterator[tuple[int, str]]:
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


def split_text_line(path: str, line_no: int,
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
  for line_no, line in iter_lines(path, data):
    tokens = line.split()
    if not tokens:
      continue
    k = split_text_line(path, line_no, tokens)
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
  for line_no, line in iter_lines(path, data):
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


def load_npz(path: str, data: bytes) -> dict[str, np.ndarray]:
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
  arrays = load_npz(path, data)
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
  data = read_bytes(path)
  digest = hashlib.sha256(data).hexdigest()
  fmt = data_format(path)
  examples = _Examples(path, length)
  {'text': _read_text, 'jsonl': _read_jsonl, 'npz': _read_npz}[fmt](
      path, data, examples)
  del data  # before the arrays are assembled
  return examples.finish(fmt, digest, 'row' if fmt == 'npz' else 'line')
