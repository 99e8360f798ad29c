"""Checks of a parsed BasicSR option file before anything is built or written.

Each problem is one :class:`ToolError` line naming the option file, the field, what is expected and what
was found. The checks cover what this plugin's entry points run: HNASSRModel retraining and HNASSearchModel
searches on HNASPairedImageDataset / HNASSplitDataset data; the networks are built once here (pretrained weights
loaded into them), and the first sample of each dataset is read, so that constructor, checkpoint and data errors
surface before the experiment folder exists.
"""
import contextlib
import copy
import difflib
import logging
import numbers
import os
from os import path as osp

from hnas_basicsr.cli import ToolError, one_line

SCALES = (2, 3, 4)
SCHEDULERS = ('MultiStepRestartLR', 'CosineAnnealingRestartLR')  # what basicsr's models build
PATH_KEYS = ('pretrain_network_', 'strict_load_', 'param_key_', 'resume_state')
PATHS_SET_BY_BASICSR = ('experiments_root', 'models', 'training_states', 'log', 'visualization', 'results_root')
IMAGE_EXTENSIONS = ('.png', '.jpg', '.jpeg', '.bmp', '.tif', '.tiff', '.webp', '.ppm', '.pgm')
# The keys basicsr 1.4.2 (its train and test pipelines, models, data sets and loaders) and this plugin read, per
# block: a key that is none of them but close to one is a typo that basicsr would ignore without a word.
KNOWN_KEYS = {
    'options': ('name', 'model_type', 'scale', 'num_gpu', 'manual_seed', 'datasets', 'network_g', 'network_c',
                'network_d', 'path', 'train', 'val', 'logger', 'dist_params', 'search', 'find_unused_parameters',
                'is_train', 'dist', 'rank', 'world_size', 'auto_resume', 'root_path'),
    'train': ('total_iter', 'warmup_iter', 'ema_decay', 'optim_g', 'optim_c', 'optim_d', 'scheduler', 'scheduler_c',
              'pixel_opt', 'perceptual_opt', 'gan_opt', 'ldl_opt', 'feature_matching_opt', 'net_d_iters',
              'net_d_init_iters', 'net_d_reg_every', 'net_g_reg_every', 'path_reg_weight', 'path_batch_shrink',
              'mixing_prob', 'fix_flow', 'lr_flow', 'flow_lr_mul', 'dcn_lr_mul', 'tsa_iter'),
    'val': ('val_freq', 'save_img', 'suffix', 'metrics', 'pbar', 'num_val_samples', 'center_frame_only', 'flip_seq'),
    'logger': ('print_freq', 'save_checkpoint_freq', 'use_tb_logger', 'wandb'),
    'dataset': ('name', 'type', 'phase', 'scale', 'dataroot_gt', 'dataroot_lq', 'meta_info_file', 'io_backend',
                'filename_tmpl', 'gt_size', 'use_hflip', 'use_rot', 'use_shuffle', 'color', 'mean', 'std',
                'num_worker_per_gpu', 'batch_size_per_gpu', 'dataset_enlarge_ratio', 'prefetch_mode', 'pin_memory',
                'num_prefetch_queue', 'persistent_workers', 'split', 'split_seed', 'val_partition', 'base_type'),
}


def _is_int(value):
    return isinstance(value, int) and not isinstance(value, bool)


def _is_number(value):
    return isinstance(value, numbers.Real) and not isinstance(value, bool)


def _check_spelling(c, block, field, known):
    """Fail on a key of ``block`` that nothing reads but is close to one of ``known`` (``field``: its prefix)."""
    for key in block:
        if isinstance(key, str) and key not in known:
            close = difflib.get_close_matches(key, known, n=1, cutoff=0.8)
            if close:
                c.fail(f'{field}{key}', f'unknown key; did you mean {close[0]}? (basicsr ignores keys it does not '
                       'read, so this one would be lost without a word)')


