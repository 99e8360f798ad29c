"""``python hnas_basicsr/train.py -opt X.yml`` as a user runs it: real basicsr, CPU, tiny data, subprocesses.

Every run writes under a temporary root ($HNAS_ROOT); option files use dataset paths relative to it, so runs
launched from another current directory also exercise the plugin's path and resume handling.
"""
import copy
import glob
import math
import os
import re
import subprocess
import sys

import pytest
import torch
import yaml

from tiny_options import TINY, parsed, retrain_options, search_options

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
TRAIN = os.path.join(REPO, 'hnas_basicsr', 'train.py')



# ---- data and runs ---------------------------------------------------------------------------------------------------
@pytest.fixture
def elsewhere(tmp_path):
    """A current directory that is not the root."""
    return tmp_path


def write_options(root, opt):
    path = root / 'options' / f"{opt['name']}.yml"
    path.write_text(yaml.safe_dump(opt, sort_keys=False))
    return str(path)


def train(root, opt_file, *args, cwd, timeout=120):
    """Run the CLI; returns the CompletedProcess (stdout and stderr as text)."""
    env = dict(os.environ, HNAS_ROOT=str(root), OMP_NUM_THREADS='1', MKL_NUM_THREADS='1')
    return subprocess.run([sys.executable, TRAIN, '-opt', opt_file, *args], cwd=str(cwd), env=env,
                          capture_output=True, text=True, timeout=timeout)


def check(proc):
    assert proc.returncode == 0, f'exit {proc.returncode}\n{proc.stdout[-3000:]}\n{proc.stderr[-5000:]}'
    return proc


def newest_log(experiment):
    return open(max(glob.glob(os.path.join(experiment, 'train_*.log')), key=os.path.getmtime)).read()


def logged_iters(log):
    return [int(v) for v in re.findall(r'\[[^]]*\]\[epoch:\s*\d+, iter:\s*(\d+),', log)]


def no_archives(root):
    return [p for d in ('experiments', 'tb_logger') for p in glob.glob(os.path.join(root, d, '*_archived_*'))]


def load(path):
    return torch.load(path, map_location='cpu', weights_only=True)


def assert_same(a, b, where='state'):
    """Exact equality of nested dicts/lists of tensors and plain values."""
    if isinstance(a, torch.Tensor):
        same = isinstance(b, torch.Tensor) and a.shape == b.shape and torch.equal(a, b)
        assert same, f'{where} differs'
    elif isinstance(a, dict):
        assert set(a) == set(b), where
        for key in a:
            assert_same(a[key], b[key], f'{where}.{key}')
    elif isinstance(a, (list, tuple)):
        assert len(a) == len(b), where
        for i, (x, y) in enumerate(zip(a, b)):
            assert_same(x, y, f'{where}[{i}]')
    else:
        assert a == b, f'{where}: {a!r} != {b!r}'


def cosine(lr, eta_min, period, last_epoch):
    return eta_min + 0.5 * (lr - eta_min) * (1 + math.cos(math.pi * last_epoch / period))


# ---- retraining ------------------------------------------------------------------------------------------------------
def test_retraining_trains_validates_checkpoints_and_resumes_from_anywhere(root, elsewhere):
    opt_file = write_options(root, retrain_options())
    exp = os.path.join(root, 'experiments', 'retrain_tiny')

    check(train(root, opt_file, cwd=root))
    for it in (2, 4, 6, 8, 10):
        assert os.path.isfile(os.path.join(exp, 'models', f'net_g_{it}.pth'))
        assert load(os.path.join(exp, 'training_states', f'{it}.state'))['iter'] == it
    log = newest_log(exp)
    assert logged_iters(log) == list(range(1, 11))
    psnr = [float(v) for v in re.findall(r'# psnr: ([\d.]+)', log)]
    assert len(psnr) == 3 and all(5 < v < 60 for v in psnr)  # at 5, 10 and after training
    assert re.search(r'# ssim: 0\.\d+', log)
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator
    events = glob.glob(os.path.join(root, 'tb_logger', 'retrain_tiny', 'events.out.tfevents.*'))
    assert len(events) == 1
    tags = EventAccumulator(events[0]).Reload().Tags()['scalars']
    assert 'losses/l_pix' in tags and 'metrics/tiny_holdout/psnr' in tags

    # --auto_resume from another current directory: the latest state (10, not 8: numeric order) of this experiment
    resumed = check(train(root, opt_file, '--auto_resume', '--force_yml', 'train:total_iter=14', cwd=elsewhere))
    log = newest_log(exp)
    assert re.search(r'Resuming training from epoch: \d+, iter: 10\.', log)
    assert 'net_g_10.pth' in log  # the weights of iteration 10 are loaded
    assert logged_iters(log) == [11, 12, 13, 14]
    lr_11 = float(re.search(r'iter:\s*11, lr:\(([\d.e+-]+),\)', log).group(1))
    assert lr_11 == pytest.approx(cosine(1e-3, 1e-5, 20, 10), rel=1e-3)  # the scheduler went on, not restarted
    assert os.path.isfile(os.path.join(exp, 'models', 'net_g_14.pth'))
    assert load(os.path.join(exp, 'training_states', '14.state'))['iter'] == 14
    assert no_archives(root) == [], resumed.stdout
    assert not os.path.exists(os.path.join(elsewhere, 'experiments'))

    # path.resume_state given explicitly (relative to the root), without --auto_resume, from elsewhere
    check(train(root, opt_file, '--force_yml', 'train:total_iter=12',
                'path:resume_state=experiments/retrain_tiny/training_states/10.state', cwd=elsewhere))
    log = newest_log(exp)
    assert re.search(r'Resuming training from epoch: \d+, iter: 10\.', log)
    assert logged_iters(log) == [11, 12]
    assert load(os.path.join(exp, 'training_states', '12.state'))['iter'] == 12
    assert no_archives(root) == []


