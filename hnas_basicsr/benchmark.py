"""Evaluate BasicSR models on test sets by the published protocol: PSNR/SSIM, cost, CPU latency, tiled inference.

One data protocol: the ground truth is the HR image cropped to a multiple of the scale, the LR its MATLAB-style
bicubic downscaling rounded to 8 bits (made here, from that crop). One metric protocol for every model: the
output is rounded to 8 bits like basicsr's SRModel validation (``tensor2img``), then scored by
:func:`hnas_basicsr.metrics.psnr_ssim` (Y rounded to 8 bits, grayscale images on their own channel) with
``crop_border = scale``. One cost protocol: :func:`hnas_basicsr.nas.cost.count_cost` at a 480x480 LR input, as
``tools/count_flops.py``. A test set is a folder of HR images, or one holding them in ``HR/`` (as
``tools/prepare_data.py --no-sub-images`` writes it).
"""
import os
import time
from dataclasses import dataclass, field
from os import path as osp

import numpy as np
import torch
from basicsr.utils import img2tensor, tensor2img
from tqdm import tqdm

from hnas_basicsr.cli import ToolError, load_yaml, one_line
from hnas_basicsr.images import imresize_uint8, modcrop, read_image
from hnas_basicsr.metrics import psnr_ssim
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
    checkpoint: str = ''


@dataclass
class TestSet:
    """The images of one test set at one scale: (name, GT uint8 BGR, LR uint8 BGR, grayscale or not)."""
    name: str
    scale: int
    pairs: list = field(default_factory=list)

    @property
    def gray(self):
        """The names of the grayscale images."""
        return [name for name, _, _, gray in self.pairs if gray]


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


def load_model(opt_path, label=None, scales=None, compile=False):
    """Build ``network_g`` of a BasicSR option file and load its checkpoint.

    Args:
        opt_path (str): A BasicSR train or test option file.
        label (str | None): Name in the tables (default: the option file's ``name`` without train_/test_).
        scales (list[int] | None): The scales benchmarked (default: any).
        compile (bool): Run the network through ``torch.compile`` (inductor, dynamic shapes: one compilation for
            every image and tile size, paid by the first call).

    Raises:
        ToolError: On a missing network, checkpoint or a scale not in ``scales``.
    """
    opt = load_yaml(opt_path)
    if not isinstance(opt, dict) or not isinstance(opt.get('network_g'), dict):
        raise ToolError(f'{opt_path}: no network_g mapping in the options')
    resolve_paths(opt, project_root())
    net_opt = opt['network_g']
    model_scale = net_opt.get('upscale', opt.get('scale'))
    if not isinstance(model_scale, int) or model_scale not in (2, 3, 4):
        raise ToolError(f'{opt_path}: network_g.upscale (or scale) must be 2, 3 or 4, got {model_scale!r}')
    if scales and model_scale not in scales:
        raise ToolError(f'{opt_path}: wrong scale: the network upsamples x{model_scale}, --scales is '
                        f'{" ".join(map(str, scales))}')
    path = checkpoint_of(opt, opt_path)
    net = build(net_opt, f'{opt_path}: network_g')
    load_weights(net, path, (opt.get('path') or {}).get('param_key_g', 'params'),
                 (opt.get('path') or {}).get('strict_load_g', True))
    if label is None:
        label = str(opt.get('name', osp.splitext(osp.basename(opt_path))[0]))
        label = label.split('_', 1)[1] if label.startswith(('train_', 'test_')) else label
    cost = count_cost(net, DEFAULT_LR_SIZE, net_opt.get('num_in_ch', 3))
    net.eval()
    return Model(label, torch.compile(net, dynamic=True) if compile else net, model_scale, cost.params, cost.macs,
                 path)


def _images(folder):
    return sorted(f for f in os.listdir(folder) if f.lower().endswith(IMAGE_EXTENSIONS))


def set_name(folder):
    """A test set's name: its folder's (``<set>-val`` for a prepared set's held-out ``val/`` folder)."""
    name = osp.basename(osp.normpath(folder))
    return f'{osp.basename(osp.dirname(osp.normpath(folder)))}-val' if name == 'val' else name


