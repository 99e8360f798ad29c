"""bench/same_budget.py --summary: mean, spread and the searched network's per-seed lead over finished runs, and the
runs it refuses."""
import os
import sys

import pytest
import yaml

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.append(os.path.join(REPO, 'bench'))

import same_budget  # noqa: E402

HEADER = 'Model,Scale,Params (M),Mult-Adds (G),Set5 PSNR,Set5 SSIM,Set14 PSNR,Set14 SSIM\n'


def finished(folder, seed, searched_psnr, edsr_psnr, genotype='normal: a\n', edsr_macs='25.4'):
    """A finished run's files as bench/same_budget.py leaves them: benchmark.csv, options/, the searched genotype."""
    os.makedirs(folder / 'options')
    os.makedirs(folder / 'derived' / 'rank1')
    (folder / 'options' / 'train_x2.yml').write_text(yaml.safe_dump({'manual_seed': seed}))
    (folder / 'derived' / 'rank1' / 'genotype.yml').write_text(genotype)
    (folder / 'benchmark.csv').write_text(
        HEADER + f'HNAS-searched,2,0.086,25.8,{searched_psnr[0]},0.95,{searched_psnr[1]},0.90\n'
        f'EDSR-18feat,2,0.110,{edsr_macs},{edsr_psnr[0]},0.95,{edsr_psnr[1]},0.90\n')
    return str(folder)


def test_summary_means_spread_and_per_seed_lead(tmp_path, capsys):
    runs = [finished(tmp_path / 'a', 0, (36.5, 32.2), (36.2, 32.1)),
            finished(tmp_path / 'b', 1, (36.6, 32.3), (36.6, 32.0)),
            finished(tmp_path / 'c', 2, (36.4, 32.1), (36.3, 32.2))]
    same_budget.summarize(runs)
    table = (tmp_path / 'a' / 'seeds.md').read_text()
    assert table.startswith('Training seeds 0, 1, 2')
    edsr = next(line for line in table.splitlines() if line.startswith('| EDSR-18feat'))
    cells = [c.strip() for c in edsr.strip('|').split('|')]
    assert cells[2] == '36.367 ± 0.208'  # Set5 mean and sample sd of 36.2, 36.6, 36.3
    assert cells[4] == '+0.300, +0.000, +0.100; +0.133 ± 0.153'  # searched minus EDSR, seed by seed
    assert cells[5] == '+0.100, +0.300, -0.100; +0.100 ± 0.200'
    assert table == capsys.readouterr().out


@pytest.mark.parametrize('second, message', [
    (dict(seed=0), 'give each seed once'),
    (dict(seed=1, genotype='normal: b\n'), 'searched different networks'),
    (dict(seed=1, edsr_macs='30.0'), 'EDSR-18feat is not the same network'),
])
def test_summary_refuses_runs_that_do_not_pair(tmp_path, second, message):
    first = finished(tmp_path / 'a', 0, (36.5, 32.2), (36.2, 32.1))
    other = finished(tmp_path / 'b', searched_psnr=(36.6, 32.3), edsr_psnr=(36.6, 32.0), **second)
    with pytest.raises(SystemExit, match=message):
        same_budget.summarize([first, other])


def test_summary_refuses_an_unfinished_run(tmp_path):
    first = finished(tmp_path / 'a', 0, (36.5, 32.2), (36.2, 32.1))
    os.makedirs(tmp_path / 'b')
    with pytest.raises(SystemExit, match='is not a finished run'):
        same_budget.summarize([first, str(tmp_path / 'b')])
