# Set5/Set14 PSNR of a plain run's checkpoints (every 1000 iterations of its 6000-iteration schedule).
# Usage: bash bench/results/trainability_plain_curve.sh HNAS_C   (after bench/trainability.py --only HNAS-C
#        --settings plain --total-iter 6000; the same for HNAS_A, HNAS_B)
set -e
cd "$(dirname "$0")/../.."
net=${1:?usage: trainability_plain_curve.sh HNAS_A|HNAS_B|HNAS_C}
base=results/trainability/options/same_budget_trainability_${net}_plain_6000it_x2.yml
mkdir -p results/trainability/plain_curve_${net}
opts=(); labels=()
for it in 1000 2000 3000 4000 5000 6000; do
  f=results/trainability/plain_curve_${net}/${net}_plain_6000it_at${it}.yml
  sed "s#pretrain_network_g: null#pretrain_network_g: experiments/same_budget_trainability_${net}_plain_6000it_x2/models/net_g_${it}.pth#" $base > $f
  opts+=($f); labels+=(at${it})
done
.venv/bin/python tools/benchmark.py -opt "${opts[@]}" --labels "${labels[@]}" --sets datasets/Set5 datasets/Set14 \
  --out results/trainability/plain_curve_${net} --runs 1
