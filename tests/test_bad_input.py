"""Bad input everywhere a user types: one clear line, a non-zero exit, no code run, nothing written.

The runs go through the real entry points (``hnas_basicsr.runtime.run`` around basicsr's train pipeline, a tool's
``main``), in this process for speed (``sys.argv`` set as the command line would); a random-byte option file also
goes through a subprocess, to see the exit status and the absence of a traceback as a shell user would.
"""
import copy
import io
import os
import random
import shutil
import subprocess
import sys

import pytest
import torch
import yaml
from basicsr.train import train_pipeline

import hnas_basicsr  # noqa: F401  (registers the plugin)
from hnas_basicsr.archs.hnas_arch import HNASNet
from hnas_basicsr.cli import ToolError
from hnas_basicsr.nas.genotype import Genotype, GenotypeError, published_genotypes
from hnas_basicsr.networks import load_checkpoint
from hnas_basicsr.runtime import run
from hnas_basicsr.tools import count_flops
from tiny_options import TINY, retrain_options, search_options

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
PREFIX = 'hnas_basicsr: error: '


class Trap:
    """Unpickling this would run a shell command that creates ``path``."""

    def __init__(self, path):
        self.path = path

    def __reduce__(self):
        return os.system, (f'touch {self.path}', )


def quick(opt):
    """Options made to finish in a second: 2 iterations, no TensorBoard."""
    opt = copy.deepcopy(opt)
    opt['train']['total_iter'] = 2
    opt['logger'].update(print_freq=1, save_checkpoint_freq=2, use_tb_logger=False)
    opt['val']['val_freq'] = 2
    if 'search' in opt:
        opt['search'].update(weight_steps=1, controller_steps=1)
    return opt


def train(root, opt, monkeypatch, *args):
    """Run the training entry point on ``opt`` (a mapping, YAML text or bytes); (error line or None, file written).

    A rejection must exit with status 2 and print the line last on stderr.
    """
    path = root / 'options.yml'
    if isinstance(opt, bytes):
        path.write_bytes(opt)
    else:
        path.write_text(opt if isinstance(opt, str) else yaml.safe_dump(opt, sort_keys=False))
    monkeypatch.setenv('HNAS_ROOT', str(root))
    monkeypatch.setattr(sys, 'argv', ['train.py', '-opt', str(path), *args])
    stderr, original = io.StringIO(), sys.stderr
    monkeypatch.setattr(sys, 'stderr', stderr)
    try:
        run(train_pipeline)
    except SystemExit as exc:
        assert exc.code == 2, exc.code
        return stderr.getvalue().strip().splitlines()[-1], str(path)
    finally:
        monkeypatch.setattr(sys, 'stderr', original)
    return None, str(path)


def assert_one_line(message, path, *expected):
    assert message is not None, 'accepted'
    assert message.startswith(PREFIX) and '\n' not in message, message
    assert path in message, message
    for text in expected:
        assert text in message, message


# ---- safe loading --------------------------------------------------------------------------------------------------
def test_a_booby_trapped_checkpoint_is_refused_and_runs_nothing(root, tmp_path, monkeypatch):
    marker = tmp_path / 'pwned'
    trapped = tmp_path / 'trapped.pth'
    torch.save({'params': {'weight': Trap(str(marker))}}, trapped)
    with pytest.raises(ToolError, match='refused: the file holds Python objects'):
        load_checkpoint(str(trapped))
    # as a pretrained network
    opt = quick(retrain_options(name='trap_pretrain'))
    opt['path']['pretrain_network_g'] = str(trapped)
    message, path = train(root, opt, monkeypatch)
    assert_one_line(message, path, f'path.pretrain_network_g: {trapped}: refused')
    # as a training state found by --auto_resume
    states = root / 'experiments' / 'trap_resume' / 'training_states'
    states.mkdir(parents=True)
    torch.save({'iter': 2, 'trap': Trap(str(marker))}, states / '2.state')
    message, _ = train(root, quick(retrain_options(name='trap_resume')), monkeypatch, '--auto_resume')
    assert message.startswith(PREFIX) and 'refused' in message and '2.state' in message
    assert not marker.exists()


def test_python_tags_in_an_option_file_or_genotype_are_refused(root, tmp_path, monkeypatch, capsys):
    marker = tmp_path / 'pwned'
    text = yaml.safe_dump(quick(retrain_options(name='yaml_trap'))).replace(
        'name: yaml_trap', f'name: !!python/object/apply:os.system ["touch {marker}"]')
    message, path = train(root, text, monkeypatch)
    assert_one_line(message, path, 'refused: Python tags could run code')
    genotype = tmp_path / 'genotype.yml'
    genotype.write_text(f'position: !!python/object/apply:os.system ["touch {marker}"]\n')
    assert count_flops.main(['--genotype', str(genotype)]) == 2
    err = capsys.readouterr().err
    assert err.count('\n') == 1 and 'refused' in err, err
    assert not marker.exists()
    assert not (root / 'experiments' / 'yaml_trap').exists()