class _Checker:
    """Field checks that raise ``ToolError('<file>: <field>: expected ..., got ...')``."""

    def __init__(self, path):
        self.path = path

    def fail(self, field, message):
        raise ToolError(f'{self.path}: {field}: {message}')

    def mapping(self, parent, key, field, required=True):
        value = parent.get(key) if isinstance(parent, dict) else None
        if value is None and not required:
            return {}
        if not isinstance(value, dict):
            self.fail(field, f'expected a mapping, got {value!r}' if value is not None else 'missing')
        return value

    def positive_int(self, parent, key, field, required=True, minimum=1):
        value = parent.get(key)
        if value is None and not required:
            return None
        if not _is_int(value) or value < minimum:
            self.fail(field, f'expected an integer >= {minimum}, got {value!r}')
        return value

    def positive_number(self, parent, key, field, required=True):
        value = parent.get(key)
        if value is None and not required:
            return None
        if not _is_number(value) or not value > 0:
            self.fail(field, f'expected a positive number, got {value!r}')
        return value

    def choice(self, parent, key, field, choices, required=True):
        value = parent.get(key)
        if value is None and not required:
            return None
        if not isinstance(value, str) or value not in choices:
            shown = ', '.join(sorted(map(str, choices)))
            self.fail(field, f'expected one of {shown}, got {value!r}')
        return value


def check_structure(opt, path, is_train=True):
    """The parts of an option file that basicsr's own option parsing relies on."""
    c = _Checker(path)
    if not isinstance(opt, dict):
        c.fail('options', f'expected a mapping, got {type(opt).__name__}')
    if not isinstance(opt.get('name'), str) or not opt['name'].strip():
        c.fail('name', f'expected a non-empty string, got {opt.get("name")!r}')
    num_gpu = opt.get('num_gpu', 'auto')
    if num_gpu != 'auto' and (not _is_int(num_gpu) or num_gpu < 0):
        c.fail('num_gpu', f"expected 'auto' or an integer >= 0, got {num_gpu!r}")
    if num_gpu != 'auto' and num_gpu > 0:
        import torch
        if num_gpu > torch.cuda.device_count():
            c.fail('num_gpu', f'{num_gpu} GPU(s) asked for, {torch.cuda.device_count()} visible (0: CPU, auto: all)')
    seed = opt.get('manual_seed')
    if seed is not None and (not _is_int(seed) or not 0 <= seed < 2**31):
        c.fail('manual_seed', f'expected an integer in 0..2**31-1 or ~, got {seed!r}')
    for phase in c.mapping(opt, 'datasets', 'datasets'):
        dataset_opt = c.mapping(opt['datasets'], phase, f'datasets.{phase}')
        for key in ('dataroot_gt', 'dataroot_lq'):
            if not isinstance(dataset_opt.get(key), str):
                c.fail(f'datasets.{phase}.{key}', f'expected a folder path, got {dataset_opt.get(key)!r}')
    for key, value in c.mapping(opt, 'path', 'path').items():
        if key.startswith(('pretrain_network', 'resume_state')) and not isinstance(value, (str, type(None))):
            c.fail(f'path.{key}', f'expected a file path or ~, got {value!r}')
        if not key.startswith(PATH_KEYS) and key not in PATHS_SET_BY_BASICSR:  # basicsr makes a folder of each
            c.fail(f'path.{key}', f'unknown key; expected {", ".join(k + "*" for k in PATH_KEYS)}')
    if is_train:
        c.mapping(opt, 'logger', 'logger')
    _check_spelling(c, opt, '', KNOWN_KEYS['options'])
    for block in ('train', 'val', 'logger'):
        if isinstance(opt.get(block), dict):
            _check_spelling(c, opt[block], f'{block}.', KNOWN_KEYS[block])
    for phase, dataset_opt in opt['datasets'].items():
        _check_spelling(c, dataset_opt, f'datasets.{phase}.', KNOWN_KEYS['dataset'])
    return c


