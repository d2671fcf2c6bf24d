"""Writes the Colab notebooks of this folder from the cell lists below.

    python colab/build_notebooks.py           # rewrites colab/*.ipynb
    python colab/build_notebooks.py --check   # exit 1 if a notebook differs

The notebooks in the repository are exactly this script's output: no
outputs, null execution counts, fixed cell ids (``tests/test_notebooks.py``
checks it). Edit the cells here, then rerun the script.

Every notebook starts with the same install cell, which installs lopro from
``REPO_URL`` only when it is not importable (a fresh Colab runtime) and does
nothing in a checkout or in CI. Every notebook picks tiny configs when
``jax.default_backend() == 'cpu'`` (a minute or less on 2 CPU cores) and the
library defaults on a GPU or TPU.
"""

import argparse
import pathlib
import sys
import textwrap

import nbformat

HERE = pathlib.Path(__file__).resolve().parent
COLAB_URL = ('https://colab.research.google.com/github/OWNER/lopro/blob/main/'
             'colab')
BADGE = 'https://colab.research.google.com/assets/colab-badge.svg'


def _text(source: str) -> str:
  return textwrap.dedent(source).strip('\n')


def md(source: str) -> tuple[str, str]:
  return 'markdown', _text(source)


def code(source: str) -> tuple[str, str]:
  return 'code', _text(source)


def header(name: str, title: str, body: str) -> tuple[str, str]:
  """The title cell: an "Open in Colab" badge and what the notebook shows."""
  return md(f'# {title}\n\n'
            f'[![Open In Colab]({BADGE})]({COLAB_URL}/{name}.ipynb)\n\n'
            + _text(body))


INSTALL = code('''
    # Installs lopro from GitHub when it is not importable yet (a fresh Colab
    # runtime); in a checkout with lopro installed, or in CI, it does nothing.
    REPO_URL = 'https://github.com/OWNER/lopro'  # OWNER: the repository owner
    # '[cuda]' on a GPU runtime, '[tpu]' on a TPU one, if pip has to upgrade
    # the runtime's JAX for lopro: its accelerator plugin is upgraded with it.
    EXTRAS = ''

    import importlib
    import importlib.util
    import subprocess
    import sys

    if importlib.util.find_spec('lopro') is None:
      print(f'installing lopro from {REPO_URL} ...')
      subprocess.run([sys.executable, '-m', 'pip', 'install', '-q',
                      f'lopro{EXTRAS} @ git+{REPO_URL}'], check=True)
      importlib.invalidate_caches()
    else:
      print('lopro is already installed: skipping the install')
    ''')

