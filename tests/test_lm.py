"""The language-modelling task: sequences, the n-gram floor as a model, BIM's token predictor."""

import numpy as np
import pytest
from brian2 import ms

from bimsim.data.wikitext import wikitext_dir
from bimsim.io import read_dataset
from bimsim.tasks.floors import CharacterNGram
from bimsim.tasks.lm import bits_per_character, lm_task, perplexity, sequences


def test_sequences_pair_each_character_with_the_next():
    codes = np.arange(23)
    inputs, targets = sequences(codes, 5)
    assert inputs.shape == targets.shape == (4, 5)
    np.testing.assert_array_equal(targets, inputs + 1)
    np.testing.assert_array_equal(inputs.ravel(), codes[:20])
    with pytest.raises(ValueError, match="3 characters make no sequence of 5"):
        sequences(codes[:3], 5)


def test_bits_per_character_and_perplexity():
    uniform = np.full((2, 3, 8), 1 / 8)
    targets = np.zeros((2, 3), dtype=int)
    assert bits_per_character(targets, uniform) == pytest.approx(3.0)
    assert perplexity(targets, uniform) == pytest.approx(8.0)


def test_the_ngram_distribution_is_its_probabilities_and_sums_to_one():
    rng = np.random.default_rng(0)
    model = CharacterNGram(3, 7).fit(rng.integers(0, 7, 500))
    for context in ([], [1], [1, 2], [6, 6, 6]):
        p = model.distribution(context)
        assert p.sum() == pytest.approx(1.0)
        np.testing.assert_allclose(p, [model.probability(s, context) for s in range(7)])


def test_ngrams_are_counted_within_each_sequence_only():
    model = CharacterNGram(2, 4).fit_sequences([np.array([0, 1]), np.array([2, 3])])
    assert model.counts[1] == {(0,): {1: 1}, (2,): {3: 1}}  # no bigram (1, 2) across the ends
    assert model.totals[0][()] == (4, 4)


def test_token_tasks_need_a_target_per_token(monkeypatch):
    task = lm_task(wikitext_dir(), "valid", 5001, 50)
    with pytest.raises(ValueError, match="a token task needs a target per token"):
        type(task)(**{**task.__dict__, "labels": task.labels[:, 0]})
    with pytest.raises(ValueError, match=r"tokens must be .* integers, got float64"):
        type(task)(**{**task.__dict__, "signals": task.signals.astype(float)})
    with pytest.raises(ValueError, match="a target at every step is for token tasks only"):
        type(task)(**{**task.__dict__, "tokens": False, "signals": task.signals[..., None] * 1.0})


def test_the_task_trains_on_valid_and_tests_on_test_with_one_vocabulary(monkeypatch):
    task = lm_task(wikitext_dir(), "valid", 5001, 50)
    assert task.signals.shape == task.labels.shape == (200, 50) and task.per_step
    fold = task.folds[0]
    assert fold.train.sum() == fold.test.sum() == 100
    assert set(task.groups[fold.train]) == {"valid"} and set(task.groups[fold.test]) == {"test"}
    # the targets are the inputs shifted by one, within the consecutive training text
    np.testing.assert_array_equal(task.labels[:99, -1], task.signals[1:100, 0])
    assert task.classes[0] == "\ufffd" and task.attrs["split"] == "train on valid, test on test"
    with pytest.raises(FileNotFoundError, match="no train split"):
        lm_task(wikitext_dir(), "train", 5001, 50)
    monkeypatch.setattr("bimsim.limits.MAX_BYTES", 1e6)
    with pytest.raises(ValueError, match=r"the test predictions of 100 sequences of 50 charac"):
        lm_task(wikitext_dir(), "valid", 5001, 50)


@pytest.mark.slow
def test_bim_predicts_each_token_from_the_tokens_before_it_only():
    from bimsim.tasks.bim_tokens import BIMTokenPredictor
    from bimsim.tasks.config import BIMConfig

    config = BIMConfig(copies=4, hidden=8, dt=2 * ms, readout_dt=10 * ms)
    rng = np.random.default_rng(0)
    codes = rng.integers(0, 6, (8, 12))
    model = BIMTokenPredictor(6, 12, token_dt=10 * ms, config=config, seed=1)
    loss = model.fit_epoch(codes, np.zeros((8, 0)), np.roll(codes, -1, axis=1), rng)
    assert np.isfinite(loss) and loss > 0
    p = model.predict_proba(codes)
    assert p.shape == (8, 12, 6) and np.allclose(p.sum(axis=-1), 1)
    assert model.counts["input_spikes"] == 12  # one spike per token
    changed = codes.copy()
    changed[:, 7] = (changed[:, 7] + 1) % 6
    q = model.predict_proba(changed)
    np.testing.assert_array_equal(p[:, :7], q[:, :7])  # no step sees a later token
    assert not np.allclose(p[:, 7], q[:, 7])  # step 7 predicts the token after token 7
    with pytest.raises(ValueError, match=r"token_dt .* must equal the readout step"):
        BIMTokenPredictor(6, 12, token_dt=5 * ms, config=config)
    with pytest.raises(ValueError, match="tokens must lie in"):
        model.predict_proba(codes + 6)


@pytest.mark.slow
def test_quick_run_reports_bits_per_character_beside_the_floor(run_script, tmp_path):
    result = run_script(
        "bimsim/tasks/lm.py", "--quick", "--no-progress", "--out", tmp_path / "l.nc"
    )
    assert result.returncode == 0, result.stderr
    assert "split: train on valid, test on test" in result.stdout and "bpc" in result.stdout
    ds = read_dataset(tmp_path / "l.nc")
    assert ds.bits.dims == ("seed", "model", "sample") and ds.target.dims == ("sample", "step")
    assert list(ds.model.values) == ["bim", "cnn", "gru", "snn", "ssm", "floor"]
    np.testing.assert_allclose(ds.perplexity, 2.0**ds.bpc, rtol=1e-12)
    # every model beats the uniform distribution over the vocabulary only if it learned
    assert ds.bpc.sel(model="floor").item() < np.log2(ds.sizes["class"])
    assert ds.bpc.attrs["units"] == "bit" and ds.sizes["sample"] == 64
