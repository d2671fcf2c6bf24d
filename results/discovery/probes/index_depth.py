"""Does a deeper profiling model see index d=2's forward order?

  PYTHONPATH=. python results/discovery/probes/index_depth.py ROW L SEED ESTIMATOR STEPS LAYERS [WIDTH]

ESTIMATOR is ``universal`` (batch 128) or ``independent`` (batch 32).
Scores forward (the friendly order), the order the discovery table's cell
ended on, reverse, 13 random orders and every insertion neighbour of the
friendly order, with the profiling model of LAYERS layers (width WIDTH,
default 32) trained STEPS steps, seed SEED. Prints the friendly order's rank
among the 16 and among its neighbours (1: a local optimum of insertion moves)
and the margins. The default's profiling models have 1 layer; index d=2
asks for two hops (find y_{i-1} and y_{i-2}, then read x at their sum).
"""
import json
import sys
import time

import jax
import numpy as np

import lopro
from lopro import neighbourhoods
from lopro import orders
from experiments.tables import discovery

row, length, seed, kind, steps, layers = (
    sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), sys.argv[4],
    int(sys.argv[5]), int(sys.argv[6]))
width = int(sys.argv[7]) if len(sys.argv) > 7 else 32
name, kwargs = discovery.DISCOVERY_ROWS[row]
task = lopro.get_task(name, length, **kwargs)
friendly = np.asarray(task.friendly_order)
cells = json.load(open('results/discovery/discovery_default.cells.json'))
cell = cells['cells'].get(f'{row} L={length} seed={seed}')
found = (orders.order_from_string(cell['order']) if cell
         else orders.reverse(length))
rand = np.asarray(orders.sample_orders(jax.random.key(7), 13, length))
near = orders.unique_orders(neighbourhoods.insertion_moves(friendly))[0]
near = near[(near != friendly).any(axis=1)]
perms = np.concatenate([np.stack([friendly, found, friendly[::-1]]), rand,
                        near])
config = lopro.TrainConfig(steps=steps, num_layers=layers, width=width,
                           batch_size=128 if kind == 'universal' else 32)
estimator = (lopro.Universal(train=config) if kind == 'universal'
             else lopro.Independent(train=config))
t0 = time.time()
s = np.asarray(lopro.profile_orders(perms, task, seed=seed,
                                    estimator=estimator).scores)
head, tail = s[:16], s[16:]
print(json.dumps(dict(
    row=row, length=length, seed=seed, estimator=kind, steps=steps,
    layers=layers, width=width, friendly=float(s[0]), found=float(s[1]),
    found_order=orders.order_to_string(found), reverse=float(s[2]),
    rank_of_16=int(np.sum(head < s[0])) + 1,
    best_other_of_16=float(np.min(head[1:])),
    neighbours=len(tail), better_neighbours=int(np.sum(tail < s[0])),
    best_neighbour=float(np.min(tail)),
    best_neighbour_order=orders.order_to_string(near[int(np.argmin(tail))]),
    seconds=round(time.time() - t0))), flush=True)
