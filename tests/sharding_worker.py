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
import dataclasses
import json

import jax
import numpy as np

import lopro
from lopro import orders
from lopro import sharding
from lopro.estimators import independent

# The training run of every profile: 12 steps of a width-16 model.
TRAIN = dict(steps=12, width=16, num_heads=2, batch_size=8, warmup_steps=2)


def estimators():
  """{name: (estimator, runtime without a mesh)} of the profiles compared."""
  train = lopro.TrainConfig(**TRAIN)
  # 10 orders in chunks of 8: one full chunk and one that leaves devices
  # without orders when there are 4 of them.
  chunks = lopro.Runtime(chunk_size=8)
  return dict(
      # One key per order, so that a key dealt to the wrong order would show.
      independent=(lopro.Independent(train=train,
                                     common_random_numbers=False), chunks),
      halving=(lopro.Halving(train=train, rungs=2), chunks),
      # Held-out evaluations in groups of 2 orders per device.
      mixture=(lopro.Mixture(train=train, num_checkpoints=2, num_heldout=16),
               lopro.Runtime(vmap_group=2)))


def profiles(mesh, names):
  """{name: losses, scores, devices} of the named profiles on ``mesh``."""
  perms = orders.sample_orders(jax.random.key(0), 10, 5)
  setups = estimators()
  out = {}
  for name in names:
    estimator, runtime = setups[name]
    prof = lopro.profile_orders(
        perms, 'relu', estimator=estimator, seed=1,
        runtime=dataclasses.replace(runtime, mesh=mesh))
    out[name] = dict(losses=np.nan_to_num(prof.losses, nan=-1.0).tolist(),
                     scores=prof.scores.tolist(),
                     devices=prof.timings['devices'])
  estimator, runtime = setups['independent']
  _, _, losses = next(independent.profile_chunks(
      perms, lopro.get_task('relu', length=5), estimator.train,
      estimator.common_random_numbers, 1,
      dataclasses.replace(runtime, mesh=mesh)))
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