QUICKSTART = [
    header('quickstart', 'lopro quick start: loss profiling of 64 orders', '''
        Which order should a transformer emit the target tokens of **relu**
        in? `y_0 = x_0`, `y_i = max(x_i + y_{i-1}, 0)`: each token depends on
        the one before, so the forward order `0 1 2 ... 7` is the
        learning-friendly one, and the reverse order is hard.

        `lopro.profile_orders` with the `lopro.Independent` estimator (the
        default) trains one small transformer per order, all at once
        (`jax.vmap` over the whole training run), and ranks the orders by
        their loss at the end of that short run. Here: the friendly order,
        the reverse order and 62 random orders of length 8.

        Runtime: any. On a CPU the notebook picks a tiny profile (60 steps,
        about 30 s on 2 cores); on a GPU or TPU the library defaults (300
        steps).
        '''),
    INSTALL,
    code('''
        %matplotlib inline
        import jax
        import matplotlib.pyplot as plt
        import numpy as np

        import lopro
        from lopro import orders

        ON_CPU = jax.default_backend() == 'cpu'
        if ON_CPU:  # tiny, so that the notebook runs in about 30 s on 2 cores
          TRAIN = lopro.TrainConfig(steps=60, width=16, num_heads=2,
                                    batch_size=16)
        else:  # the defaults: 1 layer, width 32, batch 32, 300 AdamW steps
          TRAIN = lopro.TrainConfig()
        # One model per order; its score is the mean loss over the last 10%
        # of the steps (lopro.scores.final()).
        ESTIMATOR = lopro.Independent(train=TRAIN)
        print('JAX', jax.__version__, 'on', jax.devices())
        print(f'profile: {TRAIN.steps} steps, width {TRAIN.width}, '
              f'batch {TRAIN.batch_size}')
        '''),
    md('''
        ## The task and the orders

        A task samples inputs `x` and targets `y` (stored order). An order
        lists target slots in generation order: the model emits `y[order]`.
        '''),
    code('''
        L = 8
        NUM_ORDERS = 64
        task = lopro.get_task('relu', length=L)
        inputs, targets = task.sample(jax.random.key(1), 3)
        for x, y in zip(np.asarray(inputs), np.asarray(targets)):
          print('x =', x, '  y =', y)

        friendly = task.friendly_order  # forward: 0 1 2 ... 7
        backward = orders.reverse(L)  # 7 6 ... 0
        perms = np.concatenate([
            friendly[None], backward[None],
            orders.sample_orders(jax.random.key(0), NUM_ORDERS - 2, L)])
        FRIENDLY, REVERSE = 0, 1  # their rows in perms
        print('orders:', perms.shape)
        '''),
    md('''
        ## Profile them

        Every order gets the same initialisation and the same data stream
        (common random numbers), so the loss curves differ by the order
        alone. The score is the mean loss over the last 10% of the steps;
        lower is friendlier.
        '''),
    code('''
        prof = lopro.profile_orders(perms, task, estimator=ESTIMATOR, seed=0)
        t = prof.timings
        print(f'losses {prof.losses.shape}: '
              f'compiled in {t["compile_s"]:.1f} s, '
              f'trained in {t["run_s"]:.1f} s '
              f'({t["order_steps_per_s"]:,.0f} order-steps/s)')
        '''),
    code('''
        steps = prof.loss_steps  # 1 .. TRAIN.steps
        fig, ax = plt.subplots(figsize=(8, 4.5))
        for row in range(NUM_ORDERS):
          if row not in (FRIENDLY, REVERSE):
            ax.plot(steps, prof.losses[row], color='0.8', lw=0.6)
        ax.plot(steps, prof.losses[FRIENDLY], color='C0', lw=2,
                label='friendly (forward)')
        ax.plot(steps, prof.losses[REVERSE], color='C3', lw=2, label='reverse')
        ax.set(xlabel='training step', ylabel='training loss', yscale='log',
               title=f'relu, L={L}: one training run per order '
                     '(grey: random orders)')
        ax.legend()
        plt.show()
        '''),
    md('''
        The whole `[orders x steps]` loss matrix, one row per order, rows
        sorted by score (friendliest on top). Every order sees the same
        batch at each step, so the raw losses (left) vary mostly along the
        steps; the loss minus the mean over the orders at the same step
        (right) shows what the order changes.
        '''),
    code('''
        ranked = prof.losses[prof.ranking]
        relative = ranked - ranked.mean(axis=0)
        extent = (0.5, TRAIN.steps + 0.5, NUM_ORDERS + 0.5, 0.5)  # 1-based
        limit = np.abs(relative).max()
        fig, axes = plt.subplots(1, 2, figsize=(13, 5.5), sharey=True)
        for ax, matrix, label, style in (
            (axes[0], ranked, 'training loss', dict(cmap='viridis')),
            (axes[1], relative, 'loss minus the mean over orders',
             dict(cmap='RdBu_r', vmin=-limit, vmax=limit))):
          image = ax.imshow(matrix, aspect='auto', interpolation='nearest',
                            extent=extent, **style)
          fig.colorbar(image, ax=ax, label=label)
          ax.set(xlabel='training step', title=label)
          for order, name, color in ((friendly, 'friendly', 'C0'),
                                     (backward, 'reverse', 'C3')):
            rank = prof.rank_of(order) + 1
            ax.plot(-0.02, rank, '>', color=color, ms=9, clip_on=False,
                    transform=ax.get_yaxis_transform(),
                    label=f'{name}: rank {rank}')
        axes[0].set_ylabel('rank (rows sorted by score, best on top)')
        axes[0].legend(loc='lower left')
        fig.tight_layout()
        plt.show()
        '''),
    md('''
        ## The ranking

        The rank is 1-based. The tiny CPU profile gives a noisier ranking;
        the default profile (300 steps, used on a GPU or TPU) is the one
        that, in lopro's own measurements, ranks the friendly order of every
        chain task first at L=8.
        '''),
    code('''
        for name, order in (('friendly', friendly), ('reverse', backward)):
          print(f'{name} order ranks {prof.rank_of(order) + 1} '
                f'of {NUM_ORDERS}')
        print('\\ntop 5 (score: mean loss over the last 10% of the steps):')
        tags = {FRIENDLY: '  <- friendly', REVERSE: '  <- reverse'}
        for rank, row in enumerate(prof.ranking[:5], 1):
          print(f'{rank}. {orders.order_to_string(perms[row])}   '
                f'score {prof.scores[row]:.4f}{tags.get(row, "")}')
        '''),
]

