"""The latency cost: a measured per-part table (hnas_basicsr.nas.latency), its use as the search's cost, the tool."""
import random

import pytest
import yaml

from hnas_basicsr.nas import space
from hnas_basicsr.nas.genotype import published_genotypes
from hnas_basicsr.nas.latency import LatencyTable, measure_latency_table
from hnas_basicsr.objective import SearchObjective, search_options
from hnas_basicsr.tools.build_latency_table import main as build_tool

TINY = dict(num_feat=2, num_layers=3, upscale=2, lr_size=(6, 5), runs=1)
HPARAMS = dict(num_layers=3, upscale=2, num_in_ch=3, num_out_ch=3, global_skip='bicubic', cell_residual=True)


@pytest.fixture(scope='module')
def measured():
    return measure_latency_table(**TINY)


def synthetic(table):
    """``table`` with every entry a distinct power of two (in ms): a sum then says which entries it took."""
    values = dict(table)
    values['ms'] = {key: float(2 ** i) for i, key in enumerate(table['ms'])}
    return values


def by_hand(ms, genotype, num_layers):
    """The predicted latency counted independently of path_parts: cells by resolution, edges by op."""
    p = genotype.position
    total = ms['head'] + ms['tail'] + ms[f'network/{p}'] + ms['cell/up'] + 2 * ms['pre/lr']
    total += sum(ms[f"upsampling/{op}/{'input' if s < 2 else 'inner'}"] for node in genotype.upsampling for op, s in node)
    for res, cells in (('lr', p - 1), ('hr', num_layers - p)):
        total += cells * (ms[f'cell/{res}'] + 2 * ms[f'pre/{res}'] + sum(
            ms[f'normal/{op}/{res}'] for node in genotype.normal for op, _ in node))
    return total


def test_the_measured_table_has_every_entry_and_loads(measured):
    table = LatencyTable(measured, dict(num_feat=2, lr_size=[6, 5], **HPARAMS))
    assert len(measured['ms']) == 2 * 2 + 2 * len(space.NORMAL_OPS) + 2 * len(space.UPSAMPLING_OPS) + 3 + 3
    assert all(isinstance(v, float) for v in measured['ms'].values())
    assert min(measured['ms'][k] for k in measured['ms'] if k.startswith(('normal/rcab', 'head', 'tail'))) > 0
    assert table.latency_ms(space.random_genotype(3, random.Random(0))) > 0


def test_a_path_is_the_sum_of_its_parts(measured):
    table = LatencyTable(synthetic(measured))
    rng = random.Random(1)
    for genotype in [space.random_genotype(3, rng) for _ in range(20)]:
        assert table.latency_ms(genotype) == by_hand(table.table['ms'], genotype, 3)


def test_one_edge_changes_the_prediction_by_its_ops_difference_in_every_normal_cell(measured):
    table = LatencyTable(synthetic(measured))
    ms = table.table['ms']
    base = published_genotypes()['HNAS_A']
    base = type(base)(normal=((('identity', 0), ('identity', 1)),) * 4, upsampling=base.upsampling, position=2)
    changed = type(base)(normal=((('rcab', 0), ('identity', 1)),) + base.normal[1:], upsampling=base.upsampling,
                         position=2)
    difference = (ms['normal/rcab/lr'] - ms['normal/identity/lr']) + (ms['normal/rcab/hr'] - ms['normal/identity/hr'])
    assert table.latency_ms(changed) - table.latency_ms(base) == difference


def test_the_cell_and_network_terms_make_every_whole_network_add_up(monkeypatch):
    """With a timer that counts the aten ops a call dispatches (additive over any split of the work, unlike wall
    time), every network's predicted 'latency' equals its measured one: the cell and network terms hold exactly
    what the timed convs and edge ops leave out, whatever the genotype and position."""
    import torch
    from torch.utils._python_dispatch import TorchDispatchMode

    from hnas_basicsr.archs.hnas_arch import HNASNet
    from hnas_basicsr.nas import latency

    class Count(TorchDispatchMode):
        calls = 0

        def __torch_dispatch__(self, func, types, args=(), kwargs=None):
            Count.calls += 1
            return func(*args, **(kwargs or {}))

    def counted(fn, runs, device):
        Count.calls = 0
        with torch.no_grad(), Count():
            fn()
        return float(Count.calls)

    monkeypatch.setattr(latency, 'time_ms', counted)
    table = LatencyTable(measure_latency_table(**TINY))
    assert table.table['ms']['cell/hr'] > 0 and table.table['ms']['network/2'] > 0
    x = torch.rand(1, 3, *TINY['lr_size'])
    rng = random.Random(3)
    for genotype in [space.random_genotype(3, rng) for _ in range(8)]:
        net = HNASNet(genotype.to_dict(), num_feat=2, num_layers=3, global_skip='bicubic', cell_residual=True,
                      init='pytorch').eval()
        assert table.latency_ms(genotype) == counted(lambda: net(x), 1, 'cpu'), genotype.describe()


