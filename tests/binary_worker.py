"""Runs one experiments/ binary's main() several times in one process.

Run by ``conftest.run_binary_steps``: a test that runs a binary many times
(a rerun, a report, refusals of bad flags) pays JAX's start-up once, not once
per command:

  python tests/binary_worker.py experiments/reproduce.py STEPS.json OUT.json

STEPS.json holds a list of argument lists. Each runs in order, as
``script ARGS...`` would, but from the same process: its flags are parsed
afresh (every flag it does not give keeps its default) and main() is called.
OUT.json gets one record per step: its arguments, its error (None when it
succeeded): the message of the exception it raised (with the type for other
than a usage or flag error) or, when it exited non-zero, the last line it
wrote to stderr; and what it printed and logged.
"""

import contextlib
import importlib.util
import io
import json
import logging as std_logging
import os
import sys
import traceback

from absl import app
from absl import flags
from absl.testing import flagsaver


class _Collect(std_logging.Handler):
  """Keeps the messages absl logs."""

  def __init__(self):
    super().__init__()
    self.lines = []

  def emit(self, record):
    self.lines.append(record.getMessage())


def main():
  script, steps_path, out_path = sys.argv[1:]
  with open(steps_path) as f:
    steps = json.load(f)
  spec = importlib.util.spec_from_file_location(
      os.path.splitext(os.path.basename(script))[0], script)
  module = importlib.util.module_from_spec(spec)
  spec.loader.exec_module(module)  # defines its flags; not __main__
  absl_logger = std_logging.getLogger('absl')
  records = []
  for args in steps:
    argv = [script, *args]
    handler = _Collect()
    absl_logger.addHandler(handler)
    printed, stderr = io.StringIO(), io.StringIO()
    error = None
    sys.argv = argv  # binaries write their command line from it
    try:
      with (flagsaver.flagsaver(), contextlib.redirect_stdout(printed),
            contextlib.redirect_stderr(stderr)):
        flags.FLAGS(argv)
        module.main(argv[:1])
    except (app.UsageError, flags.Error) as e:
      error = str(e)
    except SystemExit as e:
      if e.code not in (0, None):
        error = (stderr.getvalue().strip().splitlines() or [f'exit {e.code}']
                 )[-1]
    except Exception as e:  # pylint: disable=broad-exception-caught
      error = f'{type(e).__name__}: {e}\n{traceback.format_exc()}'
    finally:
      absl_logger.removeHandler(handler)
    records.append(dict(args=args, error=error,
                        output=printed.getvalue() + '\n'.join(handler.lines)))
  with open(out_path, 'w') as f:
    json.dump(records, f)


if __name__ == '__main__':
  main()