def test_a_missing_dataset_fails_naming_the_path(root, elsewhere):
    opt = retrain_options(name='missing_data', dataroot='datasets/nowhere')
    proc = train(root, write_options(root, opt), cwd=elsewhere)
    assert proc.returncode != 0
    last = proc.stderr.strip().splitlines()[-1]
    assert last.startswith('hnas_basicsr: error: ') and 'datasets.train.dataroot_gt: datasets/nowhere/' in last, \
        proc.stderr[-3000:]
    assert 'does not exist; prepare the data first: python tools/prepare_data.py' in last
    assert 'Traceback' not in proc.stderr
    assert not os.path.exists(os.path.join(root, 'experiments', 'missing_data'))  # nothing written


# ---- search ----------------------------------------------------------------------------------------------------------
def test_search_resumes_exactly_where_it_stopped(root, elsewhere):
    """Stopped at iteration 6 and resumed to 9, the search ends exactly as a run that never stopped.

    Everything the runs save at iteration 9 is compared bit for bit: supernet and controller weights,
    both optimizers and schedulers, the baseline and the controller's sampling generator. Between 6 and 9
    there is a controller round (iteration 8) and 3 sampled architectures, so a restored controller, baseline,
    optimizer or generator that differed in any way would show. (The data cannot: see ``search_options``.)
    """
    straight_exp = os.path.join(root, 'experiments', 'search_straight')
    exp = os.path.join(root, 'experiments', 'search_resumed')
    check(train(root, write_options(root, search_options('search_straight', 9)), cwd=root))
    opt_file = write_options(root, search_options('search_resumed', 6))
    check(train(root, opt_file, cwd=root))

    # controller rounds (iterations 2, 4, 6) really happened
    log = newest_log(exp)
    assert logged_iters(log) == list(range(1, 7))
    assert re.search(r'reward: -?\d\.\d+e[+-]\d+', log) and re.search(r'baseline: -?\d\.\d+e[+-]\d+', log)
    # the supernet is summarised in a line (its structure would be thousands), the controller printed as basicsr does
    assert re.search(r'Network: HNASSuperNet, with parameters: [\d,]+ \([\d,]+ modules, not printed\)', log)
    assert 'SharedCell(' not in log and 'Network: HNASController' in log and 'LSTMCell(' in log
    net_c = {it: load(os.path.join(exp, 'models', f'net_c_{it}.pth'))['params'] for it in (3, 6)}
    assert any(not torch.equal(net_c[3][k], net_c[6][k]) for k in net_c[3])
    state_6 = load(os.path.join(exp, 'training_states', '6.state'))
    assert isinstance(state_6['search']['baselines'][0]['value'], float)
    # the two runs agree up to the stop (so that they can be compared after it)
    assert_same(state_6, load(os.path.join(straight_exp, 'training_states', '6.state')))

    check(train(root, opt_file, '--auto_resume', '--force_yml', 'train:total_iter=9', cwd=elsewhere))
    log = newest_log(exp)
    assert re.search(r'Resuming training from epoch: \d+, iter: 6\.', log)
    assert logged_iters(log) == [7, 8, 9]
    assert no_archives(root) == []

    for name in ('net_g_9.pth', 'net_c_9.pth'):
        assert_same(load(os.path.join(exp, 'models', name)), load(os.path.join(straight_exp, 'models', name)), name)
    state_9 = load(os.path.join(exp, 'training_states', '9.state'))
    straight_9 = load(os.path.join(straight_exp, 'training_states', '9.state'))
    assert state_9['iter'] == 9
    # basicsr's epoch counter is not comparable: a resumed run starts the saved epoch over (here one iteration long)
    assert state_9.pop('epoch') == straight_9.pop('epoch') - 1
    assert_same(state_9, straight_9, '9.state')
    # ... and the search did move on after the resume
    net_c_9 = load(os.path.join(exp, 'models', 'net_c_9.pth'))['params']
    assert any(not torch.equal(net_c[6][k], net_c_9[k]) for k in net_c_9)
    assert state_9['search']['baselines'][0] != state_6['search']['baselines'][0]
    assert not torch.equal(state_9['search']['generator'], state_6['search']['generator'])


