"""The changes to basicsr 1.4.2 that a registered class cannot make, applied only while an entry point runs.

basicsr's train and test pipelines call module-level functions, so these replace them (never in site-packages),
and :func:`applied` puts basicsr's own back on exit:

* ``basicsr.train.parse_options`` and ``basicsr.test.parse_options``: the option file is read as UTF-8 with YAML's
  safe loader and its structure checked first; relative dataset, pretrained-network and resume-state paths that do
  not exist from the current directory are looked up under the root; ``model_type: SRModel`` and
  ``type: PairedImageDataset`` become their checked subclasses (:data:`CHECKED_CLASSES`); the options are checked
  (:mod:`hnas_basicsr.validation`) before anything is written.
* ``basicsr.utils.options.ordered_yaml``: basicsr's parser loads with YAML's full Loader, which runs Python tags;
  here SafeLoader (the check above already refused them; this keeps basicsr's own read safe too).
* ``basicsr.utils.options.init_dist``: basicsr's launchers hard-code nccl and divide by the GPU count; here the
  options' ``dist_params.backend`` (gloo on CPUs) (:func:`hnas_basicsr.distributed.init_dist`).
* ``basicsr.train.load_resume_state``: basicsr maps the state to ``torch.cuda.current_device()`` (fails on CPUs),
  unpickles anything, and ``--auto_resume`` looks in ``experiments/`` of the current directory (from elsewhere it
  silently starts over); here the state loads on the CPU with ``weights_only=True``, from under the root.
"""
import contextlib
import sys
import warnings
from collections import OrderedDict
from os import path as osp

from hnas_basicsr import distributed
from hnas_basicsr.cli import ToolError, load_yaml
from hnas_basicsr.runtime import resolve_paths
from hnas_basicsr.validation import check_options, check_structure

BASICSR_VERSION = '1.4.2'  # the version whose functions these replace
CHECKED_CLASSES = {'SRModel': 'HNASSRModel', 'PairedImageDataset': 'HNASPairedImageDataset'}


def use_checked_classes(opt):
    """``model_type``, dataset ``type`` and ``base_type`` naming basicsr's SRModel or PairedImageDataset: their
    subclasses of this plugin (same options; atomic saves, safe loading, one-line errors)."""
    for parent, key in [(opt, 'model_type')] + [(dataset, key) for dataset in (opt.get('datasets') or {}).values()
                                                 if isinstance(dataset, dict) for key in ('type', 'base_type')]:
        if isinstance(parent.get(key), str) and parent[key] in CHECKED_CLASSES:
            parent[key] = CHECKED_CLASSES[parent[key]]
    return opt


def _argv_option_file():
    """The ``-opt`` argument of the command line (basicsr's parser requires it; it reports its absence)."""
    argv = sys.argv[1:]
    return argv[argv.index('-opt') + 1] if '-opt' in argv[:-1] else None


def parse_options(root_path, is_train=True):
    """basicsr's ``parse_options`` with the checks, paths and classes above."""
    from basicsr.utils import options
    opt_file = _argv_option_file()
    if opt_file is not None:
        raw = load_yaml(opt_file)
        check_structure(raw, opt_file, is_train)
        distributed.use_options(raw)
    opt, args = options.parse_options(root_path, is_train)
    use_checked_classes(resolve_paths(opt, root_path))
    check_options(opt, opt_file, is_train)
    return opt, args


def safe_ordered_yaml():
    """basicsr's ``ordered_yaml`` on yaml.SafeLoader."""
    import yaml

    class Loader(yaml.SafeLoader):
        pass

    Loader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG,
                           lambda loader, node: OrderedDict(loader.construct_pairs(node)))
    return Loader, yaml.SafeDumper


def load_resume_state(opt):
    """basicsr.train.load_resume_state, on any device, safely, and from any current directory."""
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
    if not isinstance(state, dict) or not isinstance(state.get('iter'), int) or not isinstance(
            state.get('optimizers'), list) or not isinstance(state.get('schedulers'), list):
        raise ToolError(f'{path}: not a training state (expected iter, optimizers and schedulers)')
    check_resume(opt, state['iter'])
    return state


def _replacements():
    import basicsr
    import basicsr.test
    import basicsr.train
    from basicsr.utils import options
    if basicsr.__version__ != BASICSR_VERSION:
        warnings.warn(f'hnas_basicsr patches functions of basicsr {BASICSR_VERSION}; this is basicsr '
                      f'{basicsr.__version__}: check hnas_basicsr/patches.py against it', stacklevel=3)
    replacements = [(basicsr.train, 'parse_options', parse_options), (basicsr.test, 'parse_options', parse_options),
                    (basicsr.train, 'load_resume_state', load_resume_state),
                    (options, 'ordered_yaml', safe_ordered_yaml), (options, 'init_dist', distributed.init_dist)]
    for module, name, _ in replacements:
        if not callable(getattr(module, name, None)):
            raise RuntimeError(f'basicsr {basicsr.__version__} has no {module.__name__}.{name}: hnas_basicsr needs '
                               f'basicsr {BASICSR_VERSION}')
    return replacements


@contextlib.contextmanager
def applied():
    """basicsr with the replacements above inside the ``with`` block; basicsr's own functions again after it."""
    replacements = _replacements()
    originals = [(module, name, getattr(module, name)) for module, name, _ in replacements]
    for module, name, function in replacements:
        setattr(module, name, function)
    try:
        yield
    finally:
        for module, name, function in originals:
            setattr(module, name, function)
