"""How soon does a derived network leave its starting point? PSNR over bicubic along a short training, in one process.

Usage: python bench/training_probe.py HNAS_B|genotype.yml [--init lsuv] [--skip bicubic] [--cell-residual]
       [--steps 400] [--lr 1e-3]

Trains the x2 HNASNet of a published genotype (or of a genotype file, as derive writes) at 16 features (batch 16, 48x48 HR patches of T91 with MATLAB
bicubic LR, Adam at a constant lr, L1) and every 50 steps prints the loss and the PSNR (Y, crop 2) on 4 fixed
batches of patches from images it does not train on, beside bicubic's. ``--skip none`` is the paper's network.
"""
import argparse
import glob
import sys
import time
from os import path as osp

sys.path.insert(0, osp.dirname(osp.abspath(__file__)))

import cv2  # noqa: E402
import numpy as np  # noqa: E402
import torch  # noqa: E402
from supernet_normalization import DEFAULT_IMAGES, Patches, psnr  # noqa: E402
from torch.nn import functional as F  # noqa: E402

from hnas_basicsr.archs.hnas_arch import HNASNet  # noqa: E402
from hnas_basicsr.cli import load_yaml  # noqa: E402
from hnas_basicsr.nas.genotype import published_genotypes  # noqa: E402


def main():
    parser = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    parser.add_argument('genotype', help=f'{", ".join(sorted(published_genotypes()))} or a genotype YAML file')
    parser.add_argument('--init', default='lsuv', choices=['lsuv', 'pytorch'])
    parser.add_argument('--skip', default='bicubic', choices=['bicubic', 'none'])
    parser.add_argument('--cell-residual', action='store_true', help='cell_residual: true (each cell adds its input)')
    parser.add_argument('--steps', type=int, default=400)
    parser.add_argument('--lr', type=float, default=1e-3)
    parser.add_argument('--images', default=DEFAULT_IMAGES)
    args = parser.parse_args()
    images = [cv2.imread(f)[:, :, ::-1].astype(np.float32) / 255.
              for f in sorted(glob.glob(osp.join(args.images, '*.png')))]
    held_out = [Patches(images[-10:], seed=1).batch() for _ in range(4)]
    patches = Patches(images[:-10], seed=0)
    torch.manual_seed(0)
    published = published_genotypes()
    genotype = published[args.genotype].to_dict() if args.genotype in published else load_yaml(args.genotype)
    net = HNASNet(genotype, num_feat=16, init=args.init, global_skip=None if args.skip == 'none' else args.skip,
                  cell_residual=args.cell_residual)
    optimizer = torch.optim.Adam(net.parameters(), args.lr)
    with torch.no_grad():
        bicubic = np.mean([psnr(F.interpolate(lq, scale_factor=2, mode='bicubic', align_corners=False), gt)
                           for lq, gt in held_out])
    start = time.time()
    for step in range(1, args.steps + 1):
        lq, gt = patches.batch()
        loss = F.l1_loss(net(lq), gt)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        if step % 50 == 0:
            with torch.no_grad():
                score = np.mean([psnr(net(lq), gt) for lq, gt in held_out])
            print(f'{args.genotype} init {args.init} skip {args.skip} cell_residual {args.cell_residual}: step {step}, l_pix {loss.item():.4f}, '
                  f'PSNR {score:.2f} dB (bicubic {bicubic:.2f}, {score - bicubic:+.2f}), {time.time() - start:.0f} s',
                  flush=True)


if __name__ == '__main__':
    main()