DISCOVER = [
    header('discover', 'lopro: discover a friendly order, then evaluate it',
           '''
        `lopro.search_order` runs a search strategy on **relu**: the
        hierarchical global-local search of Sato, Kawamoto & Kera (arXiv
        2506.23875) followed by insertion moves
        (`lopro.strategies.Hierarchical`), every population of candidate
        orders scored by an estimator (`lopro.Independent`: one small model
        per order). A strategy is an ask/tell object, so a short loop of your
        own can drive it too; this notebook does both. Then
        `lopro.evaluate_orders` trains a bigger model on the forward, reverse
        and discovered orders and decodes held-out examples greedily: the
        success rate is the share whose whole target is exact.

        Runtime: any. On a CPU the notebook picks a tiny problem (L=5, a
        depth-2 global stage, 60-step profiles, a 1-layer evaluation model;
        about a minute on 2 cores); on a GPU or TPU full size (L=8,
        `Hierarchical()` scored by `Independent()` with 300-step profiles; a
        2-layer evaluation model trained 3,000 steps; a few minutes).
        '''),
    INSTALL,
    code('''
        %matplotlib inline
        import jax
        import matplotlib.pyplot as plt
        import numpy as np

        import lopro
        from lopro import orders

        ON_CPU = jax.default_backend() == 'cpu'
        if ON_CPU:  # tiny, so that the notebook runs in about a minute
          L = 5
          PROFILE = lopro.TrainConfig(steps=60, width=16, num_heads=2,
                                      batch_size=16)
          ESTIMATOR = lopro.Independent(train=PROFILE)
          # Global depth 2 (6 orders per global run), then insertion moves
          # from the best 2 orders: 36 of the 120 orders get profiled.
          STRATEGY = lopro.strategies.Hierarchical(depth=2, num_starts=2)
          EVAL = lopro.EvalConfig(
              train=lopro.TrainConfig(
                  num_layers=1, width=32, num_heads=2, steps=400,
                  batch_size=16, learning_rate=3e-3, lr_schedule='constant',
                  warmup_steps=10),
              num_heldout=200, decode_batch=200,
              # The held-out set also excludes the profiles' training inputs;
              # one batch size for both streams saves a compile.
              profile_steps=PROFILE.steps,
              profile_batch_size=PROFILE.batch_size)
        else:  # full size: the library's defaults of each part
          L = 8
          # lopro.search_order(task) alone would run lopro.default_method(L)
          # (a universal model, then one model per order); this notebook
          # shows the hierarchical search with one model per order.
          STRATEGY = lopro.strategies.Hierarchical()
          ESTIMATOR = lopro.Independent()  # 300-step profiles
          EVAL = lopro.EvalConfig()
        task = lopro.get_task('relu', length=L)
        print('JAX', jax.__version__, 'on', jax.devices())
        print(f'relu, L={L}: {ESTIMATOR.train.steps}-step profiles; '
              f'evaluation model {EVAL.train.num_layers} layer(s) of width '
              f'{EVAL.train.width}, {EVAL.train.steps} steps')
        '''),
    md('''
        ## Search

        The global stage splits orders into k = 1..K blocks and tries every
        ordering of the blocks; the local stage re-orders inside blocks and
        moves blocks; insertion moves (beyond the paper;
        `Hierarchical.paper()` leaves them out) finish the climb. Each line
        below is one profiling run; an order scored earlier in the search is
        not profiled again (`Independent()` scores are reusable).
        '''),
    code('''
        from tqdm.auto import tqdm

        # A live bar over the whole search: orders profiled of at most the
        # strategy's budget (reused scores make it finish early).
        bar = tqdm(total=STRATEGY.max_profiles(L), unit='order')

        def report(record):
          new = len(record.candidates) - record.num_reused
          bar.update(new)
          bar.write(f'{record.name:26s} {len(record.candidates):4d} orders '
                    f'({new:3d} new)  best score {record.best_score:.4f}  '
                    f'{record.seconds:5.1f} s')

        res = lopro.search_order(task, strategy=STRATEGY, estimator=ESTIMATOR,
                                 seed=0, callback=report)
        bar.close()
        print('\\ndiscovered order:', orders.order_to_string(res.order))
        print('friendly order:  ', orders.order_to_string(task.friendly_order))
        print(f'{res.num_profiled} orders profiled in {res.wall_time:.0f} s; '
              f'local optimum: {res.local_optimum}')
        '''),
    code('''
        history = res.history
        runs = np.arange(len(history))
        fig, (ax_run, ax_order) = plt.subplots(
            1, 2, figsize=(13, 4.5), gridspec_kw=dict(width_ratios=[3, 2]))
        for run, record in zip(runs, history):
          scores = record.scores[np.isfinite(record.scores)]
          ax_run.scatter(np.full(scores.size, run), scores, s=8, color='0.7')
        ax_run.plot(runs, [r.best_score for r in history], 'o-', color='C0',
                    label='best score of the run')
        ax_run.set_xticks(runs, [r.name for r in history], rotation=60,
                          ha='right', fontsize=8)
        ax_run.set(ylabel='score (lower is friendlier)',
                   title='profiling runs of the search (grey: candidates)')
        ax_run.legend()
        slots = np.arange(L)
        ax_order.plot(slots, res.order, 'o-', lw=2, label='discovered')
        ax_order.plot(slots, task.friendly_order, 's--', alpha=0.7,
                      label='friendly (forward)')
        ax_order.set(xlabel='generation step', ylabel='target slot emitted',
                     title='which slot is emitted at each step',
                     xticks=slots, yticks=slots)
        ax_order.legend()
        fig.tight_layout()
        plt.show()
        '''),
    md('''
        ## The same search, driven by your own loop

        A strategy never trains anything: `ask` returns the orders it wants
        scored (none when it is done), `tell` takes their scores (lower is
        friendlier), and its state is plain data. Any scorer can drive it,
        your own training runs or cluster jobs included. Here the scorer is
        lopro's own estimator, through `lopro.profile_orders`, with the
        score reuse of `search_order` in a few lines. The same strategy, key
        and scores give the same order: `search_order` is this loop plus
        checkpoints, progress reports and a result. (On a GPU, training is
        not bitwise reproducible by default, so a near-tie may fall the
        other way.)
        '''),
    code('''
        known = {}  # order (bytes) -> score: each order is profiled once


        def my_scores(perms):
          """Scores from lopro's estimator for the orders not scored yet."""
          fresh = {p.tobytes(): p for p in perms if p.tobytes() not in known}
          if fresh:
            prof = lopro.profile_orders(np.stack(list(fresh.values())), task,
                                        estimator=ESTIMATOR, seed=0)
            known.update(zip(fresh, prof.scores.astype(float)))
          return np.array([known[p.tobytes()] for p in perms])


        state = STRATEGY.init(jax.random.key(0), L)  # search_order's key
        num_runs = 0
        while len(perms := STRATEGY.ask(state)):
          state = STRATEGY.tell(state, perms, my_scores(perms))
          num_runs += 1
        order, score = STRATEGY.best(state)
        print(f'{num_runs} ask/tell rounds, {len(known)} orders profiled')
        print('found:', orders.order_to_string(order), f'(score {score:.4f})')
        print('the same order as search_order:',
              np.array_equal(order, res.order))
        '''),
    md('''
        ## Evaluate

        One model per order (vmapped, the same initialisation, training
        stream and held-out set for every order), decoded greedily in its
        order on held-out inputs that neither the evaluation nor the
        profiles trained on.
        '''),
    code('''
        NAMES = ['forward', 'reverse', 'discovered']
        COLORS = ['C0', 'C3', 'C2']
        candidates = np.stack(
            [orders.identity(L), orders.reverse(L), res.order])
        evals = lopro.evaluate_orders(candidates, task, config=EVAL, seed=0)
        for name, ev in zip(NAMES, evals):
          print(f'{name:10s} {orders.order_to_string(ev.order):16s} '
                f'success {ev.success_rate:6.1%}')
        print(f'{EVAL.train.steps} training steps and {evals[0].num_heldout} '
              f'held-out examples per order, {evals[0].wall_time:.0f} s')
        '''),
    code('''
        rates = [ev.success_rate for ev in evals]
        fig, (ax_bar, ax_slot) = plt.subplots(1, 2, figsize=(11, 4))
        bars = ax_bar.bar(NAMES, rates, color=COLORS)
        ax_bar.bar_label(bars, [f'{rate:.0%}' for rate in rates])
        ax_bar.set(ylim=(0, 1.05), ylabel='success rate (whole target exact)',
                   title=f'held-out success, relu L={L}')
        for name, ev, color, style in zip(NAMES, evals, COLORS,
                                          ['o-', 'o-', 's--']):
          ax_slot.plot(np.arange(L), ev.position_accuracy, style, color=color,
                       label=name)
        ax_slot.set(xlabel='target slot (stored order)', ylabel='accuracy',
                    ylim=(0, 1.05), xticks=np.arange(L),
                    title='accuracy per target slot')
        ax_slot.legend()
        plt.show()
        '''),
]

