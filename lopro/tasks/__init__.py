"""Tasks: what the model must produce, and in which orders that is easy.

``Task`` (``base.py``) is the type; ``get_task`` builds the built-in tasks
(``builtin.py``); ``chain_task`` and ``function_task`` build a task from a
user's plain Python function (``user.py``); ``dataset_task`` builds one from
a dataset file and ``write_reordered`` writes that file back in an order
(``data.py``).
"""

from lopro.tasks.base import Task
from lopro.tasks.builtin import cubic_task
from lopro.tasks.builtin import get_task
from lopro.tasks.builtin import index_task
from lopro.tasks.builtin import mlp_task
from lopro.tasks.builtin import parse_task_params
from lopro.tasks.builtin import planted_task
from lopro.tasks.builtin import prod_task
from lopro.tasks.builtin import relu_task
from lopro.tasks.builtin import sine_task
from lopro.tasks.builtin import square19_task
from lopro.tasks.builtin import step_table
from lopro.tasks.builtin import task_names
from lopro.tasks.builtin import TASKS
from lopro.tasks.builtin import triangle_task
from lopro.tasks.data import dataset_task
from lopro.tasks.data import task_from_dataset
from lopro.tasks.data import write_reordered
from lopro.tasks.delay import delay_task
from lopro.tasks.files import Dataset
from lopro.tasks.files import load_dataset
from lopro.tasks.user import chain_task
from lopro.tasks.user import function_task
from lopro.tasks.user import MAX_TABLE_ENTRIES

__all__ = [
    'Task', 'get_task', 'TASKS', 'task_names', 'parse_task_params',
    'chain_task', 'function_task', 'step_table', 'relu_task', 'square19_task',
    'cubic_task', 'sine_task', 'triangle_task', 'mlp_task', 'planted_task',
    'index_task', 'prod_task', 'delay_task', 'MAX_TABLE_ENTRIES',
    'Dataset', 'dataset_task', 'load_dataset', 'task_from_dataset',
    'write_reordered',
]
