"""lopro: find learning-friendly generation orders by loss profiling.

    import lopro
    task = lopro.get_task('relu', length=8)
    prof = lopro.profile_orders(perms, task)            # perms int[O, L]
    prof.losses, prof.scores, prof.ranking
    res = lopro.search_order(task)                      # the best method for L
    res = lopro.search_order(task, strategy=lopro.strategies.Hierarchical
                             .paper(), estimator=lopro.Mixture())  # the paper's
    ev = lopro.evaluate_order(res.order, task)          # ev.success_rate

The data path, one module per stage: tasks -> orders (and neighbourhoods)
-> estimators -> strategies -> search (the driver) -> evaluate.

References: Sato, Kawamoto & Kera, "Discovering Learning-Friendly Generation
Orders for Sequential Computation", arXiv 2506.23875.
"""

from lopro import orders
from lopro import scores
from lopro import strategies
from lopro.estimators import Halving
from lopro.estimators import Independent
from lopro.estimators import Mixture
from lopro.estimators import Profile
from lopro.estimators import Runtime
from lopro.estimators import Universal
from lopro.evaluate import EvalConfig
from lopro.evaluate import EvalResult
from lopro.evaluate import evaluate_grid
from lopro.evaluate import evaluate_order
from lopro.evaluate import evaluate_orders
from lopro.profile import profile_orders
from lopro.defaults import default_method
from lopro.search import search_order
from lopro.search import SearchResult
from lopro.search import StageRecord
from lopro.tasks import chain_task
from lopro.tasks import dataset_task
from lopro.tasks import function_task
from lopro.tasks import get_task
from lopro.tasks import Task
from lopro.tasks import task_names
from lopro.tasks import write_reordered
from lopro.train import make_train
from lopro.train import TrainConfig

__version__ = '0.2.0'

__all__ = (
    'EvalConfig',
    'EvalResult',
    'Halving',
    'Independent',
    'Mixture',
    'Profile',
    'Runtime',
    'SearchResult',
    'StageRecord',
    'Task',
    'TrainConfig',
    'Universal',
    'chain_task',
    'dataset_task',
    'default_method',
    'evaluate_grid',
    'evaluate_order',
    'evaluate_orders',
    'function_task',
    'get_task',
    'make_train',
    'orders',
    'profile_orders',
    'scores',
    'search_order',
    'strategies',
    'task_names',
    'write_reordered',
)
