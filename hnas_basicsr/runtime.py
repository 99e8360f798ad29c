"""What the plugin's entry points change in basicsr 1.4.2 at run time (never in site-packages).

* Resume on CPU: basicsr maps the resume state to ``torch.cuda.current_device()``; here it is loaded on
  the CPU with ``weights_only=True`` (optimizers move their state to the parameters' device).
* Resume from any current directory: basicsr looks for ``experiments/<name>/training_states``
  relative to the current directory (from elsewhere it silently starts over); here it looks under
  the root that the experiments are written to.
* Crash-safe checkpoints: basicsr writes ``net_*.pth`` and ``*.state`` in place (a kill mid-write leaves a
  corrupt file that auto-resume then loads); here they are written to a temporary file and renamed.
* Non-finite updates: a NaN/Inf loss or gradient skips the optimizer step (logged and counted) instead of
  reaching the weights (SRModel's ``optimizer_g``; the search model guards its own optimizers).
* Distributed runs: basicsr's launchers use ``dist_params.backend`` (gloo on CPUs) and CPU DDP works
  (:mod:`hnas_basicsr.distributed`).
* Relative dataset, pretrained-network and resume-state paths that do not exist from the current directory
  are looked up under the root too, so the shipped option files run from anywhere.
* Safe input: option files are read with YAML's safe loader (basicsr's own runs Python tags), checkpoints with
  ``weights_only=True``; the options are checked (:mod:`hnas_basicsr.validation`) before anything is written,
  and user errors (bad options, unsafe or mismatched checkpoints, unreadable images) end in one line.
"""
import os
import sys
from collections import OrderedDict
from os import path as osp

import hnas_basicsr  # noqa: F401  (torchvision alias before basicsr is imported)
from hnas_basicsr import distributed
from hnas_basicsr.allocator import reuse_freed_memory
from hnas_basicsr.cli import ToolError, load_yaml, one_line
from hnas_basicsr.validation import check_options, check_structure

_PATH_KEYS = ('dataroot_gt', 'dataroot_lq', 'meta_info_file')


def project_root() -> str:
    """Where ``experiments/``, ``results/`` and ``tb_logger/`` go: $HNAS_ROOT, else the source checkout."""
    return osp.abspath(os.environ.get('HNAS_ROOT') or osp.join(osp.dirname(osp.abspath(__file__)), osp.pardir))


def _resolve(value, root):
    if isinstance(value, str) and not osp.isabs(value) and not osp.exists(value):
        candidate = osp.join(root, value)
        if osp.exists(candidate):
            return candidate
    return value


def resolve_paths(opt, root):
    """Relative dataset, pretrained-network and resume-state paths missing from the current directory: under ``root``.

    A path found in neither place is left as the options give it (so errors name that path).
    """
    for dataset in (opt.get('datasets') or {}).values():
        for key in _PATH_KEYS:
            if key in dataset:
                dataset[key] = _resolve(dataset[key], root)
    paths = opt.get('path') or {}
    for key in paths:
        if key.startswith('pretrain_network') or key == 'resume_state':
            paths[key] = _resolve(paths[key], root)
    return opt


def load_resume_state(opt):
    """basicsr.train.load_resume_state, on any device and from any current directory."""
    from basicsr.utils import check_resume, scandir

    from hnas_basicsr.networks import load_checkpoint
    path = None
    if opt['auto_resume']:
        state_dir = osp.join(opt['root_path'], 'experiments', opt['name'], 'training_states')
        if osp.isdir(state_dir):
            iters = [int(v.split('.state')[0]) for v in scandir(state_dir, suffix='state', recursive=False)
                     if v.split('.state')[0].isdigit()]
            if iters:
                path = osp.join(state_dir, f'{max(iters)}.state')
                opt['path']['resume_state'] = path
    elif opt['path'].get('resume_state'):
        path = opt['path']['resume_state']
    if path is None:
        return None
    state = load_checkpoint(path)
    check_resume(opt, state['iter'])
    return state


class _AtomicSaveTorch:
    """``torch`` as basicsr's BaseModel sees it, with ``save`` made atomic."""

    def __getattr__(self, name):
        import torch
        return getattr(torch, name)

    @staticmethod
    def save(obj, path):
        from hnas_basicsr.networks import save_atomic
        save_atomic(obj, path)


