"""Search space: vocabularies, ordered decisions, encode/decode."""
import random

from hnas_basicsr.nas import space


def test_vocabularies_follow_table_one():
    assert len(space.NORMAL_OPS) == 7 and {'udpb', 'rcab', 'identity'} <= set(space.NORMAL_OPS)
    assert set(space.UPSAMPLING_OPS) == {'area', 'bilinear', 'nearest', 'sub_pixel', 'deconvolution'}


def test_decisions_per_node_are_two_inputs_then_two_ops():
    names = [d.name for d in space.cell_decisions('normal')[:4]]
    assert names == ['normal.node2.input1', 'normal.node2.input2', 'normal.node2.op1', 'normal.node2.op2']
    sizes = [d.size for d in space.cell_decisions('upsampling')]
    assert sizes == [2, 2, 5, 5, 3, 3, 5, 5, 4, 4, 5, 5, 5, 5, 5, 5]


def test_position_is_the_last_decision_with_num_layers_choices():
    assert space.decisions(12)[-1] == space.Decision('position', 12)
    assert len(space.decisions(12)) == 2 * 4 * space.NUM_NODES + 1


def test_decode_inverts_encode():
    for seed in range(50):
        genotype = space.random_genotype(7, random.Random(seed))
        assert space.decode(space.encode(genotype), 7) == genotype


def test_position_index_zero_is_position_one():
    indices = [0] * (len(space.decisions(5)) - 1) + [0]
    assert space.decode(indices, 5).position == 1


def test_random_genotype_covers_every_position():
    rng = random.Random(0)
    assert {space.random_genotype(4, rng).position for _ in range(200)} == {1, 2, 3, 4}


def test_random_genotype_respects_max_identity_and_still_reaches_the_cap():
    rng = random.Random(0)
    uncapped = [space.identity_edges(space.random_genotype(12, rng)) for _ in range(300)]
    assert max(uncapped) > 2
    for cap in (0, 2):
        counts = [space.identity_edges(space.random_genotype(12, rng, max_identity=cap)) for _ in range(300)]
        assert max(counts) == cap


def test_random_genotype_without_a_cap_draws_as_before():
    assert space.random_genotype(12, random.Random(5)) == space.random_genotype(12, random.Random(5), None)
