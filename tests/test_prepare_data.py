"""hnas_basicsr.tools.prepare_data (tools/prepare_data.py, hnas-prepare-data): paired HR/LR images, aligned sub-images, LMDBs, holdout, re-runs and errors."""
import os
import subprocess
import sys

import hnas_basicsr  # noqa: F401  (registers the plugin; before basicsr)
import cv2
import numpy as np
import pytest
from basicsr.data.paired_image_dataset import PairedImageDataset
from basicsr.utils.file_client import LmdbBackend
from basicsr.utils.matlab_functions import imresize

from hnas_basicsr.tools import prepare_data

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
TOOL = os.path.join(ROOT, 'tools', 'prepare_data.py')

SUB = ['--crop-size', '24', '--step', '12']
SIZES = {'a': (65, 77), 'b': (60, 72), 'c': (60, 72)}  # a is modcropped to 60x72


def make_images(folder):
    """Three random RGB images and one grayscale image (d_gray), as PNG files."""
    rng = np.random.default_rng(0)
    os.makedirs(folder)
    for name, (h, w) in SIZES.items():
        cv2.imwrite(os.path.join(folder, f'{name}.png'), rng.integers(0, 256, (h, w, 3), dtype=np.uint8))
    cv2.imwrite(os.path.join(folder, 'd_gray.png'), rng.integers(0, 256, (60, 72), dtype=np.uint8))
    return folder


def run(src, out, *extra):
    return prepare_data.main([str(src), '--out', str(out), *SUB, *extra])


def read(*parts):
    return cv2.imread(os.path.join(*map(str, parts)), cv2.IMREAD_UNCHANGED)


def pngs(folder):
    return sorted(f[:-4] for f in os.listdir(folder) if f.endswith('.png'))


def mtimes(folder):
    return {os.path.join(d, f): os.stat(os.path.join(d, f)).st_mtime_ns for d, _, fs in os.walk(folder) for f in fs}


@pytest.fixture(scope='module')
def prepared(tmp_path_factory):
    """Outputs of one run on the test images, with one image held out."""
    tmp = tmp_path_factory.mktemp('prepared')
    src = make_images(str(tmp / 'hr'))
    assert run(src, tmp / 'out', '--holdout', '1') == 0
    return tmp / 'out'


