"""An insertion climb scored by the 2-layer universal model, from one start.

  PYTHONPATH=. python results/discovery/probes/climb_deep_universal.py L SEED "START"

Index d=2 at L, seed SEED: ``Insertion(rounds=40)`` from START scored by the
default's universal model at L with 2 layers (``deep_variants.py u2``'s
scorer). Prints the order it ends on, whether it is friendly, its score and
forward's under that model, the order-profiles and the seconds.
"""
import dataclasses
import json
import sys
import time

import numpy as np

import lopro
from lopro import orders
from lopro import search as search_lib
from lopro import strategies

length, seed, start = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3]
task = lopro.get_task('index', length, d=2)
_, scorer = search_lib.default_method(length)
scorer = dataclasses.replace(scorer, train=dataclasses.replace(
    scorer.train, num_layers=2))
t0 = time.time()
result = lopro.search_order(task, strategy=strategies.Insertion(rounds=40),
                            estimator=scorer, seed=seed,
                            starts=orders.order_from_string(start)[None])
both = lopro.profile_orders(np.stack([orders.identity(length), result.order]),
                            task, seed=seed, estimator=scorer).scores
print(json.dumps(dict(
    seed=seed, start=start, order=orders.order_to_string(result.order),
    match=task.friendly_match(result.order), score=float(both[1]),
    forward=float(both[0]), profiled=result.num_profiled,
    seconds=round(time.time() - t0))), flush=True)