def _argv_option_file():
    """The ``-opt`` argument of the command line (basicsr's parser requires it; it reports its absence)."""
    argv = sys.argv[1:]
    return argv[argv.index('-opt') + 1] if '-opt' in argv[:-1] else None


def _safe_ordered_yaml():
    """basicsr's ``ordered_yaml`` on yaml.SafeLoader: its own uses yaml's full Loader, which runs Python tags."""
    import yaml

    class Loader(yaml.SafeLoader):
        pass

    Loader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG,
                           lambda loader, node: OrderedDict(loader.construct_pairs(node)))
    return Loader, yaml.SafeDumper


def _load_network(self, net, load_path, strict=True, param_key='params'):
    """BaseModel.load_network with safe loading and one-line errors (another architecture, unsafe file)."""
    from basicsr.utils import get_root_logger

    from hnas_basicsr.networks import load_weights
    net = self.get_bare_model(net)
    get_root_logger().info(f'Loading {type(net).__name__} model from {load_path}, with param key: [{param_key}].')
    load_weights(net, load_path, param_key or 'params', strict)


def _checked_getitem(self, index):
    """PairedImageDataset.__getitem__ with unreadable images reported in one line."""
    try:
        return self.unchecked_getitem(index)
    except Exception as exc:  # cv2 and lmdb errors, or None images failing later in basicsr
        paths = self.paths[index % len(self.paths)] if getattr(self, 'paths', None) else {}
        where = f'{paths.get("gt_path")} / {paths.get("lq_path")}' if isinstance(paths, dict) else index
        name = self.opt.get('name') or self.opt.get('dataroot_gt')
        raise ToolError(f'datasets ({name}): cannot read sample {where}: {one_line(exc)}') from None


def patch_basicsr():
    """Install the changes above in basicsr's train and test pipelines (idempotent)."""
    import basicsr.test
    import basicsr.train
    from basicsr.data.paired_image_dataset import PairedImageDataset
    from basicsr.models import base_model, sr_model
    from basicsr.utils import options

    from hnas_basicsr.models.finite_updates import guard_optimizer

    base_model.torch = _AtomicSaveTorch()
    base_model.BaseModel.model_to_device = distributed.model_to_device
    options.init_dist = distributed.init_dist
    base_model.BaseModel.load_network = _load_network
    options.ordered_yaml = _safe_ordered_yaml
    if not hasattr(PairedImageDataset, 'unchecked_getitem'):
        PairedImageDataset.unchecked_getitem = PairedImageDataset.__getitem__
        PairedImageDataset.__getitem__ = _checked_getitem
    if not hasattr(sr_model.SRModel, 'unguarded_setup_optimizers'):
        sr_model.SRModel.unguarded_setup_optimizers = sr_model.SRModel.setup_optimizers

        def setup_optimizers(self):
            self.unguarded_setup_optimizers()
            guard_optimizer(self.optimizer_g, 'network_g')

        sr_model.SRModel.setup_optimizers = setup_optimizers

    def parse_options(root_path, is_train=True):
        opt_file = _argv_option_file()
        if opt_file is not None:
            raw = load_yaml(opt_file)
            check_structure(raw, opt_file, is_train)
            distributed.use_options(raw)
        opt, args = options.parse_options(root_path, is_train)
        resolve_paths(opt, root_path)
        check_options(opt, opt_file, is_train)
        return opt, args

    for module in (basicsr.train, basicsr.test):
        module.parse_options = parse_options
    basicsr.train.load_resume_state = load_resume_state


def run(pipeline):
    """Run basicsr's train or test pipeline with the changes above; user errors end in one line, exit status 2."""
    patch_basicsr()
    reuse_freed_memory()
    try:
        pipeline(project_root())
    except ToolError as exc:
        message = str(exc).strip()
        if message.startswith('Caught '):  # raised in a DataLoader worker: the original message is the last line
            message = message.splitlines()[-1].split('ToolError: ', 1)[-1]
        print(f'hnas_basicsr: error: {message}', file=sys.stderr, flush=True)
        sys.exit(2)
