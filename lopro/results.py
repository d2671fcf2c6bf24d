"""Records on disk: JSON/npz written atomically, checkpoints read back, plots.

Nothing here is ever left half-written: every file is written to a temporary
name in the same directory and moved into place with ``os.replace``.
"""

from __future__ import annotations

import io
import json
import os
import tempfile
from collections.abc import Mapping
from typing import Any

import numpy as np


def to_jsonable(obj: Any) -> Any:
  """Converts numpy scalars/arrays (and nested containers) to JSON types."""
  if isinstance(obj, Mapping):
    return {str(k): to_jsonable(v) for k, v in obj.items()}
  if isinstance(obj, (list, tuple)):
    return [to_jsonable(v) for v in obj]
  if isinstance(obj, np.ndarray):
    return to_jsonable(obj.tolist())
  if isinstance(obj, np.bool_):
    return bool(obj)
  if isinstance(obj, np.integer):
    return int(obj)
  if isinstance(obj, np.floating):
    obj = float(obj)
  if isinstance(obj, float) and not np.isfinite(obj):
    return str(obj)  # 'inf', '-inf', 'nan': JSON has no such numbers
  return obj


def atomic_write_bytes(path: str, data: bytes) -> None:
  """Writes ``data`` to ``path``; readers see the old or new file only."""
  directory = os.path.dirname(os.path.abspath(path))
  os.makedirs(directory, exist_ok=True)
  fd, tmp = tempfile.mkstemp(dir=directory, prefix='.tmp-',
                             suffix=os.path.basename(path))
  try:
    umask = os.umask(0)
    os.umask(umask)
    os.chmod(tmp, 0o666 & ~umask)  # mkstemp makes 0600; match a plain open()
    with os.fdopen(fd, 'wb') as f:
      f.write(data)
      f.flush()
      os.fsync(f.fileno())
    os.replace(tmp, path)
  except BaseException:
    if os.path.exists(tmp):
      os.remove(tmp)
    raise


def atomic_write_json(path: str, obj: Any) -> None:
  """Writes ``obj`` (numpy allowed) as indented JSON, atomically."""
  text = json.dumps(to_jsonable(obj), indent=2, sort_keys=False)
  atomic_write_bytes(path, (text + '\n').encode())


def atomic_save_npz(path: str, **arrays: np.ndarray) -> None:
  """``np.savez_compressed`` to ``path``, atomically."""
  buffer = io.BytesIO()
  np.savez_compressed(buffer, **arrays)
  atomic_write_bytes(path, buffer.getvalue())


# StageRecord fields that are one number (or string) per profiling run.
_RUN_FIELDS = ('name', 'best_score', 'seconds', 'num_nonfinite', 'num_reused',
               'estimator', 'estimator_index')


def save_history(path: str, history) -> None:
  """Writes a search history (``StageRecord``s) as compressed npz, atomically.

  Candidates, scores and kept orders of all runs are concatenated (a run's
  rows are found by the ``num_candidates`` / ``num_kept`` counts), so a
  history of 30,000 profiled orders is a few hundred kB.
  """
  if not history:
    raise ValueError('history is empty: nothing to save')
  arrays = {name: np.array([getattr(r, name) for r in history])
            for name in _RUN_FIELDS}
  arrays.update(
      num_candidates=np.array([len(r.candidates) for r in history]),
      candidates=np.concatenate([r.candidates for r in history]).astype(
          np.int16 if history[0].candidates.shape[1] < 2**15 else np.int64),
      scores=np.concatenate([r.scores for r in history]),
      num_kept=np.array([len(r.kept) for r in history]),
      kept=np.concatenate([r.kept for r in history]).astype(np.int64))
  atomic_save_npz(path, **arrays)


def load_history(path: str) -> list[dict[str, Any]]:
  """The runs of a ``save_history`` file, as ``StageRecord.to_dict``s."""
  with np.load(path) as data:
    cut = np.cumsum(data['num_candidates'])[:-1]
    candidates = np.split(data['candidates'].astype(np.int64), cut)
    scores = np.split(data['scores'], cut)
    kept = np.split(data['kept'], np.cumsum(data['num_kept'])[:-1])
    runs = [{name: data[name][i].item() for name in _RUN_FIELDS}
            for i in range(len(data['name']))]
  for run, c, v, k in zip(runs, candidates, scores, kept):
    run.update(candidates=c, scores=v, kept=k)
  return runs


