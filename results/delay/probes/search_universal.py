"""Does a bigger any-order model lead the search to an order that trains?

  python results/delay/probes/search_universal.py SYSTEM SEED W L

The default method's first stage alone: ``Hierarchical()`` from random init,
scored by one ``Universal`` model (3,000 steps of batch 128, as the default
at L = 11-13) of width W and L layers, with no refine or polish stage. Prints
the order found, whether it is a topological sort, its order-profiles and
search time, then trains it with the cpu evaluation preset (seed SEED, as the
delay table does) and prints its success. SYSTEM as in
``experiments/tables/delay.SYSTEMS``.
"""
import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.dirname(
    os.path.dirname(os.path.abspath(__file__))))))
# pylint: disable=wrong-import-position
from experiments.tables import delay  # noqa: E402
import lopro  # noqa: E402
from lopro import orders  # noqa: E402

name, seed = sys.argv[1], int(sys.argv[2])
width, layers = int(sys.argv[3]), int(sys.argv[4])
task = delay.system_task(name)
estimator = lopro.Universal(train=lopro.TrainConfig(
    steps=3000, batch_size=128, width=width, num_layers=layers))
start = time.time()
found = lopro.search_order(task, strategy=lopro.strategies.Hierarchical(),
                           estimator=estimator, seed=seed)
valid = orders.is_topological(found.order, task)
print(f'searched ({time.time() - start:.0f} s, {found.num_profiled} '
      f'order-profiles): {orders.order_to_string(found.order)} '
      f'({"" if valid else "not "}topological)', flush=True)
start = time.time()
result = lopro.evaluate_order(found.order, task,
                              config=lopro.EvalConfig.cpu(), seed=seed)
print(f'success {100 * float(result.success_rate):.1f}% '
      f'({time.time() - start:.0f} s)', flush=True)
