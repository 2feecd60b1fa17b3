import brian2
import pytest
from brian2 import Hz, ms, mV

from bimsim.quantities import parse_quantity, require, require_count, require_positive


@pytest.mark.parametrize(
    ("text", "kind", "expected"),
    [
        ("16.8ms", "time", 16.8 * ms),
        ("1 Hz", "frequency", 1 * Hz),
        ("-100*ms", "time", -100 * ms),
        ("1e-3 s", "time", 1 * ms),
        ("-65mV", "voltage", -65 * mV),
    ],
)
def test_parse_quantity(text, kind, expected):
    assert abs(float((parse_quantity(text, kind) - expected) / expected)) < 1e-12


def test_parse_quantity_without_units_names_the_parameter():
    with pytest.raises(brian2.DimensionMismatchError, match=r"--tau-plus.*no units"):
        parse_quantity("16.8", "time", name="--tau-plus")


@pytest.mark.parametrize("text", ["16.8 mV", "1 Hz"])
def test_parse_quantity_wrong_dimension(text):
    with pytest.raises(brian2.DimensionMismatchError, match="tau"):
        parse_quantity(text, "time", name="tau")


@pytest.mark.parametrize("text", ["abc", "16.8 furlongs", ""])
def test_parse_quantity_unreadable(text):
    with pytest.raises(ValueError, match="tau"):
        parse_quantity(text, "time", name="tau")


def test_require_refuses_plain_numbers_and_nan():
    with pytest.raises(brian2.DimensionMismatchError, match="tau_plus must be a time"):
        require("tau_plus", 0.0168, "time")
    with pytest.raises(ValueError, match="finite"):
        require("tau_plus", float("nan") * ms, "time")
    with pytest.raises(ValueError, match="positive"):
        require_positive("tau_plus", -1 * ms, "time")


def test_require_count_takes_whole_numbers_from_one_and_names_the_rest():
    assert require_count("copies", 3) == 3 and require_count("copies", 4.0) == 4
    for bad in (0, -2, 2.5):
        with pytest.raises(ValueError, match=rf"copies must be a positive integer, got {bad!r}"):
            require_count("copies", bad)


def test_zero_dimensional_numbers_are_numbers():
    """What xarray's ``.values`` and numpy's reductions give (``np.array(0.5)``) is a number to
    the API's checks; an array of one value, a bool array or a quantity with units is not."""
    import numpy as np

    from bimsim.quantities import require_real

    assert require_real("eta", np.array(0.5)) == 0.5
    assert require_count("n_hidden", np.array(4)) == 4
    for value in (np.array([0.5]), np.array(True), 0.5 * ms):
        with pytest.raises(ValueError, match="eta must be a finite number"):
            require_real("eta", value)
