"""Checks of a parsed BasicSR option file before anything is built or written.

Each problem is one :class:`ToolError` line naming the option file, the field, what is expected and what
was found. The checks cover what this plugin's entry points run: SRModel retraining and HNASSearchModel
searches on PairedImageDataset / HNASSplitDataset data; the networks are built once here, and the first
training sample is read, so that constructor and data errors surface before the experiment folder exists.
"""
import contextlib
import copy
import logging
import numbers
import os
from os import path as osp

from hnas_basicsr.cli import ToolError, one_line

SCALES = (2, 3, 4)
SCHEDULERS = ('MultiStepRestartLR', 'CosineAnnealingRestartLR')
IMAGE_EXTENSIONS = ('.png', '.jpg', '.jpeg', '.bmp', '.tif', '.tiff', '.webp', '.ppm', '.pgm')


def _is_int(value):
    return isinstance(value, int) and not isinstance(value, bool)


def _is_number(value):
    return isinstance(value, numbers.Real) and not isinstance(value, bool)


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
    if opt.get('manual_seed') is not None and not _is_int(opt['manual_seed']):
        c.fail('manual_seed', f'expected an integer, got {opt["manual_seed"]!r}')
    for phase in c.mapping(opt, 'datasets', 'datasets'):
        c.mapping(opt['datasets'], phase, f'datasets.{phase}')
    for key, value in c.mapping(opt, 'path', 'path').items():
        if (key.startswith('pretrain_network') or key == 'resume_state') and not isinstance(value, (str, type(None))):
            c.fail(f'path.{key}', f'expected a file path or ~, got {value!r}')
    if is_train:
        c.mapping(opt, 'logger', 'logger')
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
    from basicsr.utils.registry import DATASET_REGISTRY, LOSS_REGISTRY, METRIC_REGISTRY, MODEL_REGISTRY
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
        _check_train(c, opt, LOSS_REGISTRY)
        logger = c.mapping(opt, 'logger', 'logger')
        c.positive_int(logger, 'print_freq', 'logger.print_freq')
        c.positive_number(logger, 'save_checkpoint_freq', 'logger.save_checkpoint_freq')
    val = c.mapping(opt, 'val', 'val', required=False)
    if val and is_train:
        c.positive_number(val, 'val_freq', 'val.val_freq')
    for name, metric in c.mapping(val, 'metrics', 'val.metrics', required=False).items():
        c.choice(c.mapping(val['metrics'], name, f'val.metrics.{name}'), 'type', f'val.metrics.{name}.type',
                 set(METRIC_REGISTRY._obj_map))
    for key, value in (opt.get('path') or {}).items():
        if key.startswith('pretrain_network') and value is not None and not osp.isfile(str(value)):
            c.fail(f'path.{key}', f'{value} is not a file')
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
    return nets


def _check_dataset(c, phase, dataset_opt, scale, is_train, registry):
    field = f'datasets.{phase}'
    if is_train and phase != 'train' and not phase.startswith('val'):
        c.fail(field, "phase names are 'train' and 'val...' in a training option file")
    dataset_opt = c.mapping({phase: dataset_opt}, phase, field)
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
        c.positive_int(dataset_opt, 'num_worker_per_gpu', f'{field}.num_worker_per_gpu', minimum=0)
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
    if io_type == 'disk':
        if not any(f.lower().endswith(IMAGE_EXTENSIONS) for f in os.listdir(folder)):
            c.fail(field, f'{folder} holds no image')
        return
    meta = osp.join(folder, 'meta_info.txt')
    if not osp.isfile(osp.join(folder, 'data.mdb')) or not osp.isfile(meta):
        c.fail(field, f'{folder} is not an LMDB made by tools/prepare_data.py (no data.mdb or meta_info.txt)')
    with open(meta) as f:
        if not any(line.strip() for line in f):
            c.fail(field, f'{folder}/meta_info.txt lists no image: an empty LMDB')


