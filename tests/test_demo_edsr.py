"""The demo's hand-made comparison: the EDSR of the derived network's width closest to it in multiply-adds."""
import os
import sys

import pytest

sys.path.insert(0, os.path.join(os.path.dirname(__file__), os.pardir, 'tools'))

import demo  # noqa: E402
from hnas_basicsr.nas.cost import DEFAULT_LR_SIZE, count_cost  # noqa: E402
from hnas_basicsr.nas.genotype import published_genotypes  # noqa: E402
from hnas_basicsr.networks import build  # noqa: E402


def macs(opt):
    return count_cost(build(opt, 'network'), DEFAULT_LR_SIZE, 3).macs


@pytest.mark.parametrize('name, num_feat', [('HNAS_A', 16), ('HNAS_C', 16), ('HNAS_B', 8)])
def test_the_edsr_is_the_closest_in_multiply_adds_whatever_the_blocks_needed(name, num_feat):
    """No block count is closer; the cheaper HNAS-A needs few blocks, HNAS-C more than the 32 the demo once capped at."""
    net = {'type': 'HNASNet', 'genotype': published_genotypes()[name].to_dict(), 'num_feat': num_feat, 'upscale': 2}
    target = macs(net)
    edsr = demo.similar_edsr(net)
    assert edsr['type'] == 'EDSR' and edsr['num_feat'] == num_feat and edsr['upscale'] == 2
    error = abs(macs(edsr) - target)
    for other in (edsr['num_block'] - 1, edsr['num_block'] + 1):
        if other >= 1:
            assert error <= abs(macs({**edsr, 'num_block': other}) - target)
    if name == 'HNAS_C':
        assert edsr['num_block'] > 32
