#!/usr/bin/env bash
# Kills a real discover run with SIGKILL mid-search, resumes it with the same
# command, and compares with an uninterrupted run. Writes
# results/resume_check/resume_check.md.
#   bash experiments/resume_check.sh
set -euo pipefail
cd "$(dirname "$0")/.."
work=$(mktemp -d)
flags=(--task=relu --length=6 --steps=100 --seed=1)
python experiments/discover.py "${flags[@]}" --output_dir="$work/straight" \
  > "$work/straight.log" 2>&1
python experiments/discover.py "${flags[@]}" --output_dir="$work/killed" \
  > "$work/killed.log" 2>&1 &
pid=$!
state="$work/killed/checkpoint/search_state.json"
until [ -f "$state" ] && python -c "import json,sys; sys.exit(len(json.load(open('$state'))['history']) < 3)" 2>/dev/null; do
  sleep 0.5
done
kill -9 "$pid"; wait "$pid" 2>/dev/null || true
logged=$(python -c "import json; print(len(json.load(open('$state'))['history']))")
python experiments/discover.py "${flags[@]}" --output_dir="$work/killed" \
  > "$work/resumed.log" 2>&1
python - "$work" "$logged" <<'PY' | tee results/resume_check/resume_check.md
import json, sys
work, logged = sys.argv[1], int(sys.argv[2])
a = json.load(open(f'{work}/straight/result.json'))
b = json.load(open(f'{work}/killed/result.json'))
print('SIGKILL + resume of `python experiments/discover.py --task=relu '
      '--length=6 --steps=100 --seed=1`, produced by '
      '`bash experiments/resume_check.sh`.\n')
print('| run | order | score | order-profiles |')
print('|---|---|---|---|')
print(f"| uninterrupted | `{a['order_string']}` | {a['score']:.4f} | {a['num_profiled']} |")
print(f"| killed after {logged} profiling runs, resumed | `{b['order_string']}` | "
      f"{b['score']:.4f} | {b['num_profiled']} |")
same = a['order'] == b['order'] and a['score'] == b['score']
print(f"\nSame order and score: {same}.")
sys.exit(0 if same else 1)
PY