def _check_samples(c, field, dataset_opt, phase, scale):
    """Build the dataset and read its first sample: corrupt LMDBs, unreadable images, patch sizes."""
    from basicsr.data import build_dataset
    opt = dict(copy.deepcopy(dataset_opt), phase=phase, scale=scale)
    try:
        dataset = build_dataset(opt)
        if len(dataset) == 0:
            c.fail(field, 'no samples (is the LMDB or folder empty, or are GT and LQ names different?)')
        batch = opt.get('batch_size_per_gpu', 1) if phase == 'train' else 1
        if len(dataset) * opt.get('dataset_enlarge_ratio', 1) < batch:
            c.fail(f'{field}.batch_size_per_gpu', f'{batch} is more than the {len(dataset)} samples')
        dataset[0]
    except ToolError:
        raise
    except Exception as exc:  # what the dataset classes raise on bad data: asserts, ValueError, cv2 and lmdb errors
        c.fail(field, f'cannot read the data: {one_line(exc)}')
    finally:
        _close_lmdb(locals().get('dataset'))


def _close_lmdb(dataset):
    """Close the LMDB environments a dataset opened, so that training can open them again."""
    base = getattr(dataset, 'base', dataset)
    client = getattr(base, 'file_client', None)
    for env in getattr(getattr(client, 'client', None), '_client', {}).values():
        env.close()
    if client is not None:  # basicsr pops the backend type when it first opens the files: give it back
        base.io_backend_opt['type'] = client.backend
        base.file_client = None


def _check_train(c, opt, loss_registry):
    train = c.mapping(opt, 'train', 'train')
    total = c.positive_int(train, 'total_iter', 'train.total_iter')
    optim = c.mapping(train, 'optim_g', 'train.optim_g')
    c.choice(optim, 'type', 'train.optim_g.type', ('Adam', 'AdamW', 'SGD', 'Adamax', 'RMSprop', 'ASGD', 'Adadelta',
                                                    'Adagrad', 'SparseAdam', 'LBFGS', 'Rprop'))
    c.positive_number(optim, 'lr', 'train.optim_g.lr')
    for key in ('scheduler', 'scheduler_c'):
        sched = c.mapping(train, key, f'train.{key}', required=key == 'scheduler')
        if sched:
            c.choice(sched, 'type', f'train.{key}.type', SCHEDULERS)
            periods = sched.get('periods')
            if sched['type'] == 'CosineAnnealingRestartLR':
                if not isinstance(periods, list) or not periods or not all(_is_int(p) and p > 0 for p in periods):
                    c.fail(f'train.{key}.periods', f'expected a list of positive integers, got {periods!r}')
                if sum(periods) < total:
                    c.fail(f'train.{key}.periods', f'they add up to {sum(periods)}, fewer than train.total_iter '
                           f'({total}); the cosine schedule would fail past their end: raise both together')
    ema = train.get('ema_decay', 0)
    if not _is_number(ema) or not 0 <= ema < 1:
        c.fail('train.ema_decay', f'expected a number in [0, 1), got {ema!r}')
    pixel = c.mapping(train, 'pixel_opt', 'train.pixel_opt', required=False)
    if not pixel and not train.get('perceptual_opt'):
        c.fail('train.pixel_opt', 'missing: SRModel needs a pixel or perceptual loss')
    if pixel:
        c.choice(pixel, 'type', 'train.pixel_opt.type', set(loss_registry._obj_map))
        c.positive_number(pixel, 'loss_weight', 'train.pixel_opt.loss_weight')


def _check_search(c, opt, nets):
    from hnas_basicsr.models.hnas_search_model import search_options
    try:
        search_options(opt)
    except ValueError as exc:
        raise ToolError(f'{c.path}: {exc}') from None
    if type(nets['network_g']).__name__ != 'HNASSuperNet':
        c.fail('network_g.type', f'the search needs HNASSuperNet, got {opt["network_g"]["type"]!r}')
    if 'network_c' not in nets or type(nets['network_c']).__name__ != 'HNASController':
        c.fail('network_c', 'the search needs an HNASController')
    layers_g, layers_c = nets['network_g'].hparams['num_layers'], nets['network_c'].num_layers
    if layers_g != layers_c:
        c.fail('network_c.num_layers', f'expected the supernet\'s num_layers ({layers_g}), got {layers_c}')
    if opt['datasets']['train'].get('type') != 'HNASSplitDataset':
        c.fail('datasets.train.type', f'the search needs HNASSplitDataset, got {opt["datasets"]["train"]["type"]!r}')
