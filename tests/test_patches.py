"""The patches of basicsr hold only while an entry point runs, and name the basicsr version they were written for."""
import basicsr
import basicsr.test
import basicsr.train
import pytest
from basicsr.utils import options

from hnas_basicsr import patches

PATCHED = [(basicsr.train, 'parse_options'), (basicsr.test, 'parse_options'), (basicsr.train, 'load_resume_state'),
           (options, 'ordered_yaml'), (options, 'init_dist')]


def test_basicsrs_functions_are_replaced_inside_the_block_and_restored_after_it():
    originals = [getattr(module, name) for module, name in PATCHED]
    with pytest.raises(KeyError):  # (an error inside the block restores them too)
        with patches.applied():
            assert all(getattr(module, name) is not f for (module, name), f in zip(PATCHED, originals))
            raise KeyError
    assert [getattr(module, name) for module, name in PATCHED] == originals


def test_another_basicsr_version_is_warned_about(monkeypatch):
    monkeypatch.setattr(basicsr, '__version__', '1.4.3')
    with pytest.warns(UserWarning, match='basicsr 1.4.2; this is basicsr 1.4.3'):
        with patches.applied():
            pass


def test_a_missing_basicsr_function_is_refused_clearly(monkeypatch):
    monkeypatch.delattr(basicsr.train, 'load_resume_state')
    with pytest.raises(RuntimeError, match='has no basicsr.train.load_resume_state: hnas_basicsr needs basicsr 1.4.2'):
        with patches.applied():
            pass
