"""HNASPairedImageDataset: basicsr's PairedImageDataset with bad data reported in one line."""
from os import path as osp

from basicsr.data.paired_image_dataset import PairedImageDataset
from basicsr.utils.registry import DATASET_REGISTRY

from hnas_basicsr.cli import ToolError, one_line


def check_lmdb(folder):
    """Refuse an LMDB that cannot be read safely: not an LMDB, or ``data.mdb`` shorter than its pages (reading
    a truncated LMDB maps missing pages and ends the process with SIGBUS, without a message)."""
    import lmdb
    try:
        with lmdb.open(folder, readonly=True, lock=False, readahead=False) as env:
            needed = (env.info()['last_pgno'] + 1) * env.stat()['psize']
    except lmdb.Error as exc:
        raise ToolError(f'{folder}: not a readable LMDB ({one_line(exc)})') from None
    size = osp.getsize(osp.join(folder, 'data.mdb'))
    if size < needed:
        raise ToolError(f'{folder}: truncated LMDB: data.mdb holds {size} bytes, its pages need {needed}; '
                        'make it again (python tools/prepare_data.py ... --overwrite)')


@DATASET_REGISTRY.register()
class HNASPairedImageDataset(PairedImageDataset):
    """basicsr's PairedImageDataset (same options), except that a truncated or foreign LMDB is refused when the
    dataset is built, and an unreadable sample is a ToolError naming its files.

    Under the plugin's entry points, option files with ``type: PairedImageDataset`` use this dataset.
    """

    def __init__(self, opt):
        if (opt.get('io_backend') or {}).get('type') == 'lmdb':
            for key in ('dataroot_gt', 'dataroot_lq'):
                check_lmdb(opt[key])
        super().__init__(opt)

    def __getitem__(self, index):
        try:
            return super().__getitem__(index)
        except Exception as exc:  # cv2 and lmdb errors, or None images failing later in basicsr
            paths = self.paths[index % len(self.paths)]
            name = self.opt.get('name') or self.opt.get('dataroot_gt')
            raise ToolError(f'datasets ({name}): cannot read sample {paths["gt_path"]} / {paths["lq_path"]}: '
                            f'{one_line(exc)}') from None