def test_search_with_a_controller_split_smaller_than_a_batch_fails_clearly(root, elsewhere):
    # TINY: weights_ratio 0.75 -> 3 images (36 samples) train the weights, 1 image (12 samples) rewards the controller
    opt = search_options('search_small_split', 2, dataroot=TINY, batch_size=16, weights_ratio=0.75)
    opt['search']['weight_steps'] = 1
    proc = train(root, write_options(root, opt), cwd=elsewhere, timeout=60)
    assert proc.returncode != 0
    assert 'the controller split has 12 sample(s), fewer than one batch' in proc.stderr, proc.stderr[-3000:]


def test_random_search_resumes_its_sampler(tmp_path):
    """The random strategy's sampler (not exercised by the runs above) continues after a resume: in-process."""
    from basicsr.models import build_model

    opt = search_options('search_random', 6)
    opt['search']['strategy'] = 'random'
    opt = parsed(opt, tmp_path)
    model = build_model(copy.deepcopy(opt))
    first = [model.sample()[0] for _ in range(3)]
    model.save_training_state(epoch=0, current_iter=3)
    expected = [model.sample()[0] for _ in range(5)]

    resumed = build_model(copy.deepcopy(opt))
    resumed.resume_training(load(os.path.join(tmp_path, '3.state')))
    assert [resumed.sample()[0] for _ in range(5)] == expected
    fresh = build_model(copy.deepcopy(opt))
    assert [fresh.sample()[0] for _ in range(3)] == first  # (the samples expected after the resume are new ones)
    assert expected[:3] != first


def test_search_killed_at_random_moments_resumes_with_intact_checkpoints(root):
    """SIGKILL a running search twice at random moments (during start-up, then at a random point of training),
    resume it with --auto_resume each time: it completes, every checkpoint and state loads, and each resume starts
    at most one checkpoint interval (5 iterations) before the last iteration the killed run had logged. Kills are
    placed by the progress in the log, not by wall time, so a fast or a loaded machine kills at the same stages.
    (An interrupted or failed checkpoint write is tested without processes in test_hnas_sr_model.py.)"""
    import random
    import signal
    import time

    total, every = 60, 5
    opt = search_options('search_killed', total)
    opt['train']['scheduler']['periods'] = opt['train']['scheduler_c']['periods'] = [total]
    opt['val']['val_freq'] = 10 * total  # validation only after the last iteration
    opt['logger']['save_checkpoint_freq'] = every
    opt_file = write_options(root, opt)
    exp = os.path.join(root, 'experiments', 'search_killed')
    env = dict(os.environ, HNAS_ROOT=str(root), OMP_NUM_THREADS='1', MKL_NUM_THREADS='1')
    rng = random.Random(0)
    # (None: during start-up; n: a random fraction of an iteration after iteration n is logged)
    kill_points = [None, rng.randrange(12, 50)]
    resumed_from, last_logged, seen = [], 0, set()

    def new_log():
        """The log of the run just ended, or None if it was killed before writing one."""
        logs = set(glob.glob(os.path.join(exp, 'train_*.log'))) - seen
        seen.update(logs)
        return open(max(logs, key=os.path.getmtime)).read() if logs else None

    def account(log):
        nonlocal last_logged
        resumed = re.search(r'Resuming training from epoch: \d+, iter: (\d+)\.', log)
        if resumed:
            resumed_from.append((int(resumed.group(1)), last_logged))
        # (a run killed while starting up logged nothing: the last iteration logged is still the earlier run's)
        last_logged = max(logged_iters(log), default=int(resumed.group(1)) if resumed else last_logged)

    def wait_for_iter(proc, target):
        """Block until the running search has logged iteration ``target``."""
        deadline = time.monotonic() + 200
        while time.monotonic() < deadline:
            assert proc.poll() is None, f'the search ended before iteration {target} was logged'
            logs = set(glob.glob(os.path.join(exp, 'train_*.log'))) - seen
            if logs and max(logged_iters(open(max(logs, key=os.path.getmtime)).read()), default=0) >= target:
                return
            time.sleep(0.05)
        raise AssertionError(f'iteration {target} not logged within 200 s')

    for point in kill_points:
        proc = subprocess.Popen([sys.executable, TRAIN, '-opt', opt_file, '--auto_resume'], cwd=str(root), env=env,
                                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        if point is None:
            time.sleep(rng.uniform(0.5, 3.0))
        else:
            wait_for_iter(proc, point)
            time.sleep(rng.uniform(0.0, 0.3))
        proc.send_signal(signal.SIGKILL)
        proc.wait()
        log = new_log()
        if log is not None:
            account(log)
    check(train(root, opt_file, '--auto_resume', cwd=root, timeout=300))
    log = new_log()
    account(log)
    assert logged_iters(log)[-1] == total
    assert resumed_from, 'no kill happened after the first checkpoint'
    for start, logged in resumed_from:
        assert logged - every <= start <= logged, (start, logged)
    files = glob.glob(os.path.join(exp, 'models', '*.pth')) + glob.glob(os.path.join(exp, 'training_states', '*.state'))
    assert os.path.join(exp, 'models', f'net_g_{total}.pth') in files
    for path in files:
        load(path)  # raises on a truncated file
