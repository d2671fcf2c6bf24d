"""Records on disk: JSON/npz written atomically, and plots.

Nothing here is ever left half-written: every file is written to a temporary
name in the same directory and moved into place with ``os.replace``.
"""

from __future__ import annotations

import io
import json
import os
import tempfile
from typing import Any

import numpy as np


def to_jsonable(obj: Any) -> Any:
  """Converts numpy scalars/arrays (and nested containers) to JSON types."""
  if isinstance(obj, dict):
    return {str(k): to_jsonable(v) for k, v in obj.items()}
  if isinstance(obj, (list, tuple)):
    return [to_jsonable(v) for v in obj]
  if isinstance(obj, np.ndarray):
    return to_jsonable(obj.tolist())
  if isinstance(obj, np.integer):
    return int(obj)
  if isinstance(obj, np.floating):
    obj = float(obj)
  if isinstance(obj, float) and not np.isfinite(obj):
    return str(obj)  # 'inf', '-inf', 'nan': JSON has no such numbers
  return obj


def atomic_write_bytes(path: str, data: bytes) -> None:
  """Writes ``data`` to ``path`` so that readers see the old or new file only."""
  directory = os.path.dirname(os.path.abspath(path))
  os.makedirs(directory, exist_ok=True)
  fd, tmp = tempfile.mkstemp(dir=directory, prefix='.tmp-',
                             suffix=os.path.basename(path))
  try:
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