def load_hr(folder):
    """(name, uint8 BGR image, grayscale or not) of the HR images of a test set: ``<folder>/HR/`` if it exists,
    else ``<folder>``.

    Raises:
        ToolError: If the folder is missing, holds no HR image or an unreadable one.
    """
    if not osp.isdir(folder):
        raise ToolError(f'test set folder not found: {folder}')
    hr_dir = osp.join(folder, 'HR') if osp.isdir(osp.join(folder, 'HR')) else folder
    names = _images(hr_dir)
    if not names:
        raise ToolError(f'{folder}: no HR images (in it or in HR/; make HR/ with python tools/prepare_data.py '
                        '<HR folder> --no-sub-images)')
    images = []
    for name in names:
        read = read_image(osp.join(hr_dir, name))
        if read is None:
            raise ToolError(f'{osp.join(hr_dir, name)}: cannot read the image')
        images.append((osp.splitext(name)[0], *read))
    return images


def pairs_at(name, images, scale):
    """The pairs at ``scale``: the HR cropped to a multiple of ``scale``, and the bicubic LR of that crop.

    Raises:
        ToolError: If an image is smaller than ``scale`` px on a side.
    """
    result = TestSet(name, scale)
    for image_name, hr, gray in images:
        if min(hr.shape[:2]) < scale:
            raise ToolError(f'{name}/{image_name}: {hr.shape[1]}x{hr.shape[0]} is smaller than the scale ({scale})')
        gt = modcrop(hr, scale)
        result.pairs.append((image_name, gt, imresize_uint8(gt, 1 / scale), gray))
    return result


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


def super_resolve(net, lq, scale, device, tile, overlap):
    """The network's uint8 BGR output for a uint8 BGR input, as basicsr's SRModel validation makes it."""
    x = img2tensor(lq.astype(np.float32) / 255., bgr2rgb=True, float32=True).unsqueeze(0).to(device)
    return tensor2img(forward_tiled(net, x, scale, tile, overlap).cpu())


def _sync(device):
    if device.type == 'cuda':
        torch.cuda.synchronize(device)


def _means(results):
    return {'psnr': float(np.mean([r[0] for r in results])), 'ssim': float(np.mean([r[1] for r in results]))}


def _latency(times):
    """Median, min and max over the runs of the mean ms per image; ``times[i][r]``: image i, run r, in s."""
    per_run = 1000 * np.mean(times, axis=0)
    return {'ms': float(np.median(per_run)), 'ms_min': float(per_run.min()), 'ms_max': float(per_run.max())}


def evaluate(model, test_set, device, tile=512, overlap=32, runs=3):
    """Mean PSNR, SSIM and per-image latency of one model on one test set.

    Latency: one warm-up forward pass, then ``runs`` timed passes per image (tiling and transfers included,
    image decoding and metrics excluded); per run the mean over the images, in ms; its median, min and max.
    """
    net = model.net.to(device)
    super_resolve(net, test_set.pairs[0][2], model.scale, device, tile, overlap)  # warm-up
    results, times = [], []
    for name, gt, lq, gray in tqdm(test_set.pairs, desc=f'{model.label} on {test_set.name}', unit='img', leave=False):
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
        results.append(psnr_ssim(sr, gt, model.scale, gray))
        times.append(per_run)
    return {**_means(results), **_latency(times)}


def table_latency(model, table, device, runs=3):
    """(predicted, measured) ms of ``model`` for one LR input of the latency table's size, the measurement taken
    as the table's were (batch 1, no_grad, median of ``runs`` calls after a warm-up). Predicted is None but for an
    HNASNet of the settings the table was measured for; the reason is then the third item."""
    from hnas_basicsr.archs.hnas_arch import HNASNet
    from hnas_basicsr.nas.latency import LatencyTable, network_settings, time_ms
    t = table.table
    if model.scale != t['upscale']:
        return None, None, f'x{model.scale}, the table is for x{t["upscale"]}'
    net = model.net.to(device)
    x = torch.rand(1, t['num_in_ch'], *t['lr_size'], device=device)
    measured = time_ms(lambda: net(x), runs, device)
    net = getattr(net, '_orig_mod', net)  # the network itself under torch.compile
    if not isinstance(net, HNASNet):
        return None, measured, f'{type(net).__name__} is not an HNASNet'
    try:
        LatencyTable(t, network_settings(net.hparams))
    except ValueError as exc:
        return None, measured, str(exc).replace('the latency table: ', '')
    return table.latency_ms(net.genotype), measured, None


def evaluate_bicubic(test_set):
    """Mean PSNR and SSIM of MATLAB-style bicubic upscaling on one test set."""
    scale = test_set.scale
    return {**_means([psnr_ssim(imresize_uint8(lq, scale), gt, scale, gray) for _, gt, lq, gray in test_set.pairs]),
            'ms': None, 'ms_min': None, 'ms_max': None}
