"""Profiles a fixed set of orders on whatever devices this process sees.

Run by tests/test_sharding.py in subprocesses, because the device count is
fixed when JAX starts:

  XLA_FLAGS=--xla_force_host_platform_device_count=4 \
      python tests/sharding_worker.py OUT.json
  python tests/sharding_worker.py OUT.json --coordinator=127.0.0.1:PORT \
      --num_processes=2 --process_id=I

Writes, from process 0 only, the losses and scores of an independent, a
halving and a mixture profile (or those --profiles names) on every device,
and of the same profiles on one device (when this process has more than
one), plus where the independent profile's sharded loss array lives.
"""

import argparse
import json

from lopro import sharding

CONFIG = dict(steps=12, width=16, num_heads=2, batch_size=8, warmup_steps=2)


def profiles(mesh, names):
  """{name: losses, scores, devices} of the named profiles on ``mesh``."""
  import lopro  # pylint: disable=g-import-not-at-top
  from lopro import orders  # pylint: disable=g-import-not-at-top
  import jax  # pylint: disable=g-import-not-at-top
  import numpy as np  # pylint: disable=g-import-not-at-top
  perms = orders.sample_orders(jax.random.key(0), 10, 5)
  configs = dict(
      # 10 orders in chunks of 8: one full chunk and one that leaves devices
      # without orders when there are 4 of them. One key per order, so that
      # a key dealt to the wrong order would show.
      independent=lopro.ProfileConfig(
          chunk_size=8, common_random_numbers=False, **CONFIG),
      halving=lopro.ProfileConfig(chunk_size=8, schedule='halving', rungs=2,
                                  **CONFIG),
      mixture=lopro.ProfileConfig(mode='mixture', num_checkpoints=2,
                                  num_heldout=16, vmap_group=2, **CONFIG))
  out = {}
  for name in names:
    config = configs[name]
    prof = lopro.profile_orders(perms, 'relu', config=config, seed=1,
                                mesh=mesh)
    out[name] = dict(losses=np.nan_to_num(prof.losses, nan=-1.0).tolist(),
                     scores=prof.scores.tolist(),
                     devices=prof.timings['devices'])
  task = lopro.get_task('relu', length=5)
  _, _, losses = next(lopro.profile.profile_chunks(
      perms, task, configs['independent'], 1, mesh))
  out['chunk_devices'] = len(losses.sharding.device_set)
  out['chunk_spec'] = str(losses.sharding.spec)
  return out


def main():
  parser = argparse.ArgumentParser()
  parser.add_argument('output')
  parser.add_argument('--coordinator', default=None)
  parser.add_argument('--num_processes', type=int, default=None)
  parser.add_argument('--process_id', type=int, default=None)
  parser.add_argument('--profiles', default='independent,halving,mixture')
  args = parser.parse_args()
  names = args.profiles.split(',')
  if args.coordinator:
    sharding.initialize_distributed(args.coordinator, args.num_processes,
                                    args.process_id)
  import jax  # pylint: disable=g-import-not-at-top
  result = dict(process_count=jax.process_count(),
                device_count=jax.device_count(),
                sharded=profiles(sharding.make_mesh(), names))
  if jax.process_count() == 1 and jax.device_count() > 1:
    result['single'] = profiles(sharding.make_mesh(1), names)
  if sharding.is_main_process():
    with open(args.output, 'w') as f:
      json.dump(result, f)
  if args.coordinator:
    jax.distributed.shutdown()


if __name__ == '__main__':
  main()
