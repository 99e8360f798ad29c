# (needs: git worktree add /tmp/old830 830f13d)
# Traffic bound and eager latency per 480x480 LR image: before (830f13d) and after (node sums in place, cell outputs
# rectified once in place), alternating processes, bench/roofline.py of this commit in both
for round in 1 2; do
  echo "== before (830f13d), round $round"; PYTHONPATH=/tmp/old830 .venv/bin/python bench/roofline.py --runs 3
  echo "== after, round $round"; .venv/bin/python bench/roofline.py --runs 3
done
