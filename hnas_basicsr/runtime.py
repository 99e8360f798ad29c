"""What the plugin's entry points change in basicsr 1.4.2 at run time (never in site-packages).

* Resume on CPU: basicsr maps the resume state to ``torch.cuda.current_device()``; here it is mapped
  to the device the options ask for, and loaded with ``weights_only=True``.
* Resume from any current directory: basicsr looks for ``experiments/<name>/training_states``
  relative to the current directory (from elsewhere it silently starts over); here it looks under
  the root that the experiments are written to.
* Crash-safe checkpoints: basicsr writes ``net_*.pth`` and ``*.state`` in place (a kill mid-write leaves a
  corrupt file that auto-resume then loads); here they are written to a temporary file and renamed.
* Non-finite updates: a NaN/Inf loss or gradient skips the optimizer step (logged and counted) instead of
  reaching the weights (SRModel's ``optimizer_g``; the search model guards its own optimizers).
* Relative dataset, pretrained-network and resume-state paths that do not exist from the current directory
  are looked up under the root too, so the shipped option files run from anywhere.
"""
import os
import sys
from os import path as osp

import hnas_basicsr  # noqa: F401  (torchvision alias before basicsr is imported)

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


def check_dataset_paths(opt):
    """Stop with one line naming the missing folder and the command that prepares it."""
    for phase, dataset in (opt.get('datasets') or {}).items():
        for key in ('dataroot_gt', 'dataroot_lq'):
            folder = dataset.get(key)
            if isinstance(folder, str) and not osp.exists(folder):
                hint = ('python tools/prepare_data.py' if 'skimage' in folder else
                        'python tools/prepare_data.py <folder of HR images> --out <dataset folder>')
                sys.exit(f'hnas_basicsr: datasets.{phase}.{key}: {folder} does not exist; prepare the data first: '
                         f'{hint}')


def device_of(opt):
    import torch
    return torch.device('cuda' if opt.get('num_gpu', 0) != 0 and torch.cuda.is_available() else 'cpu')


def load_resume_state(opt):
    """basicsr.train.load_resume_state, on any device and from any current directory."""
    import torch
    from basicsr.utils import check_resume, scandir
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
    state = torch.load(path, map_location=device_of(opt), weights_only=True)
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


def patch_basicsr():
    """Install the changes above in basicsr's train and test pipelines (idempotent)."""
    import basicsr.test
    import basicsr.train
    from basicsr.models import base_model, sr_model
    from basicsr.utils import options

    from hnas_basicsr.models.finite_updates import guard_optimizer

    base_model.torch = _AtomicSaveTorch()
    if not hasattr(sr_model.SRModel, 'unguarded_setup_optimizers'):
        sr_model.SRModel.unguarded_setup_optimizers = sr_model.SRModel.setup_optimizers

        def setup_optimizers(self):
            self.unguarded_setup_optimizers()
            guard_optimizer(self.optimizer_g, 'network_g')

        sr_model.SRModel.setup_optimizers = setup_optimizers

    def parse_options(root_path, is_train=True):
        opt, args = options.parse_options(root_path, is_train)
        resolve_paths(opt, root_path)
        check_dataset_paths(opt)
        return opt, args

    for module in (basicsr.train, basicsr.test):
        module.parse_options = parse_options
    basicsr.train.load_resume_state = load_resume_state