@contextlib.contextmanager
def _basicsr_logger_untouched():
    """Silence basicsr's root logger and leave it uninitialised: the pipeline initialises it with its log file."""
    from basicsr.utils import logger as basicsr_logger
    logger = logging.getLogger('basicsr')
    was_initialized, handlers, disabled = 'basicsr' in basicsr_logger.initialized_logger, list(logger.handlers), \
        logger.disabled
    logger.disabled = True
    try:
        yield
    finally:
        logger.disabled = disabled
        if not was_initialized:
            basicsr_logger.initialized_logger.pop('basicsr', None)
            logger.handlers = handlers


def check_options(opt, path, is_train=True):
    """Raise ToolError on the first problem of a parsed option file (``path`` names it in the message)."""
    with _basicsr_logger_untouched():
        _check_options(opt, path, is_train)


def _check_options(opt, path, is_train):
    from basicsr.utils.registry import DATASET_REGISTRY, MODEL_REGISTRY
    c = check_structure(opt, path, is_train)
    c.choice(opt, 'model_type', 'model_type', set(MODEL_REGISTRY._obj_map))
    scale = opt.get('scale')
    if not _is_int(scale) or scale not in SCALES:
        c.fail('scale', f'expected 2, 3 or 4, got {scale!r}')
    nets = _check_networks(c, opt, scale)
    datasets = opt['datasets']
    for phase, dataset_opt in datasets.items():
        _check_dataset(c, phase, dataset_opt, scale, is_train, DATASET_REGISTRY)
    if is_train:
        if 'train' not in datasets:
            c.fail('datasets.train', 'missing: training needs a train dataset')
        check_train(opt, path)
        _check_logger(c, opt)
    _check_val(c, opt, is_train)
    _check_pretrained(c, opt, nets)
    if opt['model_type'] == 'HNASSearchModel':
        _check_search(c, opt, nets)


def _check_networks(c, opt, scale):
    """Build every ``network_*`` once (on the CPU): constructor errors name the key."""
    from hnas_basicsr.networks import build
    nets = {}
    if 'network_g' not in opt:
        c.fail('network_g', 'missing')
    for key in sorted(k for k in opt if k.startswith('network_')):
        net_opt = c.mapping(opt, key, key)
        if key == 'network_g' and 'upscale' in net_opt and net_opt['upscale'] != scale:
            c.fail('network_g.upscale', f'expected the scale ({scale}), got {net_opt["upscale"]!r}')
        nets[key] = build(net_opt, f'{c.path}: {key}')
    if opt.get('model_type') != 'HNASSearchModel':  # (the supernet and controller run only inside the search)
        in_ch = opt['network_g'].get('num_in_ch', 3)
        _constructed(c, 'network_g', lambda: _check_upscaling(nets['network_g'], in_ch, scale))
    return nets


def _check_pretrained(c, opt, nets):
    """Load every ``path.pretrain_network_<x>`` into its network: an unreadable, unsafe or foreign file fails here."""
    from hnas_basicsr.networks import load_weights
    paths = opt.get('path') or {}
    for key, value in paths.items():
        if not key.startswith('pretrain_network') or value is None:
            continue
        if not osp.isfile(str(value)):
            c.fail(f'path.{key}', f'{value} is not a file')
        suffix = key[len('pretrain_network'):]
        if f'network{suffix}' in nets:
            try:
                load_weights(nets[f'network{suffix}'], value, paths.get(f'param_key{suffix}') or 'params',
                             paths.get(f'strict_load{suffix}', True))
            except ToolError as exc:
                c.fail(f'path.{key}', str(exc))


def _check_upscaling(net, in_ch, scale):
    import torch
    with torch.no_grad():
        out = net.eval()(torch.rand(1, in_ch, 8, 8))
    if tuple(out.shape[-2:]) != (8 * scale, 8 * scale):
        raise ValueError(f'an 8x8 input gives {out.shape[-1]}x{out.shape[-2]}, expected x{scale} upscaling')


