"""The benchmarks of ``experiments/benchmark.py``, one module each.

  population  the vmapped profiler against a sequential loop, against O
  devices     order-steps/s against the number of devices
  estimators  orders profiled per second by each estimator, against L

``common.py`` holds the device record, flag parsing and the writers.
"""