SCALING = [
    header('scaling', 'lopro scaling: order-steps/s vs orders and devices', '''
        `lopro.profile_orders` shards the orders over a 1-D device mesh,
        `runtime=lopro.Runtime(mesh=lopro.sharding.make_mesh(k))` (every
        device when no mesh is given): each device trains its own share of
        the orders, with no communication, and the results do not depend on
        the mesh. This notebook shows the mesh and measures the throughput
        (order-steps/s: training steps summed over the orders, per second)
        against the number of orders O and against the number of devices.

        Runtime: a TPU (8 devices) shows the device curve best; a GPU or a
        CPU has one device. On a CPU the notebook picks a tiny profile and
        O = 8, 32, 128 (about 30 s on 2 cores); on an accelerator the
        default profile and O = 64 .. 4,096. To split a CPU into virtual
        devices, set `CPU_DEVICES` below and restart the runtime.
        '''),
    INSTALL,
    code('''
        %matplotlib inline
        import os

        CPU_DEVICES = None  # e.g. 4: that many virtual CPU devices
        if CPU_DEVICES:  # must be set before JAX starts
          os.environ['XLA_FLAGS'] = (
              os.environ.get('XLA_FLAGS', '') +
              f' --xla_force_host_platform_device_count={CPU_DEVICES}')

        import jax
        import matplotlib.pyplot as plt
        import numpy as np

        import lopro
        from lopro import orders
        from lopro import sharding

        print('JAX', jax.__version__, 'backend:', jax.default_backend())
        print('devices:', jax.devices())
        mesh = sharding.make_mesh()  # every device, one axis: 'orders'
        print('mesh:', dict(mesh.shape), '  size:', mesh.size)
        '''),
    code('''
        ON_CPU = jax.default_backend() == 'cpu'
        if ON_CPU:  # tiny, so that the notebook runs in well under a minute
          TRAIN = lopro.TrainConfig(steps=30, width=16, num_heads=2,
                                    batch_size=16)
          SIZES = [8, 32, 128]
        else:  # the default profile: width 32, batch 32, 300 steps
          TRAIN = lopro.TrainConfig()
          SIZES = [64, 256, 1024, 4096]
        ESTIMATOR = lopro.Independent(train=TRAIN)  # one model per order
        L = 8
        PERMS = orders.sample_orders(jax.random.key(0), max(SIZES), L)
        # compile_s: microseconds when the profile's program was built
        # earlier (lopro keeps it), a second or more when built now.
        COMPILED_S = 0.05
        measured = {}  # (orders, devices) -> Profile.timings


        def measure(num_orders, mesh):
          """Timings of a warm profile of the first num_orders orders.

          A call that had to compile is repeated with another seed, and the
          repeat is timed, so the numbers exclude compiles and first-run
          costs. On a CPU one compiled program per mesh serves every O.
          """
          key = (num_orders, mesh.size)
          if key not in measured:
            perms = PERMS[:num_orders]
            runtime = lopro.Runtime(mesh=mesh)
            prof = lopro.profile_orders(perms, 'relu', estimator=ESTIMATOR,
                                        runtime=runtime)
            if prof.timings['compile_s'] > COMPILED_S:
              prof = lopro.profile_orders(perms, 'relu', estimator=ESTIMATOR,
                                          runtime=runtime, seed=1)
            measured[key] = prof.timings
          return measured[key]
        '''),
    md('''
        ## Throughput vs the number of orders O (every device)

        Small populations leave the devices idle; the throughput grows with
        O until the devices are busy.
        '''),
    code('''
        by_orders = [measure(num_orders, mesh) for num_orders in SIZES]
        print(f'{"orders":>7} {"run s":>8} {"order-steps/s":>14}')
        for num_orders, t in zip(SIZES, by_orders):
          print(f'{num_orders:7d} {t["run_s"]:8.2f} '
                f'{t["order_steps_per_s"]:14,.0f}')
        '''),
    md('''
        ## Throughput vs the number of devices (O fixed)

        `make_mesh(k)` takes the first k devices, passed to the profile as
        `lopro.Runtime(mesh=...)`. Here k = 1, 2, 4, ... up to
        `jax.device_count()`; a single device gives a single point.
        '''),
    code('''
        count = jax.device_count()
        DEVICES = sorted({2 ** i for i in range(count.bit_length())} | {count})
        by_devices = [measure(max(SIZES), sharding.make_mesh(k))
                      for k in DEVICES]
        print(f'{max(SIZES)} orders')
        print(f'{"devices":>7} {"run s":>8} {"order-steps/s":>14}')
        for k, t in zip(DEVICES, by_devices):
          print(f'{k:7d} {t["run_s"]:8.2f} '
                f'{t["order_steps_per_s"]:14,.0f}')
        '''),
    code('''
        fig, (ax_o, ax_d) = plt.subplots(1, 2, figsize=(11, 4))
        ax_o.plot(SIZES, [t['order_steps_per_s'] for t in by_orders], 'o-')
        ax_o.set_xscale('log')
        ax_o.set_xticks(SIZES, [str(size) for size in SIZES])
        ax_o.minorticks_off()
        ax_o.set(ylim=(0, None), xlabel='orders O', ylabel='order-steps / s',
                 title=f'vs orders ({mesh.size} device(s), '
                       f'{jax.default_backend()})')
        rates = np.array([t['order_steps_per_s'] for t in by_devices])
        ax_d.plot(DEVICES, rates, 'o-', label='measured')
        ax_d.plot(DEVICES, rates[0] * np.array(DEVICES), 'k:',
                  label='linear scaling')
        ax_d.set(xlabel='devices', ylabel='order-steps / s', ylim=(0, None),
                 xticks=DEVICES, title=f'vs devices ({max(SIZES)} orders)')
        ax_d.legend()
        fig.tight_layout()
        plt.show()
        '''),
]