def _check_dataset(c, phase, dataset_opt, scale, is_train, registry):
    field = f'datasets.{phase}'
    if is_train and phase != 'train' and not phase.startswith('val'):
        c.fail(field, "phase names are 'train' and 'val...' in a training option file")
    dataset_opt = c.mapping({phase: dataset_opt}, phase, field)
    if not isinstance(dataset_opt.get('name'), str):
        c.fail(f'{field}.name', f'expected a string, got {dataset_opt.get("name")!r}')
    c.choice(dataset_opt, 'type', f'{field}.type', set(registry._obj_map))
    io_type = c.choice(c.mapping(dataset_opt, 'io_backend', f'{field}.io_backend'), 'type', f'{field}.io_backend.type',
                       ('disk', 'lmdb'))
    for key in ('dataroot_gt', 'dataroot_lq'):
        folder = dataset_opt.get(key)
        if not isinstance(folder, str):
            c.fail(f'{field}.{key}', f'expected a folder path, got {folder!r}')
        _check_folder(c, f'{field}.{key}', folder, io_type)
    if phase == 'train':
        gt_size = c.positive_int(dataset_opt, 'gt_size', f'{field}.gt_size')
        if gt_size % scale:
            c.fail(f'{field}.gt_size', f'expected a multiple of the scale ({scale}), got {gt_size}')
        c.positive_int(dataset_opt, 'batch_size_per_gpu', f'{field}.batch_size_per_gpu')
        workers = c.positive_int(dataset_opt, 'num_worker_per_gpu', f'{field}.num_worker_per_gpu', minimum=0)
        if workers > 32:
            c.fail(f'{field}.num_worker_per_gpu', f'expected at most 32 loader processes, got {workers}')
        if dataset_opt.get('prefetch_mode') not in (None, 'cpu', 'cuda'):
            c.fail(f'{field}.prefetch_mode', f"expected ~, cpu or cuda, got {dataset_opt['prefetch_mode']!r}")
        if dataset_opt.get('prefetch_mode') == 'cuda' and dataset_opt.get('pin_memory') is not True:
            c.fail(f'{field}.pin_memory', 'prefetch_mode cuda needs pin_memory: true (and a GPU)')
        c.positive_int(dataset_opt, 'dataset_enlarge_ratio', f'{field}.dataset_enlarge_ratio', required=False)
        for key in ('use_hflip', 'use_rot'):
            if not isinstance(dataset_opt.get(key, False), bool):
                c.fail(f'{field}.{key}', f'expected true or false, got {dataset_opt[key]!r}')
    _check_samples(c, field, dataset_opt, phase, scale)


def _check_folder(c, field, folder, io_type):
    if not osp.isdir(folder):
        hint = ('python tools/prepare_data.py' if 'skimage' in folder else
                'python tools/prepare_data.py <folder of HR images> --out <dataset folder>')
        c.fail(field, f'{folder} does not exist; prepare the data first: {hint}')
    is_lmdb = osp.isfile(osp.join(folder, 'data.mdb'))
    holds_images = any(f.lower().endswith(IMAGE_EXTENSIONS) for f in os.listdir(folder))
    if io_type == 'disk':
        if is_lmdb:
            c.fail(field, f'{folder} is an LMDB, read with io_backend.type: disk; set it to lmdb')
        if not holds_images:
            c.fail(field, f'{folder} holds no image')
        return
    meta = osp.join(folder, 'meta_info.txt')
    if not is_lmdb or not osp.isfile(meta):
        hint = ('it is a folder of images: set io_backend.type: disk, or make an LMDB of it with tools/prepare_data.py'
                if holds_images else 'no data.mdb or meta_info.txt')
        c.fail(field, f'{folder} is not an LMDB made by tools/prepare_data.py ({hint})')
    with open(meta, 'rb') as f:
        if not any(line.strip() for line in f):
            c.fail(field, f'{folder}/meta_info.txt lists no image: an empty LMDB')


