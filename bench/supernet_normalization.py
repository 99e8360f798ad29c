"""How should the supernet be normalised, and in which mode should it score architectures? Measured side by side.

Usage: python bench/supernet_normalization.py [--steps 250] [--genotypes 10] [--images ../shared/datasets/train/T91/HR]

Trains two x2 supernets (C = 8, L = 12, batch 16, 24x24 LR patches, Adam 1e-3, L1, a uniformly random path per
step, the same seed and batches, the bicubic skip of the shipped search options): one plain (``normalize:
false``), one normalised as the authors' (BatchNorm with running averages kept, ``track_running_stats: true``).
The first 40% of the images give the training patches; the other 60% (the controller's share in the search)
give the scoring batches. Then scores ``--genotypes`` random architectures on the same scoring batches (PSNR on
Y, crop = scale):
  - plain supernet;
  - normalised, batch statistics (what ``train()`` mode does, and the default ``eval()`` mode of HNASSuperNet);
  - normalised, running averages (``eval()`` with ``track_running_stats: true``);
and prints, per mode, the mean PSNR over architectures, its spread (max - min) and the PSNR of bicubic. Results
go to results/supernet_normalization.csv.
"""
import argparse
import csv
import glob
import os
import random
import time
from os import path as osp

import cv2
import hnas_basicsr  # noqa: F401  (registers the plugin; before basicsr)
import numpy as np
import torch
from basicsr.metrics.psnr_ssim import calculate_psnr_pt
from basicsr.utils.matlab_functions import imresize
from torch.nn import functional as F

from hnas_basicsr.archs.hnas_supernet_arch import HNASSuperNet
from hnas_basicsr.nas import space

ROOT = osp.abspath(osp.join(osp.dirname(__file__), osp.pardir))
DEFAULT_IMAGES = osp.join(ROOT, osp.pardir, 'shared', 'datasets', 'train', 'T91', 'HR')


class Patches:
    """Random (LR, HR) patch batches of a list of images; LR is MATLAB bicubic, rounded to 8 bits."""

    def __init__(self, images, seed, scale=2, hr_size=48):
        self.images, self.rng, self.scale, self.hr_size = images, random.Random(seed), scale, hr_size

    def batch(self, size=16):
        lq, gt = [], []
        for _ in range(size):
            img = self.rng.choice(self.images)
            y = self.rng.randrange(img.shape[0] - self.hr_size + 1)
            x = self.rng.randrange(img.shape[1] - self.hr_size + 1)
            patch = img[y:y + self.hr_size, x:x + self.hr_size]
            gt.append(patch)
            lq.append(np.clip(np.round(imresize(patch, 1 / self.scale) * 255), 0, 255) / 255.)

        def tensor(arrays):
            return torch.from_numpy(np.ascontiguousarray(np.stack(arrays).transpose(0, 3, 1, 2))).float()

        return tensor(lq), tensor(gt)


def psnr(sr, gt, scale=2):
    return calculate_psnr_pt(sr.clamp(0, 1), gt, crop_border=scale, test_y_channel=True).mean().item()


def main():
    parser = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    parser.add_argument('--steps', type=int, default=250)
    parser.add_argument('--genotypes', type=int, default=10)
    parser.add_argument('--images', default=DEFAULT_IMAGES)
    parser.add_argument('--out', default=osp.join(ROOT, 'results', 'supernet_normalization.csv'))
    args = parser.parse_args()
    files = sorted(glob.glob(osp.join(args.images, '*.png')))
    if not files:
        raise SystemExit(f'{args.images}: no PNG images')
    images = [cv2.imread(f)[:, :, ::-1].astype(np.float32) / 255. for f in files]
    split = int(0.4 * len(images))
    weight_images, score_images = images[:split], images[split:]
    score_batches = [Patches(score_images, seed=1).batch() for _ in range(4)]

    torch.manual_seed(0)
    nets = {'plain': HNASSuperNet(num_feat=8, normalize=False, global_skip='bicubic'),
            'normalised': HNASSuperNet(num_feat=8, track_running_stats=True, global_skip='bicubic')}
    nets['normalised'].load_state_dict(nets['plain'].state_dict(), strict=False)  # same starting weights
    for label, net in nets.items():
        opt = torch.optim.Adam(net.parameters(), 1e-3)
        patches, rng, start = Patches(weight_images, seed=0), random.Random(0), time.time()
        net.train()
        for step in range(1, args.steps + 1):
            lq, gt = patches.batch()
            loss = F.l1_loss(net(lq, space.random_genotype(12, rng)), gt)
            opt.zero_grad()
            loss.backward()
            opt.step()
            if step % 50 == 0:
                print(f'{label}: step {step}, l_pix {loss.item():.4f} ({time.time() - start:.0f} s)', flush=True)

    batch_stats = HNASSuperNet(num_feat=8, global_skip='bicubic')  # the default: batch statistics in every mode
    batch_stats.load_state_dict(nets['normalised'].state_dict(), strict=False)
    modes = {'plain': nets['plain'].eval(), 'batch statistics (default)': batch_stats.eval(),
             'running averages': nets['normalised'].eval()}
    rng = random.Random(1)
    genotypes = [space.random_genotype(12, rng) for _ in range(args.genotypes)]
    bicubic = np.mean([psnr(F.interpolate(lq, scale_factor=2, mode='bicubic', align_corners=False), gt)
                       for lq, gt in score_batches])
    os.makedirs(osp.dirname(args.out), exist_ok=True)
    with torch.no_grad(), open(args.out, 'w', newline='') as f:
        writer = csv.writer(f)
        writer.writerow(['mode', 'genotype', 'position', 'psnr'])
        print(f'\nscoring {len(genotypes)} random architectures on {len(score_batches)} held-out batches '
              f'(bicubic {bicubic:.2f} dB); {args.steps} training steps per supernet')
        for mode, net in modes.items():
            scores = [np.mean([psnr(net(lq, g), gt) for lq, gt in score_batches]) for g in genotypes]
            writer.writerows([mode, k, g.position, f'{s:.4f}'] for k, (g, s) in enumerate(zip(genotypes, scores)))
            print(f'{mode:28s} mean {np.mean(scores):.2f} dB, spread {max(scores) - min(scores):.2f} dB '
                  f'(min {min(scores):.2f}, max {max(scores):.2f})', flush=True)
    print(f'rows: {args.out}')


if __name__ == '__main__':
    main()
