"""Evaluate BasicSR models on prepared test sets: PSNR/SSIM on Y, cost, CPU latency, tiled inference.

One metric protocol for every model: the output is rounded to 8 bits like basicsr's SRModel validation
(``tensor2img``), then scored with basicsr's own ``calculate_psnr`` / ``calculate_ssim`` on the Y channel with
``crop_border = scale``. One cost protocol: :func:`hnas_basicsr.nas.cost.count_cost` at a 480x480 LR input, as
``tools/count_flops.py``. Test sets are folders made by ``tools/prepare_data.py --no-sub-images`` (``GTmod12/``
and MATLAB-bicubic ``LRbicx{s}/``).
"""
import os
import statistics
import time
from dataclasses import dataclass, field
from os import path as osp

import cv2
import numpy as np
import torch
from basicsr.metrics import calculate_psnr, calculate_ssim
from basicsr.utils import img2tensor, tensor2img
from basicsr.utils.matlab_functions import imresize
from tqdm import tqdm

from hnas_basicsr.cli import ToolError, load_yaml, one_line
from hnas_basicsr.nas.cost import DEFAULT_LR_SIZE, count_cost
from hnas_basicsr.networks import build, load_weights
from hnas_basicsr.runtime import project_root, resolve_paths
from hnas_basicsr.validation import IMAGE_EXTENSIONS

BICUBIC = 'Bicubic'


@dataclass
class Model:
    """A network built from an option file, with its weights loaded."""
    label: str
    net: torch.nn.Module
    scale: int
    params: int = 0
    macs: int = 0


@dataclass
class TestSet:
    """The image pairs of one prepared test set at one scale: (name, GT uint8 BGR, LR uint8 BGR)."""
    name: str
    pairs: list = field(default_factory=list)


def checkpoint_of(opt, opt_path):
    """``path.pretrain_network_g``, else the latest weights of the option file's own training run."""
    given = (opt.get('path') or {}).get('pretrain_network_g')
    candidates = [given] if given else [osp.join(project_root(), 'experiments', str(opt.get('name')), 'models',
                                                 'net_g_latest.pth')]
    for path in candidates:
        if osp.isfile(path):
            return path
    if given:
        raise ToolError(f'{opt_path}: path.pretrain_network_g: {given} not found')
    raise ToolError(f'{opt_path}: no checkpoint: path.pretrain_network_g is not set and {candidates[0]} does not '
                    f'exist (train it first: python hnas_basicsr/train.py -opt {opt_path})')


def load_model(opt_path, label=None, scale=None):
    """Build ``network_g`` of a BasicSR option file and load its checkpoint.

    Args:
        opt_path (str): A BasicSR train or test option file.
        label (str | None): Name in the tables (default: the option file's ``name`` without train_/test_).
        scale (int | None): The scale every model must have.

    Raises:
        ToolError: On a missing network, checkpoint or a scale other than ``scale``.
    """
    opt = load_yaml(opt_path)
    if not isinstance(opt, dict) or not isinstance(opt.get('network_g'), dict):
        raise ToolError(f'{opt_path}: no network_g mapping in the options')
    resolve_paths(opt, project_root())
    net_opt = opt['network_g']
    model_scale = net_opt.get('upscale', opt.get('scale'))
    if not isinstance(model_scale, int) or model_scale not in (2, 3, 4):
        raise ToolError(f'{opt_path}: network_g.upscale (or scale) must be 2, 3 or 4, got {model_scale!r}')
    if scale is not None and model_scale != scale:
        raise ToolError(f'{opt_path}: wrong scale: the network upsamples x{model_scale}, the benchmark is x{scale}')
    path = checkpoint_of(opt, opt_path)
    net = build(net_opt, f'{opt_path}: network_g')
    load_weights(net, path, (opt.get('path') or {}).get('param_key_g', 'params'),
                 (opt.get('path') or {}).get('strict_load_g', True))
    if label is None:
        label = str(opt.get('name', osp.splitext(osp.basename(opt_path))[0]))
        label = label.split('_', 1)[1] if label.startswith(('train_', 'test_')) else label
    cost = count_cost(net, DEFAULT_LR_SIZE, net_opt.get('num_in_ch', 3))
    return Model(label, net.eval(), model_scale, cost.params, cost.macs)


def _images(folder):
    return sorted(f for f in os.listdir(folder) if f.lower().endswith(IMAGE_EXTENSIONS))


def _read(path):
    img = cv2.imread(path, cv2.IMREAD_COLOR)
    if img is None:
        raise ToolError(f'{path}: cannot read the image')
    return img