def load_checkpoint(path: str, expected: dict[str, Any]) -> dict[str, Any]:
  """Reads a search checkpoint, refusing one written by other arguments.

  Raises:
    ValueError: the file is corrupt, or its ``fingerprint`` differs from
      ``expected`` (the first differing key is named).
  """
  try:
    with open(path) as f:
      saved = json.load(f)
    if not isinstance(saved, dict) or 'fingerprint' not in saved:
      raise ValueError('not a search checkpoint')
  except (OSError, ValueError) as e:
    raise ValueError(f'checkpoint {path} is corrupt ({e}); delete it to start '
                     'afresh') from None
  old, new = _flatten_keys(saved['fingerprint']), _flatten_keys(expected)
  for key in sorted(set(old) | set(new), key=str):
    a, b = old.get(key, '<missing>'), new.get(key, '<missing>')
    if a != b:
      raise ValueError(f'checkpoint in {os.path.dirname(path)} was written by '
                       f'different arguments: {key} was {a!r}, now {b!r}; '
                       'use another checkpoint_dir or delete it')
  return saved


def _flatten_keys(obj, prefix=''):
  if isinstance(obj, dict):
    out = {}
    for key, value in obj.items():
      out.update(_flatten_keys(value, f'{prefix}{key}.'))
    return out
  return {prefix[:-1]: obj}


def new_figure(**kwargs):
  """A matplotlib Figure outside pyplot: no backend is switched or needed,
  so plotting from the library leaves a notebook's inline plots alone."""
  from matplotlib import figure  # pylint: disable=g-import-not-at-top
  return figure.Figure(**kwargs)


def save_figure(fig, path: str) -> None:
  """Saves a matplotlib figure as PNG atomically (and closes a pyplot one)."""
  buffer = io.BytesIO()
  fig.savefig(buffer, format='png', dpi=110, bbox_inches='tight')
  if getattr(fig.canvas, 'manager', None) is not None:
    import matplotlib.pyplot as plt  # pylint: disable=g-import-not-at-top
    plt.close(fig)
  atomic_write_bytes(path, buffer.getvalue())


def plot_profile(losses: np.ndarray, scores: np.ndarray,
                 labels: dict[int, str], path: str, title: str = '') -> None:
  """Loss curves (named orders in colour) and the sorted scores, as a PNG.

  Args:
    losses: float[O, T] training losses.
    scores: float[O], lower is friendlier (+inf allowed).
    labels: row index -> name for the orders to draw in colour.
    path: PNG file to write.
    title: figure title.
  """
  fig = new_figure(figsize=(11, 4))
  ax_curve, ax_rank = fig.subplots(1, 2)
  steps = np.arange(1, losses.shape[1] + 1)
  for row in range(losses.shape[0]):
    if row not in labels:
      ax_curve.plot(steps, losses[row], color='0.75', lw=0.6)
  for row, name in labels.items():
    ax_curve.plot(steps, losses[row], lw=1.8, label=name)
  ax_curve.set(xlabel='step', ylabel='training loss', yscale='log',
               title='loss curves (grey: other orders)')
  ax_curve.legend(fontsize=8)
  order = np.argsort(np.where(np.isfinite(scores), scores, np.inf),
                     kind='stable')
  finite = np.where(np.isfinite(scores), scores, np.nan)
  colors = ['C%d' % list(labels).index(i) if i in labels else '0.6'
            for i in order]
  ax_rank.bar(np.arange(len(order)), finite[order], color=colors)
  ax_rank.set(xlabel='rank', ylabel='score (lower is friendlier)',
              title='scores, best first')
  fig.suptitle(title)
  save_figure(fig, path)


def plot_search(stage_names: list[str], best_scores: list[float],
                order: np.ndarray, friendly: np.ndarray | None, path: str,
                title: str = '') -> None:
  """Best score per profiling run, and the found order against the friendly.

  Args:
    stage_names: name of every profiling run, in sequence.
    best_scores: the best score of each run.
    order: int[L], the discovered order.
    friendly: int[L] known friendly order, or None.
    path: PNG file to write.
    title: figure title.
  """
  fig = new_figure(figsize=(12, 4.2))
  ax_run, ax_order = fig.subplots(1, 2)
  runs = np.arange(len(best_scores))
  ax_run.plot(runs, best_scores, 'o-')
  ax_run.set_xticks(runs)
  ax_run.set_xticklabels(stage_names, rotation=60, ha='right', fontsize=7)
  ax_run.set(ylabel='best score in the run', title='search stages')
  slots = np.arange(len(order))
  ax_order.plot(slots, order, 'o-', label='discovered', lw=2)
  if friendly is not None:
    ax_order.plot(slots, friendly, 's--', label='friendly', alpha=0.7)
  ax_order.set(xlabel='generation step', ylabel='target slot emitted',
               title='order: which slot is emitted at each step')
  ax_order.legend()
  fig.suptitle(title)
  save_figure(fig, path)
