"""Genotype: plain-data round trip and one clear rejection per kind of bad input."""
import copy
import re
import subprocess
import sys

import pytest
import yaml

from hnas_basicsr.nas.genotype import Genotype, GenotypeError, published_genotypes

HNAS_A = published_genotypes()['HNAS_A'].to_dict()


def test_round_trip_through_yaml_is_identity():
    for genotype in published_genotypes().values():
        text = yaml.safe_dump(genotype.to_dict())
        assert Genotype.from_dict(yaml.safe_load(text), 12) == genotype


def test_description_round_trip_is_identity():
    for genotype in published_genotypes().values():
        assert Genotype.from_description(genotype.describe(), 12) == genotype


@pytest.mark.parametrize('edit, words', [
    (lambda text: text.replace(' || position', ' | position'), 'position N'),
    (lambda text: text.replace('(sep_conv_5x5,1) | n3', '(sep_conv_5x5,1) (identity,0) | n3', 1), 'two [op, input]'),
    (lambda text: text.replace('position 10', 'position 13'), 'outside 1..12'),
    (lambda text: text.replace('| n3 ', '| n9 ', 1), "node 3 should read 'n3 (op,input) (op,input)', got 'n9 "),
    (lambda text: text.replace('(identity,1)', '(identity, 1)', 1), "got 'n2 (identity, 1)")])
def test_description_rejects_bad_text(edit, words):
    with pytest.raises(GenotypeError, match=re.escape(words)):
        Genotype.from_description(edit(published_genotypes()['HNAS_A'].describe()), 12)


def test_published_positions_are_one_based():
    assert [g.position for g in published_genotypes().values()] == [10, 12, 12]


def test_hnas_a_first_normal_node_matches_paper():
    assert published_genotypes()['HNAS_A'].normal[0] == (('identity', 1), ('sep_conv_5x5', 1))


def _mutated(path, value):
    mapping = copy.deepcopy(HNAS_A)
    target = mapping
    for key in path[:-1]:
        target = target[key]
    target[path[-1]] = value
    return mapping


@pytest.mark.parametrize('path, value, words', [
    (('normal', 0, 0, 0), 'conv_7x7', ['genotype.normal[0]', "unknown op 'conv_7x7'"]),
    (('upsampling', 1, 1, 0), 'rcab', ['genotype.upsampling[1]', "unknown op 'rcab'"]),
    (('normal', 0, 1, 1), 2, ['node 2', 'input 2 is not an earlier node']),
    (('normal', 3, 0, 1), -1, ['node 5', 'input -1']),
    (('normal', 2, 0, 1), '1', ['input must be an integer', "'1'"]),
    (('normal', 2, 0), ['identity'], ['expected [op, input]']),
    (('normal', 2), [['identity', 1]], ['expected two [op, input] edges']),
    (('position', ), 0, ['genotype.position', '0 is outside 1..12']),
    (('position', ), 13, ['genotype.position', '13 is outside 1..12']),
    (('position', ), 2.5, ['genotype.position', 'expected an integer']),
    (('position', ), True, ['genotype.position', 'expected an integer']),
])
def test_rejects_bad_field_naming_field_and_value(path, value, words):
    with pytest.raises(GenotypeError) as info:
        Genotype.from_dict(_mutated(path, value), 12)
    for word in words:
        assert word in str(info.value)


def test_rejects_wrong_node_count():
    mapping = copy.deepcopy(HNAS_A)
    mapping['normal'] = mapping['normal'][:3]
    with pytest.raises(GenotypeError, match=r'genotype.normal: expected 4 nodes, got 3'):
        Genotype.from_dict(mapping)


def test_rejects_missing_and_unknown_fields():
    with pytest.raises(GenotypeError, match='missing field.*position'):
        Genotype.from_dict({'normal': HNAS_A['normal'], 'upsampling': HNAS_A['upsampling']})
    with pytest.raises(GenotypeError, match='unknown field.*depth'):
        Genotype.from_dict(dict(HNAS_A, depth=3))


def test_rejects_non_mapping():
    with pytest.raises(GenotypeError, match='expected a mapping'):
        Genotype.from_dict([1, 2, 3])


def test_position_upper_bound_needs_num_layers():
    assert Genotype.from_dict(_mutated(('position', ), 30)).position == 30
    with pytest.raises(GenotypeError):
        Genotype.from_dict(_mutated(('position', ), 30), num_layers=12)


def test_search_space_modules_do_not_import_torch():
    # ``import hnas_basicsr`` registers the plugin in BasicSR (torch): load the two modules without the package's
    # __init__
    code = ('import importlib.util, sys, types\n'
            'package = types.ModuleType("hnas_basicsr")\n'
            'package.__path__ = importlib.util.find_spec("hnas_basicsr").submodule_search_locations\n'
            'sys.modules["hnas_basicsr"] = package\n'
            'import hnas_basicsr.nas.genotype, hnas_basicsr.nas.space; print("torch" in sys.modules)')
    out = subprocess.run([sys.executable, '-c', code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == 'False'