def _check_samples(c, field, dataset_opt, phase, scale):
    """Build the dataset and read its first sample: corrupt LMDBs, unreadable images, patch sizes."""
    from basicsr.data import build_dataset

    from hnas_basicsr.data.hnas_split_dataset import close_files, release_base_datasets
    opt = dict(copy.deepcopy(dataset_opt), phase=phase, scale=scale)
    dataset = None
    release_base_datasets()  # (of an earlier run in this process)
    try:
        dataset = build_dataset(opt)
        size = len(dataset)
        if size:
            dataset[0]
    except Exception as exc:  # what the dataset classes raise on bad data: asserts, ValueError, cv2 and lmdb errors
        c.fail(field, f'cannot read the data: {str(exc) if isinstance(exc, ToolError) else one_line(exc)}')
    finally:  # the run opens its own files
        release_base_datasets()
        close_files(dataset)
    if size == 0:
        c.fail(field, 'no samples (is the LMDB or folder empty, or are GT and LQ names different?)')
    batch = opt.get('batch_size_per_gpu', 1) if phase == 'train' else 1
    if size * opt.get('dataset_enlarge_ratio', 1) < batch:
        c.fail(f'{field}.batch_size_per_gpu', f'{batch} is more than the {size} samples')


def _constructed(c, field, make):
    """Run ``make()`` (building an optimizer, scheduler, loss or metric from the options); fail naming ``field``."""
    try:
        return make()
    except ToolError:
        raise
    except Exception as exc:  # whatever the constructor rejects the options with
        c.fail(field, f'rejected: {one_line(exc)}')


def _check_optimizer(c, train, key):
    import torch
    optim = c.mapping(train, key, f'train.{key}')
    c.choice(optim, 'type', f'train.{key}.type', ('Adam',))  # the only optimizer basicsr 1.4.2 builds
    c.positive_number(optim, 'lr', f'train.{key}.lr')
    kwargs = {k: v for k, v in optim.items() if k != 'type'}
    return _constructed(c, f'train.{key}', lambda: torch.optim.Adam([torch.nn.Parameter(torch.zeros(1))], **kwargs))


def check_train(opt, path):
    """The ``train`` block: optimizers, schedules (long enough for ``total_iter``), loss."""
    from basicsr.losses import build_loss
    from basicsr.models import lr_scheduler
    from basicsr.utils.registry import LOSS_REGISTRY
    c = _Checker(path)
    train = c.mapping(opt, 'train', 'train')
    total = c.positive_int(train, 'total_iter', 'train.total_iter')
    optimizer = _check_optimizer(c, train, 'optim_g')
    if opt.get('model_type') == 'HNASSearchModel' and train.get('optim_c') is not None:
        _check_optimizer(c, train, 'optim_c')
    for key in ('scheduler', 'scheduler_c'):
        sched = c.mapping(train, key, f'train.{key}', required=key == 'scheduler')
        if sched:
            kind = c.choice(sched, 'type', f'train.{key}.type', SCHEDULERS)
            periods = sched.get('periods')
            if kind == 'CosineAnnealingRestartLR':
                if not isinstance(periods, list) or not periods or not all(_is_int(p) and p > 0 for p in periods):
                    c.fail(f'train.{key}.periods', f'expected a list of positive integers, got {periods!r}')
                if sum(periods) < total:
                    c.fail(f'train.{key}.periods', f'they add up to {sum(periods)}, fewer than train.total_iter '
                           f'({total}); the cosine schedule would fail past their end: raise both together')
            cls = getattr(lr_scheduler, kind)
            kwargs = {k: v for k, v in sched.items() if k != 'type'}
            scheduler = _constructed(c, f'train.{key}', lambda: cls(optimizer, **kwargs))
            _constructed(c, f'train.{key}', lambda: (optimizer.step(), scheduler.step()))
    if not _is_int(train.get('warmup_iter', -1)):
        c.fail('train.warmup_iter', f'expected an integer (-1: no warm-up), got {train["warmup_iter"]!r}')
    ema = train.get('ema_decay', 0)
    if not _is_number(ema) or not 0 <= ema < 1:
        c.fail('train.ema_decay', f'expected a number in [0, 1), got {ema!r}')
    pixel = c.mapping(train, 'pixel_opt', 'train.pixel_opt', required=False)
    if not pixel:
        c.fail('train.pixel_opt', 'missing: the models here train with a pixel loss')
    c.choice(pixel, 'type', 'train.pixel_opt.type', set(LOSS_REGISTRY._obj_map))
    _constructed(c, 'train.pixel_opt', lambda: _run_loss(build_loss(copy.deepcopy(pixel))))