NOTEBOOKS = {
    'quickstart': QUICKSTART,
    'discover': DISCOVER,
    'scaling': SCALING,
}


def build(name: str) -> nbformat.NotebookNode:
  """The notebook ``name`` with no outputs and fixed cell ids."""
  cells = []
  for index, (kind, source) in enumerate(NOTEBOOKS[name]):
    cell_id = f'{name}-{index:02d}'
    if kind == 'code':
      cells.append(nbformat.v4.new_code_cell(source, id=cell_id))
    else:
      cells.append(nbformat.v4.new_markdown_cell(source, id=cell_id))
  notebook = nbformat.v4.new_notebook(cells=cells, metadata={
      'colab': {'name': f'{name}.ipynb', 'provenance': []},
      'kernelspec': {'display_name': 'Python 3', 'language': 'python',
                     'name': 'python3'},
      'language_info': {'name': 'python'},
  })
  nbformat.validate(notebook)
  return notebook


def render(name: str) -> str:
  """The text of ``NAME.ipynb``, as nbformat writes it."""
  return nbformat.writes(build(name)) + '\n'


def main(argv: list[str]) -> int:
  parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
  parser.add_argument('--check', action='store_true',
                      help='only check that the notebooks are up to date')
  args = parser.parse_args(argv)
  stale = []
  for name in NOTEBOOKS:
    path = HERE / f'{name}.ipynb'
    text = render(name)
    if path.exists() and path.read_text() == text:
      continue
    stale.append(path.name)
    if not args.check:
      path.write_text(text)
  if args.check and stale:
    print('out of date:', ', '.join(stale), '(run colab/build_notebooks.py)')
    return 1
  print(('out of date, rewritten: ' + ', '.join(stale)) if stale
        else 'notebooks up to date')
  return 0


if __name__ == '__main__':
  sys.exit(main(sys.argv[1:]))
