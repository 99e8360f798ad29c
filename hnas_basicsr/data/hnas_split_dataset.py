"""HNASSplitDataset: the weight split or the controller split of a training set, split by source image."""
import copy
import random
import re
from os import path as osp

from basicsr.utils.registry import DATASET_REGISTRY
from torch.utils import data

_SUB_IMAGE = re.compile(r'_s\d+$')
SPLITS = ('weights', 'controller')
SPLIT_KEYS = ('split', 'weights_ratio', 'split_seed', 'base_type')  # HNASSplitDataset's own options
_BASES = {}  # one wrapped dataset per options: an LMDB cannot be opened twice in one process


def base_options(opt):
    """The options of the dataset that HNASSplitDataset options wrap: its own keys dropped, ``type`` its
    ``base_type``."""
    base_opt = {k: v for k, v in copy.deepcopy(opt).items() if k not in SPLIT_KEYS}
    base_opt['type'] = opt.get('base_type', 'HNASPairedImageDataset')
    return base_opt


def controller_split(opt):
    """The options of the controller split of a training set given by HNASSplitDataset options.

    Raises:
        ValueError: If ``opt`` are not HNASSplitDataset options.
    """
    if not isinstance(opt, dict) or opt.get('type') != 'HNASSplitDataset':
        found = opt.get('type') if isinstance(opt, dict) else opt
        raise ValueError('datasets.train.type: the search needs HNASSplitDataset (weight and controller splits of '
                         f'the training images; architectures are scored on the controller split), got {found!r}')
    return dict(copy.deepcopy(opt), split='controller')


def _base_dataset(opt):
    base_opt = base_options(opt)
    base_opt.pop('name', None)  # both splits of one training set share the wrapped dataset
    key = repr(sorted(base_opt.items()))
    if key not in _BASES:
        _BASES[key] = DATASET_REGISTRY.get(base_opt['type'])(base_opt)
    return _BASES[key]


def release_base_datasets():
    """Close the LMDB environments of the shared wrapped datasets and forget them (e.g. between two runs)."""
    for base in _BASES.values():
        close_files(base)
    _BASES.clear()


def close_files(dataset):
    """Close the LMDB environments a basicsr dataset has opened; it reopens them when next read."""
    client = getattr(dataset, 'file_client', None)
    for env in getattr(getattr(client, 'client', None), '_client', {}).values():
        env.close()
    if client is not None:  # basicsr pops the backend type when it first opens the files: give it back
        dataset.io_backend_opt['type'] = client.backend
        dataset.file_client = None


def source_image(path: str) -> str:
    """The image a sample comes from: its file name (or LMDB key) without extension and ``_sNNN`` suffix."""
    return _SUB_IMAGE.sub('', osp.splitext(osp.basename(path))[0])


@DATASET_REGISTRY.register()
class HNASSplitDataset(data.Dataset):
    """One part of a paired training set, for the two data splits of HNAS's Algorithm 1.

    The source images are shuffled with ``split_seed`` and the first ``weights_ratio`` of them (the
    paper: 40%) form the ``weights`` split, the rest the ``controller`` split. Sub-images of one
    image always fall in the same split, so the controller is rewarded on images the weights
    never saw. Every other key is passed to the wrapped dataset; both splits of one training set share
    one wrapped dataset (and so one LMDB environment).

    Args:
        opt (dict): ``split`` ('weights' or 'controller'), ``weights_ratio`` (default 0.4),
            ``split_seed`` (default 0), ``base_type`` (default 'HNASPairedImageDataset') and
            the options of the wrapped dataset.
    """

    def __init__(self, opt):
        super().__init__()
        self.opt = opt
        split, ratio = opt.get('split', 'weights'), opt.get('weights_ratio', 0.4)
        if split not in SPLITS:
            raise ValueError(f'HNASSplitDataset.split: expected one of {", ".join(SPLITS)}, got {split!r}')
        if not isinstance(ratio, (int, float)) or not 0 < ratio < 1:
            raise ValueError(f'HNASSplitDataset.weights_ratio: expected a number in (0, 1), got {ratio!r}')
        self.base = _base_dataset(opt)
        sources = sorted({source_image(p['gt_path']) for p in self.base.paths})
        if len(sources) < 2:
            raise ValueError(f'HNASSplitDataset: {opt.get("dataroot_gt")} holds {len(sources)} source image(s); '
                             'the weight and controller splits need at least 2')
        random.Random(opt.get('split_seed', 0)).shuffle(sources)
        cut = min(max(1, round(ratio * len(sources))), len(sources) - 1)
        chosen = set(sources[:cut] if split == 'weights' else sources[cut:])
        self.sources = sorted(chosen)
        self.indices = [i for i, p in enumerate(self.base.paths) if source_image(p['gt_path']) in chosen]

    def __len__(self):
        return len(self.indices)

    def __getitem__(self, index):
        return self.base[self.indices[index]]
