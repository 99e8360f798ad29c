"""Shared test set-up: CPU only, few threads, the plugin registered; a run root with tiny prepared data."""
import cv2
import numpy as np
import pytest
import torch

import hnas_basicsr  # noqa: F401  (registers the plugin; before basicsr)
from hnas_basicsr.tools import prepare_data
from synthetic import synthetic_image
from tiny_options import SINGLE, TINY

torch.set_num_threads(2)


@pytest.fixture(scope='module')
def root(tmp_path_factory):
    """A run root ($HNAS_ROOT) with tiny prepared data sets under ``datasets/`` (see tiny_options) and an empty
    ``options/`` folder."""
    root = tmp_path_factory.mktemp('root')
    rng = np.random.default_rng(0)
    for name, count, size in ((TINY, 5, (48, 60)), (SINGLE, 3, (24, 24))):
        src = tmp_path_factory.mktemp('hr')
        for i in range(count):
            cv2.imwrite(str(src / f'img{i}.png'), synthetic_image(rng, *size))
        argv = [str(src), '--out', str(root / name), '--scales', '2', '--crop-size', '24', '--step', '12',
                '--holdout', '1']
        assert prepare_data.main(argv) == 0
    (root / 'options').mkdir()
    return root