# ---- bad data and checkpoints --------------------------------------------------------------------------------------
def test_bad_data_and_foreign_checkpoints_give_one_line_and_write_nothing(root, tmp_path, monkeypatch):
    empty = tmp_path / 'empty'
    empty.mkdir()
    corrupt = tmp_path / 'corrupt.lmdb'
    corrupt.mkdir()
    (corrupt / 'data.mdb').write_bytes(b'not an lmdb' * 100)
    (corrupt / 'meta_info.txt').write_text('img0_s001.png (24,24,3) 1\n')
    unreadable = tmp_path / 'unreadable'
    unreadable.mkdir()
    for name in ('a.png', ):
        (unreadable / name).write_bytes(b'\x89PNG but not really')
    net = HNASNet(published_genotypes()['HNAS_C'].to_dict(), num_feat=4, num_layers=12)
    torch.save({'params': net.state_dict()}, tmp_path / 'other_arch.pth')

    def with_train_set(**changes):
        opt = quick(retrain_options(name='bad_data'))
        opt['datasets']['train'].update(changes, batch_size_per_gpu=1)
        return opt

    cases = [
        (with_train_set(dataroot_gt=str(empty), io_backend={'type': 'disk'}), 'holds no image'),
        (with_train_set(io_backend={'type': 'disk'}), 'is an LMDB, read with io_backend.type: disk; set it to lmdb'),
        (with_train_set(dataroot_gt=str(unreadable)), 'it is a folder of images: set io_backend.type: disk'),
        (with_train_set(dataroot_gt=str(corrupt)), 'datasets.train: cannot read the data'),
        (with_train_set(dataroot_gt=str(unreadable), dataroot_lq=str(unreadable), io_backend={'type': 'disk'}),
         'datasets.train: cannot read the data'),
    ]
    foreign = quick(retrain_options(name='bad_data'))
    foreign['path']['pretrain_network_g'] = str(tmp_path / 'other_arch.pth')
    cases.append((foreign, 'does not fit this HNASNet'))
    for opt, expected in cases:
        message, path = train(root, opt, monkeypatch)
        assert_one_line(message, path, expected)
        assert not (root / 'experiments' / 'bad_data').exists()  # checked before the experiment folder is made


def test_a_missing_foreign_or_damaged_latency_table_fails_in_one_line_before_anything_is_written(root, tmp_path,
                                                                                                 monkeypatch):
    from hnas_basicsr.nas.latency import measure_latency_table
    table = measure_latency_table(num_feat=3, num_layers=3, upscale=2, lr_size=(24, 24), runs=1, global_skip=None,
                                  cell_residual=False)
    (tmp_path / 'other_width.yml').write_text(yaml.safe_dump(table))
    (tmp_path / 'damaged.yml').write_text('ms: [unclosed\n')
    for name, expected in (('missing.yml', 'cannot read'), ('other_width.yml', 'num_feat 3 (expected 2)'),
                           ('damaged.yml', 'not YAML')):
        opt = quick(search_options('latency_search', 2))
        opt['search'].update(cost='latency', latency_table=str(tmp_path / name))
        rejected(root, opt, monkeypatch, 'search.latency_table' if name == 'missing.yml' else name, expected)


# ---- byte-level damage ---------------------------------------------------------------------------------------------
TEXT_DAMAGE = ('truncated', 'random_bytes', 'empty', 'latin1', 'utf16')
BINARY_DAMAGE = ('truncated', 'random_bytes', 'empty', 'utf16')


