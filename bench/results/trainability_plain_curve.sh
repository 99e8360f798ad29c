# Set5/Set14 PSNR of the plain HNAS-C run's checkpoints (every 1000 iterations of its 6000-iteration schedule)
cd /work/main
base=results/trainability/options/same_budget_trainability_HNAS_C_plain_6000it_x2.yml
mkdir -p results/trainability/plain_curve
opts=(); labels=()
for it in 1000 2000 3000 4000 5000 6000; do
  f=results/trainability/plain_curve/HNAS_C_plain_6000it_at${it}.yml
  sed "s#pretrain_network_g: null#pretrain_network_g: experiments/same_budget_trainability_HNAS_C_plain_6000it_x2/models/net_g_${it}.pth#" $base > $f
  opts+=($f); labels+=(at${it})
done
.venv/bin/python tools/benchmark.py -opt "${opts[@]}" --labels "${labels[@]}" --sets datasets/Set5 datasets/Set14 --out results/trainability/plain_curve --runs 1
