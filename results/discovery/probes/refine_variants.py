"""The default search with its refine stage scored by another estimator.

  python results/discovery/probes/refine_variants.py TASK L VARIANT [SEED] [STEPS]

TASK is a task name with options as in discover.py (index_d2, relu, ...),
VARIANT one of: default (Independent, 300 steps), ind1000 (Independent, 1,000
steps), halving (Halving, 1,050 steps, eta 2, 3 rungs: 150 / 450 / 1,050),
polish (the default, then 3 rounds of insertion moves scored by that
Halving; polishN: N rounds).
STEPS, if given, replaces the universal model's training steps. Prints the
order found, whether it is friendly, the order-profiles, the time
and the refine rounds.
"""
import dataclasses
import sys
import time

import lopro
from lopro import defaults
from lopro import search as search_lib
from lopro.strategies import pipeline

name, length, variant = sys.argv[1], int(sys.argv[2]), sys.argv[3]
seed = int(sys.argv[4]) if len(sys.argv) > 4 else 0
universal_steps = int(sys.argv[5]) if len(sys.argv) > 5 else None
kwargs = {}
if name.startswith('index_d'):
  name, kwargs = 'index', {'d': int(name[len('index_d'):])}
task = lopro.get_task(name, length, **kwargs)
strategy, scorer = search_lib.default_method(length)
if universal_steps:
  scorer = dataclasses.replace(scorer, train=dataclasses.replace(
      scorer.train, steps=universal_steps))
refine_strategy, _ = strategy.stages[1]
refine = {
    'default': lopro.Independent(),
    'ind1000': lopro.Independent(train=lopro.TrainConfig(steps=1000)),
    'halving': lopro.Halving(train=lopro.TrainConfig(steps=1050), eta=2,
                             rungs=3),
}.get(variant)
polish = None
if variant.startswith('polish'):  # polish or polishN: the default, then
  refine = lopro.Independent()     # N (3) rounds of the default's polish
  polish = defaults.polish_stage(int(variant[len('polish'):] or 3))
stages = [(strategy.stages[0][0], scorer), (refine_strategy, refine)]
method = pipeline.Pipeline(*stages, *([polish] if polish else []))
records = []
t0 = time.time()
result = lopro.search_order(task, strategy=method, estimator=scorer,
                            seed=seed, callback=records.append)
seconds = time.time() - t0
refine_runs = [r for r in records if 'refine' in r.name or 'polish' in r.name]
print(f'{sys.argv[1]} L={length} {variant} seed={seed}',
      f'universal steps {scorer.train.steps}:',
      ' '.join(map(str, result.order)), task.friendly_match(result.order),
      f'{result.num_profiled} profiles {seconds:.0f} s;',
      'refine', [(r.name, round(r.best_score, 4), round(r.seconds))
                 for r in refine_runs],
      f'first stage {sum(r.seconds for r in records if r not in refine_runs):.0f} s',
      flush=True)
