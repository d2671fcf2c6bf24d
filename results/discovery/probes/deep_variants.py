"""The default search with a deeper universal model (a probe).

  PYTHONPATH=. python results/discovery/probes/deep_variants.py ROW L SEED VARIANT

ROW is a discovery row (relu, sine, index_d2, planted_13, ...). VARIANT:
  default   ``lopro.default_method(L)`` as it is;
  u2        its universal model with 2 layers, the rest as the default;
  u2curve   the 2-layer universal model, and the refine scored by that
            model's run at 3 checkpoints (their mean), no polish: the
            default's method beyond L=24;
  u2only    the 2-layer universal model's stage alone.
Prints one JSON line: the order the first stage ended on and the final one,
whether the task counts each friendly, the order-profiles, the seconds of
the first stage and of the whole search, and the refine's rounds.
"""
import dataclasses
import json
import sys
import time

import lopro
from lopro import orders
from lopro import scores as scores_lib
from lopro import search as search_lib
from lopro.strategies import pipeline
from experiments.tables import discovery

row, length, seed, variant = (sys.argv[1], int(sys.argv[2]), int(sys.argv[3]),
                              sys.argv[4])
name, kwargs = discovery.DISCOVERY_ROWS[row]
task = lopro.get_task(name, length, **kwargs)
strategy, scorer = search_lib.default_method(length)
stages = list(strategy.stages)
if variant != 'default':
  scorer = dataclasses.replace(scorer, train=dataclasses.replace(
      scorer.train, num_layers=2))
  stages[0] = (stages[0][0], scorer)
  if variant == 'u2curve':
    stages = [stages[0], (stages[1][0], dataclasses.replace(
        scorer, num_checkpoints=3, score=scores_lib.auc()))]
  elif variant == 'u2only':
    stages = stages[:1]
  elif variant != 'u2':
    raise ValueError(f'unknown variant {variant!r}')
method = pipeline.Pipeline(*stages)
records = []
t0 = time.time()
result = lopro.search_order(task, strategy=method, estimator=scorer,
                            seed=seed, callback=records.append)
seconds = time.time() - t0
later = ('refine', 'polish')
first = [r for r in records if not r.name.startswith(later)]
first_best = min(first, key=lambda r: r.best_score)
first_order = first_best.candidates[int(first_best.scores.argmin())]
print(json.dumps(dict(
    row=row, length=length, seed=seed, variant=variant,
    first_order=orders.order_to_string(first_order),
    first_match=task.friendly_match(first_order),
    order=orders.order_to_string(result.order),
    match=task.friendly_match(result.order), profiled=result.num_profiled,
    first_seconds=round(sum(r.seconds for r in first)),
    seconds=round(seconds),
    later=[(r.name, round(r.best_score, 4), round(r.seconds))
           for r in records if r.name.startswith(later)])), flush=True)
