"""Probe: success of LSD-first / MSD-first multiplication under one training
setting, to find the smallest CPU setting where LSD-first trains.

Usage (from the repository root):
  python results/multiplication/probes/prod_sweep.py L STEPS LAYERS WIDTH \
      BATCH LR [ORDERS] [SEED]
ORDERS is 'lsd', 'msd' or 'lsd,msd' (default). One JSON line per order on
stdout: the setting, success, per-slot accuracy (stored order, most
significant first), final training loss and wall time.
"""
import json
import os
import sys
import time

sys.path.insert(0, os.path.abspath(
    os.path.join(os.path.dirname(__file__), '..', '..', '..')))
import numpy as np  # pylint: disable=g-import-not-at-top

import lopro  # pylint: disable=g-import-not-at-top


def main(argv):
  length, steps, layers, width, batch = map(int, argv[1:6])
  lr = float(argv[6])
  names = (argv[7] if len(argv) > 7 else 'lsd,msd').split(',')
  seed = int(argv[8]) if len(argv) > 8 else 0
  task = lopro.get_task('prod', length=length)
  config = lopro.EvalConfig.cpu(steps=steps, num_layers=layers, width=width,
                                batch_size=batch, learning_rate=lr,
                                num_heads=max(2, width // 32))
  named = {'lsd': lopro.orders.reverse(length),
           'msd': lopro.orders.identity(length)}
  for name in names:
    start = time.time()
    result = lopro.evaluate_order(named[name], task, config=config, seed=seed)
    print(json.dumps({
        'L': length, 'order': name, 'seed': seed, 'steps': steps,
        'layers': layers, 'width': width, 'batch': batch, 'lr': lr,
        'success': round(float(result.success_rate), 4),
        'per_slot': np.round(result.position_accuracy, 3).tolist(),
        'final_loss': round(float(np.mean(result.losses[-100:])), 4),
        'seconds': round(time.time() - start)}), flush=True)


if __name__ == '__main__':
  main(sys.argv)