def load_test_set(folder, scale):
    """The GTmod12 / LRbicx{scale} pairs of a folder made by ``tools/prepare_data.py --no-sub-images``.

    Raises:
        ToolError: If the folder is missing, not prepared, prepared without this scale, or inconsistent.
    """
    prepare = f'python tools/prepare_data.py <HR folder> --no-sub-images --scales {scale} --out {folder}'
    if not osp.isdir(folder):
        raise ToolError(f'test set folder not found: {folder}')
    gt_dir, lq_dir = osp.join(folder, 'GTmod12'), osp.join(folder, f'LRbicx{scale}')
    if not osp.isdir(gt_dir):
        raise ToolError(f'{folder}: no GTmod12/ folder: not a prepared test set ({prepare})')
    if not osp.isdir(lq_dir):
        found = sorted(d for d in os.listdir(folder) if d.startswith('LRbicx'))
        raise ToolError(f'{folder}: wrong scale: no LRbicx{scale}/ (has {", ".join(found) or "no LR folder"}; '
                        f'{prepare})')
    names = _images(gt_dir)
    if not names:
        raise ToolError(f'{gt_dir}: no images')
    name = osp.basename(osp.normpath(folder))  # a prepared set's held-out val/ folder: <set>-val
    test_set = TestSet(f'{osp.basename(osp.dirname(osp.normpath(folder)))}-val' if name == 'val' else name)
    for name in names:
        lq_path = osp.join(lq_dir, name)
        if not osp.isfile(lq_path):
            raise ToolError(f'{lq_dir}: {name} is missing (GTmod12/ has it)')
        gt, lq = _read(osp.join(gt_dir, name)), _read(lq_path)
        if gt.shape[:2] != (lq.shape[0] * scale, lq.shape[1] * scale):
            raise ToolError(f'{lq_path}: {lq.shape[1]}x{lq.shape[0]} is not the GT {gt.shape[1]}x{gt.shape[0]} '
                            f'divided by {scale}')
        test_set.pairs.append((osp.splitext(name)[0], gt, lq))
    return test_set


def tile_boxes(length, tile, overlap):
    """(core start, core end, input start, input end) along one side: cores tile it, inputs add ``overlap``."""
    boxes = []
    for start in range(0, length, tile):
        end = min(start + tile, length)
        boxes.append((start, end, max(start - overlap, 0), min(end + overlap, length)))
    return boxes


@torch.no_grad()
def forward_tiled(net, lq, scale, tile, overlap):
    """``net(lq)``, computed in LR tiles of ``tile`` px (plus ``overlap`` px of context on each side) when the
    image is larger; ``tile = 0`` runs the whole image. Each output pixel comes from the tile whose core holds it.
    """
    h, w = lq.shape[-2:]
    if not tile or (h <= tile and w <= tile):
        return net(lq)
    out = lq.new_zeros(lq.shape[0], lq.shape[1], h * scale, w * scale)
    for y0, y1, iy0, iy1 in tile_boxes(h, tile, overlap):
        for x0, x1, ix0, ix1 in tile_boxes(w, tile, overlap):
            sr = net(lq[..., iy0:iy1, ix0:ix1])
            oy, ox = (y0 - iy0) * scale, (x0 - ix0) * scale
            out[..., y0 * scale:y1 * scale, x0 * scale:x1 * scale] = \
                sr[..., oy:oy + (y1 - y0) * scale, ox:ox + (x1 - x0) * scale]
    return out


def scores(sr, gt, scale):
    """(PSNR, SSIM) of two uint8 BGR images on Y with ``crop_border = scale``, by basicsr's functions."""
    return (calculate_psnr(sr, gt, crop_border=scale, test_y_channel=True),
            calculate_ssim(sr, gt, crop_border=scale, test_y_channel=True))


def bicubic_upscale(lq, scale):
    """MATLAB-style bicubic upscaling of a uint8 image, rounded and clipped to uint8."""
    return np.clip(np.round(imresize(lq.astype(np.float32) / 255., scale) * 255.), 0, 255).astype(np.uint8)


def super_resolve(net, lq, scale, device, tile, overlap):
    """The network's uint8 BGR output for a uint8 BGR input, as basicsr's SRModel validation makes it."""
    x = img2tensor(lq.astype(np.float32) / 255., bgr2rgb=True, float32=True).unsqueeze(0).to(device)
    return tensor2img(forward_tiled(net, x, scale, tile, overlap).cpu())


def _sync(device):
    if device.type == 'cuda':
        torch.cuda.synchronize(device)


def evaluate(model, test_set, device, tile=512, overlap=32, runs=3):
    """Mean PSNR, SSIM and per-image latency of one model on one test set.

    Latency: one warm-up forward pass, then ``runs`` timed passes per image (tiling and transfers included,
    image decoding and metrics excluded); the median per image, averaged over the set, in ms.
    """
    net = model.net.to(device)
    super_resolve(net, test_set.pairs[0][2], model.scale, device, tile, overlap)  # warm-up
    psnrs, ssims, times = [], [], []
    for name, gt, lq in tqdm(test_set.pairs, desc=f'{model.label} on {test_set.name}', unit='img', leave=False):
        per_run = []
        for _ in range(max(runs, 1)):
            _sync(device)
            start = time.perf_counter()
            try:
                sr = super_resolve(net, lq, model.scale, device, tile, overlap)
            except RuntimeError as exc:  # out of memory on a large image, mostly
                raise ToolError(f'{model.label} on {test_set.name}/{name}: {one_line(exc)} (try a smaller '
                                '--tile)') from None
            _sync(device)
            per_run.append(time.perf_counter() - start)
        psnr, ssim = scores(sr, gt, model.scale)
        psnrs.append(psnr)
        ssims.append(ssim)
        times.append(statistics.median(per_run))
    return {'psnr': float(np.mean(psnrs)), 'ssim': float(np.mean(ssims)), 'ms': 1000 * float(np.mean(times))}


def evaluate_bicubic(test_set, scale):
    """Mean PSNR and SSIM of MATLAB-style bicubic upscaling on one test set."""
    results = [scores(bicubic_upscale(lq, scale), gt, scale) for _, gt, lq in test_set.pairs]
    return {'psnr': float(np.mean([r[0] for r in results])), 'ssim': float(np.mean([r[1] for r in results])),
            'ms': None}
