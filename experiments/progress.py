"""A progress bar over a whole search, for the binaries and notebooks.

The library stays silent and reports through callbacks; this turns the
driver's ``StageRecord`` callbacks into a tqdm bar with an ETA: order-
profiles done against the most the strategy may spend
(``strategy.max_profiles``; the bar finishes early when scores are reused).
A resumed search says so: the runs read from its checkpoint fill the bar
first and the description reads 'resumed'. absl's log lines are written
through the bar (``tqdm.write``), so they do not break it.

  with progress.SearchBar(total=method.max_profiles(L), desc='relu L=8') as bar:
    lopro.search_order(task, ..., callback=bar)
"""

from __future__ import annotations

import sys
from typing import Any

from absl import logging
from tqdm import auto as tqdm_auto


class _TqdmStream:
  """A stream that writes through tqdm, above any live bar."""

  def write(self, text: str) -> None:
    if text.strip():
      tqdm_auto.tqdm.write(text.rstrip('\n'), file=sys.stderr)

  def flush(self) -> None:
    sys.stderr.flush()


class SearchBar:
  """A callable for ``search_order(callback=...)`` that draws a tqdm bar.

  Attributes:
    bar: the tqdm bar (``tqdm.auto``: a widget in notebooks).
    resumed: order-profiles read from a checkpoint.
  """

  def __init__(self, total: int | None, desc: str = 'search', **kwargs: Any):
    self.bar = tqdm_auto.tqdm(total=total, desc=desc, unit='order',
                              dynamic_ncols=True, **kwargs)
    self.desc = desc
    self.resumed = 0
    self._handler_stream = None

  def __call__(self, record: Any) -> None:
    new = len(record.candidates) - record.num_reused
    if record.resumed:
      self.resumed += new
      self.bar.set_description(f'{self.desc} (resumed: {self.resumed} '
                               'from the checkpoint)')
    self.bar.update(new)
    self.bar.set_postfix_str(f'{record.name}, best {record.best_score:.4f}',
                             refresh=False)

  def close(self) -> None:
    if self.bar.total is not None and self.bar.n < self.bar.total:
      self.bar.total = self.bar.n  # reused scores spent less than the bound
      self.bar.refresh()
    self.bar.close()

  def __enter__(self) -> SearchBar:
    handler = logging.get_absl_handler().python_handler
    self._handler_stream = handler.stream
    handler.stream = _TqdmStream()
    return self

  def __exit__(self, *exc_info) -> None:
    self.close()
    logging.get_absl_handler().python_handler.stream = self._handler_stream