def damaged(data, kind):
    """A file's bytes cut in half, replaced by 100 random bytes, emptied, given a Latin-1 line, or re-encoded as
    UTF-16."""
    if kind == 'truncated':
        return data[:len(data) // 2]
    if kind == 'random_bytes':
        return random.Random(0).randbytes(100)
    if kind == 'empty':
        return b''
    if kind == 'latin1':
        return data + '# café\n'.encode('latin-1')
    return data.decode('latin-1').encode('utf-16')


def written(root):
    return {p for folder in ('experiments', 'results', 'tb_logger') for p in (root / folder).rglob('*')}


def rejected(root, opt, monkeypatch, *names):
    """Train on ``opt`` (a mapping or bytes): one line naming ``names``, exit status 2, nothing written."""
    before = written(root)
    message, _ = train(root, opt, monkeypatch)
    assert message is not None, 'accepted'
    assert message.startswith(PREFIX) and '\n' not in message, message
    assert all(name in message for name in names), message
    assert written(root) == before


@pytest.mark.parametrize('block, typo, meant', [('train', 'total_iters', 'total_iter'), ('val', 'val_frequency', None),
                                                ('logger', 'print_frq', 'print_freq'), ('', 'manual_sed', 'manual_seed'),
                                                ('datasets.train', 'use_flip', 'use_hflip')])
def test_a_misspelt_key_that_basicsr_would_ignore_is_refused(block, typo, meant, root, monkeypatch):
    """A near miss of a key that basicsr or the plugin reads fails naming both; a key far from all is let through,
    as basicsr does (``val_frequency``: too far from ``val_freq`` at the cut-off, then the run goes ahead)."""
    opt = quick(retrain_options(name='typo'))
    parent = opt
    for part in filter(None, block.split('.')):
        parent = parent[part]
    parent[typo] = parent.get(meant, 1)
    if meant is None:
        message, _ = train(root, opt, monkeypatch)
        assert message is None, message
        return
    rejected(root, opt, monkeypatch, f'{block + "." if block else ""}{typo}: unknown key; did you mean {meant}?')


def test_random_bytes_as_option_file_end_train_py_in_one_line(root):
    path = root / 'random.yml'
    path.write_bytes(damaged(b'', 'random_bytes'))
    proc = subprocess.run([sys.executable, os.path.join(REPO, 'hnas_basicsr', 'train.py'), '-opt', str(path)],
                          env=dict(os.environ, HNAS_ROOT=str(root)), capture_output=True, text=True, timeout=120)
    assert proc.returncode == 2 and 'Traceback' not in proc.stderr, proc.stderr[-2000:]
    assert proc.stderr.strip().splitlines()[-1].startswith(f'{PREFIX}{path}: not UTF-8 text')


@pytest.mark.parametrize('kind', TEXT_DAMAGE)
def test_a_damaged_option_file_fails_in_one_line(kind, root, monkeypatch):
    text = yaml.safe_dump(quick(retrain_options(name=f'damaged_{kind}')), sort_keys=False).encode()
    rejected(root, damaged(text, kind), monkeypatch, str(root / 'options.yml'))


@pytest.mark.parametrize('kind', TEXT_DAMAGE)
def test_a_damaged_genotype_file_fails_in_one_line(kind, tmp_path, capsys):
    path = tmp_path / 'genotype.yml'
    path.write_bytes(damaged(yaml.safe_dump(published_genotypes()['HNAS_A'].to_dict()).encode(), kind))
    assert count_flops.main(['--genotype', str(path)]) == 2
    err = capsys.readouterr().err
    assert err.startswith('count_flops.py: error: ') and err.count('\n') == 1 and str(path) in err, err


@pytest.mark.parametrize('kind', BINARY_DAMAGE)
@pytest.mark.parametrize('role', ['pretrain_network_g', 'resume_state'])
def test_a_damaged_checkpoint_fails_in_one_line(role, kind, root, tmp_path, monkeypatch):
    opt = quick(retrain_options(name=f'damaged_{role}_{kind}'))
    buffer = io.BytesIO()
    if role == 'pretrain_network_g':
        torch.save({'params': HNASNet(**{k: v for k, v in opt['network_g'].items() if k != 'type'}).state_dict()},
                   buffer)
    else:
        torch.save({'epoch': 0, 'iter': 2, 'optimizers': [], 'schedulers': []}, buffer)
    path = tmp_path / 'checkpoint.pth'
    path.write_bytes(damaged(buffer.getvalue(), kind))
    opt['path'][role] = str(path)
    rejected(root, opt, monkeypatch, str(path))


@pytest.mark.parametrize('part, kind', [('data.mdb', kind) for kind in BINARY_DAMAGE] +
                         [('meta_info.txt', kind) for kind in TEXT_DAMAGE])
def test_a_damaged_lmdb_fails_in_one_line(part, kind, root, tmp_path, monkeypatch):
    lmdb = tmp_path / 'GTmod12_sub.lmdb'
    shutil.copytree(root / TINY / 'GTmod12_sub.lmdb', lmdb)
    (lmdb / part).write_bytes(damaged((lmdb / part).read_bytes(), kind))
    opt = quick(retrain_options(name=f'damaged_lmdb_{kind}'))
    opt['datasets']['train']['dataroot_gt'] = str(lmdb)
    rejected(root, opt, monkeypatch, 'datasets.train')


@pytest.mark.parametrize('kind', BINARY_DAMAGE)
def test_a_damaged_image_fails_in_one_line(kind, root, tmp_path, monkeypatch):
    shutil.copytree(root / TINY / 'val', tmp_path / 'val')
    image = sorted((tmp_path / 'val' / 'GTmod12').iterdir())[0]
    image.write_bytes(damaged(image.read_bytes(), kind))
    opt = quick(retrain_options(name=f'damaged_image_{kind}'))
    opt['datasets']['val'].update(dataroot_gt=str(image.parent), dataroot_lq=str(tmp_path / 'val' / 'LRbicx2'))
    rejected(root, opt, monkeypatch, str(image))


# ---- fuzz ----------------------------------------------------------------------------------------------------------
VALUES = [None, -1, 0, 1, 2.5, 'x', True, [], {}, [1, 2], 'datasets/none']


def leaves(node, path=()):
    """Every key path to a value in nested mappings and lists."""
    items = node.items() if isinstance(node, dict) else enumerate(node) if isinstance(node, list) else []
    out = [path] if path else []
    for key, value in items:
        out += leaves(value, path + (key, ))
    return out


def mutate(opt, rng):
    """One random change: a value replaced, a key deleted or an unknown key added; returns a description."""
    path = rng.choice(leaves(opt))
    parent = opt
    for key in path[:-1]:
        parent = parent[key]
    kind = rng.random()
    if kind < 0.15 and isinstance(parent, dict):
        del parent[path[-1]]
        return f'deleted {path}'
    if kind < 0.25 and isinstance(parent, dict):
        parent['unknown_key'] = rng.choice(VALUES)
        return f'added unknown_key under {path[:-1]}'
    parent[path[-1]] = copy.deepcopy(rng.choice(VALUES))
    return f'{path} = {parent[path[-1]]!r}'


@pytest.mark.parametrize('kind', ['search', 'retrain'])
def test_mutated_option_files_run_or_fail_in_one_line(kind, root, monkeypatch):
    """60 mutated option files per kind (values, deletions, unknown keys anywhere, genotypes included): each
    either trains (2 iterations, validation, checkpoints) or stops with one line naming the file.
    HNAS_FUZZ_RUNS and HNAS_FUZZ_SEED run more or other mutants."""
    rng = random.Random(f'{kind}{os.environ.get("HNAS_FUZZ_SEED", "")}')
    outcomes = {'accepted': 0, 'rejected': 0}
    for i in range(int(os.environ.get('HNAS_FUZZ_RUNS', 60))):
        name = f'fuzz_{kind}_{i}'  # (basicsr archives a reused experiment name, per second)
        base = search_options(name, 2) if kind == 'search' else retrain_options(name=name)
        opt = quick(base)
        change = mutate(opt, rng)
        try:
            message, path = train(root, opt, monkeypatch)
        except Exception as exc:  # the test's point: nothing else may escape
            raise AssertionError(f'mutant {i} ({change}): {type(exc).__name__}: {exc}') from exc
        if message is None:
            outcomes['accepted'] += 1
        else:
            assert message.startswith(PREFIX) and '\n' not in message, f'mutant {i} ({change}): {message}'
            outcomes['rejected'] += 1
            print(f'mutant {i} ({change}): {message}')
    assert min(outcomes.values()) >= 5, outcomes  # both outcomes are exercised


def mutate_genotype(mapping, rng):
    values = VALUES + ['sep_conv_3x3', 'sep_conv_5x5', 'dil_conv_3x3', 'udpb', 'identity', 'sub_pixel', 'bilinear',
                      'deconvolution', 'rcab', 2, 3, 4, 5, 7, 12, 13, -3, [['identity', 0]], [['identity', 0]] * 3]
    path = rng.choice(leaves(mapping))
    parent = mapping
    for key in path[:-1]:
        parent = parent[key]
    if rng.random() < 0.15 and isinstance(parent, (dict, list)) and parent:
        del parent[path[-1]]
        return f'deleted {path}'
    parent[path[-1]] = copy.deepcopy(rng.choice(values))
    return f'{path} = {parent[path[-1]]!r}'


def test_mutated_genotypes_build_and_run_or_fail_naming_the_field():
    """300 mutated genotypes: each is rejected with a GenotypeError naming the field, or builds an HNASNet
    whose output is exactly x2 the input."""
    rng = random.Random(0)
    published = list(published_genotypes().values())
    accepted = 0
    for i in range(300):
        mapping = copy.deepcopy(rng.choice(published).to_dict())
        change = mutate_genotype(mapping, rng)
        try:
            genotype = Genotype.from_dict(mapping, 12)
        except GenotypeError as exc:
            message = str(exc)
            assert '\n' not in message and (':' in message), f'{change}: {message}'
            continue
        except Exception as exc:
            raise AssertionError(f'genotype mutant {i} ({change}): {type(exc).__name__}: {exc}') from exc
        net = HNASNet(genotype.to_dict(), num_feat=2, num_layers=12, upscale=2)
        with torch.no_grad():
            assert net(torch.rand(1, 3, 5, 6)).shape == (1, 3, 10, 12), change
        accepted += 1
    assert 20 <= accepted <= 280, accepted  # both outcomes are exercised