def test_gt_is_modcropped_to_12_and_lr_is_exactly_gt_over_scale(prepared):
    for name in ('a', 'b', 'c'):
        assert read(prepared, 'GTmod12', f'{name}.png').shape == (60, 72, 3)
        for s in (2, 3, 4):
            assert read(prepared, f'LRbicx{s}', f'{name}.png').shape == (60 // s, 72 // s, 3)


def test_lr_is_rounded_and_clipped_matlab_bicubic_of_gt(prepared):
    gt = read(prepared, 'GTmod12', 'a.png')
    for s in (2, 3, 4):
        expected = np.clip(np.round(imresize(gt.astype(np.float32) / 255., 1 / s) * 255.), 0, 255).astype(np.uint8)
        np.testing.assert_array_equal(read(prepared, f'LRbicx{s}', 'a.png'), expected)


def test_grayscale_input_becomes_three_equal_channels(tmp_path):
    src = make_images(str(tmp_path / 'hr'))
    assert run(src, tmp_path / 'out', '--no-sub-images', '--scales', '2') == 0
    gt = read(tmp_path / 'out', 'GTmod12', 'd_gray.png')
    assert gt.shape == (60, 72, 3) and (gt == gt[..., :1]).all()


def test_whole_image_sets_keep_the_uncropped_hr_with_grayscale_single_channel(tmp_path):
    src = make_images(str(tmp_path / 'hr'))
    assert run(src, tmp_path / 'out', '--no-sub-images', '--scales', '2') == 0
    np.testing.assert_array_equal(read(tmp_path / 'out', 'HR', 'a.png'), read(src, 'a.png'))  # 65x77: not cropped
    np.testing.assert_array_equal(read(tmp_path / 'out', 'HR', 'd_gray.png'), read(src, 'd_gray.png'))  # 60x72


def test_only_whole_image_sets_get_hr(prepared):
    assert pngs(prepared / 'val' / 'HR') == ['d_gray'] and not os.path.exists(prepared / 'HR')


def test_out_in_an_input_folder_is_refused(tmp_path, capsys):
    src = make_images(str(tmp_path / 'Set' / 'HR'))
    assert prepare_data.main([src, '--out', str(tmp_path / 'Set'), '--no-sub-images']) == 2
    err = capsys.readouterr().err
    assert 'would overwrite the inputs' in err and err.count('\n') == 1
    assert pngs(src) == ['a', 'b', 'c', 'd_gray'] and not os.path.exists(tmp_path / 'Set' / 'GTmod12')


def test_crops_step_across_and_include_the_border_crop():
    assert prepare_data.crop_positions(60, 24, 12) == [0, 12, 24, 36]
    assert prepare_data.crop_positions(60, 24, 24) == [0, 24, 36]
    assert prepare_data.crop_positions(20, 24, 12) == []


def test_sub_images_are_aligned_crops_of_gt_and_lr(prepared):
    names = pngs(prepared / 'GTmod12_sub')
    assert names == [f'{n}_s{i:03d}' for n in ('a', 'b', 'c') for i in range(1, 21)]  # 4 x 5 crops of 60x72
    gt = read(prepared, 'GTmod12', 'b.png')
    np.testing.assert_array_equal(read(prepared, 'GTmod12_sub', 'b_s020.png'), gt[36:60, 48:72])
    for s in (2, 3, 4):
        assert pngs(prepared / f'LRbicx{s}_sub') == names
        lr = read(prepared, f'LRbicx{s}', 'b.png')
        np.testing.assert_array_equal(read(prepared, f'LRbicx{s}_sub', 'b_s020.png'),
                                      lr[36 // s:60 // s, 48 // s:72 // s])
        assert read(prepared, f'LRbicx{s}_sub', 'a_s001.png').shape == (24 // s, 24 // s, 3)


def test_lmdb_meta_info_lists_every_sub_image_and_lmdb_backend_reads_them(prepared):
    names = pngs(prepared / 'GTmod12_sub')
    for folder in ('GTmod12_sub', 'LRbicx2_sub', 'LRbicx3_sub', 'LRbicx4_sub'):
        lmdb_path = str(prepared / f'{folder}.lmdb')
        assert prepare_data.lmdb_keys(lmdb_path) == names
        backend = LmdbBackend(lmdb_path)
        for key in names:
            img = cv2.imdecode(np.frombuffer(backend.get(key, 'default'), np.uint8), cv2.IMREAD_UNCHANGED)
            np.testing.assert_array_equal(img, read(prepared, folder, f'{key}.png'))
        backend._client['default'].close()  # one open environment per path and process


def test_paired_image_dataset_loads_the_lmdbs(prepared):
    names = pngs(prepared / 'GTmod12_sub')
    dataset = PairedImageDataset({'phase': 'val', 'scale': 3, 'io_backend': {'type': 'lmdb'},
                                  'dataroot_gt': str(prepared / 'GTmod12_sub.lmdb'),
                                  'dataroot_lq': str(prepared / 'LRbicx3_sub.lmdb')})
    assert len(dataset) == len(names) and tuple(dataset[0]['lq'].shape) == (3, 8, 8)


def test_held_out_image_is_only_in_val(prepared):
    for root in ('', 'val/'):
        for folder in ('GTmod12', 'LRbicx2', 'LRbicx3', 'LRbicx4'):
            assert pngs(prepared / f'{root}{folder}') == (['d_gray'] if root else ['a', 'b', 'c'])
    assert not any(n.startswith('d_gray') for n in pngs(prepared / 'GTmod12_sub'))
    assert 'd_gray_s001' not in prepare_data.lmdb_keys(str(prepared / 'LRbicx4_sub.lmdb'))


def test_rerun_without_overwrite_keeps_every_file(tmp_path, capsys):
    src = make_images(str(tmp_path / 'hr'))
    assert run(src, tmp_path / 'out') == 0
    before = mtimes(tmp_path / 'out')
    assert run(src, tmp_path / 'out') == 0
    assert mtimes(tmp_path / 'out') == before
    assert 'kept (unchanged)' in capsys.readouterr().out


def test_rerun_with_overwrite_rebuilds(tmp_path):
    src = make_images(str(tmp_path / 'hr'))
    assert run(src, tmp_path / 'out') == 0
    files = list(mtimes(tmp_path / 'out'))
    for path in files:
        os.utime(path, ns=(10**9, 10**9))
    cv2.imwrite(str(tmp_path / 'out' / 'GTmod12' / 'stale.png'), np.zeros((12, 12, 3), np.uint8))
    assert run(src, tmp_path / 'out', '--overwrite') == 0
    after = mtimes(tmp_path / 'out')
    assert not os.path.exists(tmp_path / 'out' / 'GTmod12' / 'stale.png')
    assert sorted(after) == sorted(files) and all(t > 10**9 for t in after.values())


def test_rerun_with_other_settings_is_refused(tmp_path, capsys):
    src = make_images(str(tmp_path / 'hr'))
    assert run(src, tmp_path / 'out', '--no-lmdb') == 0
    capsys.readouterr()
    assert prepare_data.main([src, '--out', str(tmp_path / 'out'), '--crop-size', '48', '--step', '12']) == 2
    err = capsys.readouterr().err
    assert err.count('\n') == 1 and 'crop_size' in err and '--overwrite' in err


def test_corrupt_file_is_skipped_and_reported(tmp_path, capsys):
    src = make_images(str(tmp_path / 'hr'))
    with open(os.path.join(src, 'x.png'), 'wb') as f:
        f.write(np.random.default_rng(1).bytes(500))
    assert run(src, tmp_path / 'out', '--no-lmdb') == 0
    out = capsys.readouterr().out
    assert '1 skipped' in out and 'skipped x.png: unreadable' in out
    assert pngs(tmp_path / 'out' / 'GTmod12') == ['a', 'b', 'c', 'd_gray']


def test_missing_folder_exits_2_with_one_line(tmp_path, capsys):
    assert prepare_data.main([str(tmp_path / 'nope')]) == 2
    captured = capsys.readouterr()
    assert captured.err == f'prepare_data: error: input folder not found: {tmp_path / "nope"}\n'


def test_empty_folder_exits_2_with_one_line(tmp_path, capsys):
    assert prepare_data.main([str(tmp_path), '--out', str(tmp_path / 'out')]) == 2
    err = capsys.readouterr().err
    assert err.startswith('prepare_data: error: no images') and err.count('\n') == 1
    assert not os.path.exists(tmp_path / 'out')


@pytest.mark.parametrize('option', [['--scales', '5'], ['--crop-size', '20'], ['--step', '-12'], ['--holdout', '4']])
def test_bad_option_exits_2_with_one_line(tmp_path, capsys, option):
    src = make_images(str(tmp_path / 'hr'))
    assert prepare_data.main([src, '--out', str(tmp_path / 'out'), *option]) == 2
    err = capsys.readouterr().err
    assert err.startswith('prepare_data: error: ') and err.count('\n') == 1


def test_cli_writes_under_datasets_of_the_current_directory(tmp_path):
    src = make_images(str(tmp_path / 'Set5' / 'HR'))
    proc = subprocess.run([sys.executable, TOOL, os.path.dirname(src), '--no-sub-images', '--scales', '4'],
                          cwd=tmp_path, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    assert 'dataroot_lq: datasets/Set5/LRbicx4' in proc.stdout
    assert pngs(tmp_path / 'datasets' / 'Set5' / 'LRbicx4') == ['a', 'b', 'c', 'd_gray']


def test_default_sources_are_scikit_image_rgb_photos_of_at_least_256_px():
    paths = prepare_data.default_sources()
    assert [os.path.basename(p) for p in paths] == list(prepare_data.DEFAULT_IMAGES)
    for path in paths:
        img = cv2.imread(path, cv2.IMREAD_UNCHANGED)
        assert img.dtype == np.uint8 and img.ndim == 3 and img.shape[2] == 3 and min(img.shape[:2]) >= 256, path


def test_default_data_prepares_a_one_image_subset(tmp_path, monkeypatch):
    monkeypatch.setattr(prepare_data, 'DEFAULT_IMAGES', ('chelsea.png',))
    assert prepare_data.main(['--out', str(tmp_path / 'out'), '--holdout', '0', '--scales', '4']) == 0
    assert read(tmp_path / 'out', 'GTmod12', 'chelsea.png').shape == (300, 444, 3)
    assert len(prepare_data.lmdb_keys(str(tmp_path / 'out' / 'LRbicx4_sub.lmdb'))) == 6 * 9


def test_several_folders_make_one_set_named_after_them(tmp_path, monkeypatch):
    first, second = make_images(str(tmp_path / 'one')), str(tmp_path / 'two')
    os.makedirs(second)
    cv2.imwrite(os.path.join(second, 'e.png'), np.full((48, 48, 3), 7, np.uint8))
    monkeypatch.chdir(tmp_path)
    assert prepare_data.main([first, second, *SUB, '--scales', '2', '--no-lmdb']) == 0
    assert pngs(tmp_path / 'datasets' / 'one_two' / 'GTmod12') == ['a', 'b', 'c', 'd_gray', 'e']