def test_a_table_for_another_network_or_a_broken_one_is_refused(measured, tmp_path):
    with pytest.raises(ValueError, match=r'measured for another network: num_feat 2 \(expected 64\)'):
        LatencyTable(measured, {'num_feat': 64})
    broken = dict(measured, ms={k: v for k, v in measured['ms'].items() if k != 'normal/udpb/hr'})
    with pytest.raises(ValueError, match='no entry for normal/udpb/hr'):
        LatencyTable(broken)
    path = tmp_path / 'other.yml'
    path.write_text('a: 1\n')
    with pytest.raises(ValueError, match='other.yml: not a latency table'):
        LatencyTable(str(path))


def test_the_search_cost_is_the_predicted_latency_in_cost_units(measured, tmp_path):
    path = tmp_path / 'cpu.yml'
    path.write_text(yaml.safe_dump(synthetic(measured)))
    search = search_options({'search': {'cost': 'latency', 'latency_table': str(path), 'cost_unit': 4.0,
                                        'cost_num_feat': 2, 'cost_lr_size': [6, 5]}})
    objective = SearchObjective(search, HPARAMS)
    genotype = space.random_genotype(3, random.Random(2))
    assert objective.cost(genotype) == LatencyTable(str(path)).latency_ms(genotype) / 4.0
    wrong = dict(search, cost_num_feat=64)
    with pytest.raises(ValueError, match=r'measured for another network: num_feat 2 \(expected 64\)'):
        SearchObjective(wrong, HPARAMS)
    with pytest.raises(ValueError, match='search.latency_table: cannot read'):
        SearchObjective(dict(search, latency_table=str(tmp_path / 'missing.yml')), HPARAMS)


@pytest.mark.parametrize('search', [{'cost': 'latency'}, {'latency_table': 'cpu.yml'}, {'cost': 'seconds'}])
def test_latency_settings_come_together(search):
    with pytest.raises(ValueError, match='search.latency_table|search.cost'):
        search_options({'search': search})


def test_the_tool_builds_a_table_the_search_accepts_and_checks_it(tmp_path, capsys):
    out = tmp_path / 'tables' / 'cpu.yml'
    assert build_tool(['--num-feat', '2', '--num-layers', '3', '--lr-size', '6', '5', '--runs', '1', '--out',
                       str(out), '--check', '3']) == 0
    printed = capsys.readouterr().out
    assert 'Spearman rho' in printed and 'mean relative error' in printed
    assert len((tmp_path / 'tables' / 'cpu.check.csv').read_text().splitlines()) == 4
    search = search_options({'search': {'cost': 'latency', 'latency_table': str(out), 'cost_num_feat': 2,
                                        'cost_lr_size': [6, 5]}})
    assert SearchObjective(search, HPARAMS).cost(space.random_genotype(3, random.Random(0))) > 0


def test_the_tool_reports_a_missing_table_in_one_line(tmp_path, capsys):
    assert build_tool(['--table', str(tmp_path / 'nope.yml'), '--check', '2']) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith('build_latency_table.py: error: --table') and '\n' not in err


def test_a_relative_table_path_is_looked_up_under_the_project_root(tmp_path, monkeypatch):
    from hnas_basicsr.runtime import resolve_paths
    (tmp_path / 'root' / 'latency').mkdir(parents=True)
    (tmp_path / 'root' / 'latency' / 'cpu.yml').write_text('ms: {}\n')
    (tmp_path / 'elsewhere').mkdir()
    monkeypatch.chdir(tmp_path / 'elsewhere')
    opt = resolve_paths({'search': {'cost': 'latency', 'latency_table': 'latency/cpu.yml'}}, str(tmp_path / 'root'))
    assert opt['search']['latency_table'] == str(tmp_path / 'root' / 'latency' / 'cpu.yml')
