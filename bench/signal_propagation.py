"""Does the input's signal survive the twelve cells at initialisation? Per-cell feature statistics.

Usage: python bench/signal_propagation.py [--random 100] [--num-feat 16 64] [--inits pytorch kaiming lsuv]

For the published genotypes and ``--random`` random ones (seeded), at each width and initialisation, builds
the x2 HNASNet and runs a batch of 6 LR crops (24x24) of scikit-image's sample photos through it. Per cell it
records the std of the cell's output and its input share (variance across the images / mean square: 0 when
the features are the same for every image, as when biases dominate; see
:func:`hnas_basicsr.nas.initialization.cell_signal`). Prints, per width and init, the published genotypes'
profiles and, over all genotypes, the tail input's std and share (min / median / max), and writes every
row to results/signal_propagation.csv. 'kaiming' is Kaiming-normal (fan-in, ReLU gain) on every conv, for
reference.
"""
import argparse
import csv
import os
import random
import statistics
from os import path as osp

import cv2
import numpy as np
import skimage.data
import torch
from torch import nn

from hnas_basicsr.archs.hnas_arch import HNASNet
from hnas_basicsr.nas import space
from hnas_basicsr.nas.genotype import published_genotypes
from hnas_basicsr.nas.initialization import cell_signal

ROOT = osp.abspath(osp.join(osp.dirname(__file__), osp.pardir))
PHOTOS = ('astronaut.png', 'chelsea.png', 'coffee.png', 'rocket.jpg', 'motorcycle_left.png')


def photo_crops(num=6, size=24, seed=0):
    """``num`` RGB crops in 0..1 (N x 3 x size x size) of scikit-image's sample photos."""
    rng = random.Random(seed)
    folder = osp.dirname(skimage.data.__file__)
    photos = [cv2.imread(osp.join(folder, name))[:, :, ::-1].astype(np.float32) / 255. for name in PHOTOS]
    crops = []
    for k in range(num):
        img = photos[k % len(photos)]
        y, x = rng.randrange(img.shape[0] - size), rng.randrange(img.shape[1] - size)
        crops.append(img[y:y + size, x:x + size].transpose(2, 0, 1))
    return torch.from_numpy(np.ascontiguousarray(np.stack(crops)))


def build(genotype, num_feat, init):
    net = HNASNet(genotype.to_dict(), num_feat=num_feat, init='pytorch' if init == 'kaiming' else init)
    if init == 'kaiming':
        for m in net.modules():
            if isinstance(m, (nn.Conv2d, nn.ConvTranspose2d)):
                nn.init.kaiming_normal_(m.weight, nonlinearity='relu')
    return net


def main():
    parser = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    parser.add_argument('--random', type=int, default=100, help='random genotypes besides the published ones')
    parser.add_argument('--num-feat', type=int, nargs='+', default=[16, 64])
    parser.add_argument('--inits', nargs='+', default=['pytorch', 'kaiming', 'lsuv'])
    parser.add_argument('--out', default=osp.join(ROOT, 'results', 'signal_propagation.csv'))
    args = parser.parse_args()
    torch.set_grad_enabled(False)
    x = photo_crops()
    genotypes = dict(published_genotypes())
    genotypes.update({f'random{k}': space.random_genotype(12, random.Random(k)) for k in range(args.random)})
    os.makedirs(osp.dirname(args.out), exist_ok=True)
    with open(args.out, 'w', newline='') as f:
        writer = csv.writer(f)
        writer.writerow(['num_feat', 'init', 'genotype', 'layer', 'std', 'input_share'])
        for num_feat in args.num_feat:
            for init in args.inits:
                tails = []
                for name, genotype in genotypes.items():
                    torch.manual_seed(0)
                    stats = cell_signal(build(genotype, num_feat, init), x)
                    writer.writerows([num_feat, init, name, layer, f'{std:.4g}', f'{share:.4f}']
                                     for layer, (std, share) in enumerate(stats))
                    tails.append(stats[-1])
                    if name in published_genotypes():
                        profile = ' '.join(f'{std:.2g}' for std, _ in stats)
                        print(f'C={num_feat} {init:8s} {name}: std head..cell12 {profile}; '
                              f'tail share {stats[-1][1]:.2f}', flush=True)
                stds, shares = zip(*tails)
                print(f'C={num_feat} {init:8s} all {len(tails)}: tail-input std min/median/max '
                      f'{min(stds):.3g} / {statistics.median(stds):.3g} / {max(stds):.3g}; input share '
                      f'{min(shares):.2f} / {statistics.median(shares):.2f} / {max(shares):.2f}', flush=True)
    print(f'rows: {args.out}')


if __name__ == '__main__':
    main()