def _run_loss(loss):
    import torch
    value = loss(torch.rand(1, 3, 8, 8), torch.rand(1, 3, 8, 8))
    if not torch.is_tensor(value) or value.numel() != 1:
        raise ValueError('the loss is not a scalar: set reduction to mean or sum')


def _check_val(c, opt, is_train):
    import numpy as np
    from basicsr.metrics import calculate_metric
    from basicsr.utils.registry import METRIC_REGISTRY
    val = c.mapping(opt, 'val', 'val', required=False)
    if val and is_train:
        c.positive_number(val, 'val_freq', 'val.val_freq')
    if val and not isinstance(val.get('save_img'), bool):  # basicsr's pipelines read it
        c.fail('val.save_img', f'expected true or false, got {val.get("save_img")!r}')
    if not isinstance(val.get('pbar', False), bool):
        c.fail('val.pbar', f'expected true or false, got {val["pbar"]!r}')
    if val.get('save_img') and not is_train and 'suffix' not in val:
        c.fail('val.suffix', 'missing (~ for none): basicsr\'s test pipeline reads it to name saved images')
    rng = np.random.default_rng(0)
    images = {'img': rng.integers(0, 256, (32, 32, 3)).astype(np.uint8),
              'img2': rng.integers(0, 256, (32, 32, 3)).astype(np.uint8)}
    for name in c.mapping(val, 'metrics', 'val.metrics', required=False):
        metric = c.mapping(val['metrics'], name, f'val.metrics.{name}')
        c.choice(metric, 'type', f'val.metrics.{name}.type', set(METRIC_REGISTRY._obj_map))
        crop = metric.get('crop_border', 0)
        if not _is_int(crop) or not 0 <= crop <= 8:
            c.fail(f'val.metrics.{name}.crop_border', f'expected an integer in 0..8 (the scale), got {crop!r}')
        _constructed(c, f'val.metrics.{name}', lambda: calculate_metric(images, copy.deepcopy(metric)))


def _check_logger(c, opt):
    logger = c.mapping(opt, 'logger', 'logger')
    c.positive_int(logger, 'print_freq', 'logger.print_freq')
    c.positive_number(logger, 'save_checkpoint_freq', 'logger.save_checkpoint_freq')
    if not isinstance(logger.get('use_tb_logger'), bool):
        c.fail('logger.use_tb_logger', f'expected true or false, got {logger.get("use_tb_logger")!r}')
    wandb = logger.get('wandb')
    if wandb is not None and (not isinstance(wandb, dict) or wandb.get('project') is not None):
        c.fail('logger.wandb', 'wandb logging is not available offline; set project: ~')


def _check_search(c, opt, nets):
    from hnas_basicsr.objective import SearchObjective, search_options
    try:
        search = search_options(opt)
    except ValueError as exc:
        raise ToolError(f'{c.path}: {exc}') from None
    if type(nets['network_g']).__name__ != 'HNASSuperNet':
        c.fail('network_g.type', f'the search needs HNASSuperNet, got {opt["network_g"]["type"]!r}')
    try:
        SearchObjective(search, nets['network_g'].hparams)  # (reads and checks a latency table)
    except ValueError as exc:
        raise ToolError(f'{c.path}: {exc}') from None
    if 'network_c' not in nets or type(nets['network_c']).__name__ != 'HNASController':
        c.fail('network_c', 'the search needs an HNASController')
    layers_g, layers_c = nets['network_g'].hparams['num_layers'], nets['network_c'].num_layers
    if layers_g != layers_c:
        c.fail('network_c.num_layers', f'expected the supernet\'s num_layers ({layers_g}), got {layers_c}')
    if opt['datasets']['train'].get('type') != 'HNASSplitDataset':
        c.fail('datasets.train.type', f'the search needs HNASSplitDataset, got {opt["datasets"]["train"]["type"]!r}')
