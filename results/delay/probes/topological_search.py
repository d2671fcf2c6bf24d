"""Does the default search, kept to valid orders, end on one that trains?

  python results/delay/probes/topological_search.py SYSTEM SEED

The delay table's search with ``--topological``: the default method at
L = 12 wrapped in ``strategies.Topological`` over the system's dependency
graph, seed SEED. Prints the order found, its order-profiles and search
time, then trains it with the cpu evaluation preset (seed SEED, as the delay
table does) and prints its success; writes both to
``results/delay/probes/topological_<SYSTEM>_s<SEED>.json``. SYSTEM as in
``experiments/tables/delay.SYSTEMS``.
"""
import json
import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.dirname(
    os.path.dirname(os.path.abspath(__file__))))))
# pylint: disable=wrong-import-position
from experiments import methods  # noqa: E402
from experiments.tables import delay  # noqa: E402
import lopro  # noqa: E402
from lopro import orders  # noqa: E402
from lopro import results  # noqa: E402

name, seed = sys.argv[1], int(sys.argv[2])
task = delay.system_task(name)
method = methods.build_method(task.length, methods.MethodSpec(
    topological=True), task.depends_on)
start = time.time()
found = lopro.search_order(task, strategy=method.strategy,
                           estimator=method.estimator, seed=seed)
search_s = time.time() - start
assert orders.is_topological(found.order, task)
order = orders.order_to_string(found.order)
print(f'searched ({search_s:.0f} s, {found.num_profiled} order-profiles): '
      f'{order}', flush=True)
start = time.time()
result = lopro.evaluate_order(found.order, task,
                              config=lopro.EvalConfig.cpu(), seed=seed)
print(f'success {100 * float(result.success_rate):.1f}% '
      f'({time.time() - start:.0f} s)', flush=True)
here = os.path.dirname(os.path.abspath(__file__))
results.atomic_write_json(
    os.path.join(here, f'topological_{name}_s{seed}.json'), dict(
        system=name, seed=seed, method=method.describe(), order=order,
        num_profiled=found.num_profiled, search_seconds=search_s,
        success=float(result.success_rate),
        eval_seconds=time.time() - start,
        command=f'python results/delay/probes/topological_search.py {name} '
                f'{seed}'))
