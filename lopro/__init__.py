"""lopro: find learning-friendly generation orders by loss profiling.

    import lopro
    task = lopro.get_task('relu', length=8)
    prof = lopro.profile_orders(perms, task='relu')   # perms int[O, L]
    prof.losses, prof.scores, prof.ranking
    res = lopro.search_order(task, seed=0)            # res.order int[L]
    ev = lopro.evaluate_order(res.order, task)         # ev.success_rate

References: Sato, Kawamoto & Kera, "Discovering Learning-Friendly Generation
Orders for Sequential Computation", arXiv 2506.23875.
"""

from lopro import orders
from lopro.evaluate import EvalConfig
from lopro.evaluate import EvalResult
from lopro.evaluate import evaluate_grid
from lopro.evaluate import evaluate_order
from lopro.evaluate import evaluate_orders
from lopro.profile import Profile
from lopro.profile import ProfileConfig
from lopro.profile import profile_orders
from lopro.profile import score_losses
from lopro.search import hierarchical_budget
from lopro.search import run_search
from lopro.search import search_order
from lopro.search import SearchConfig
from lopro.search import SearchResult
from lopro.tasks import chain_task
from lopro.tasks import function_task
from lopro.tasks import get_task
from lopro.tasks import Task
from lopro.tasks import task_names
from lopro.train import make_train
from lopro.train import TrainConfig

__version__ = '0.1.0'

__all__ = (
    'EvalConfig',
    'EvalResult',
    'Profile',
    'ProfileConfig',
    'SearchConfig',
    'SearchResult',
    'Task',
    'TrainConfig',
    'chain_task',
    'evaluate_grid',
    'evaluate_order',
    'evaluate_orders',
    'function_task',
    'get_task',
    'hierarchical_budget',
    'make_train',
    'orders',
    'profile_orders',
    'run_search',
    'search_order',
    'score_losses',
    'task_names',
)
