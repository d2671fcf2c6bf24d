"""The tables of ``experiments/reproduce.py``, one module each.

  table1      forward vs reverse (vs friendly) success of every task
  table2      a search, then the success of the discovered order
  rank        profile score against success (rank validity)
  estimators  the estimators' rankings of one pool of orders

Each module's ``build`` takes plain arguments (no flags) and returns a
``common.Table``; ``common.py`` holds what they share.
"""
