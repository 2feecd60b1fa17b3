"""The audio front end of the speech task: a log-mel filterbank, by librosa.

Speech reaches the spiking network as the energies of a mel filterbank, frame by frame: BIM's
delta modulators turn each band's log energy into up and down spikes, as a cochlear front end
would hand a spiking network its channels. :func:`log_mel` computes them with librosa (a
maintained audio library), and :func:`fixed_length` puts recordings of different lengths on one
time axis.
"""

import numpy as np

__all__ = ["FRAME_HOP_S", "fixed_length", "log_mel"]

#: Frame hop and window of the filterbank, in seconds.
FRAME_HOP_S = 0.010
FRAME_WINDOW_S = 0.025

#: Dynamic range kept below each recording's loudest frame-band, in dB.
TOP_DB = 80.0


def log_mel(samples, rate, *, bands=20, fmin=50.0):
    """Log mel-band energies of one recording, in bels above a floor ``TOP_DB`` below its peak.

    Parameters
    ----------
    samples : numpy.ndarray
        Mono samples in [-1, 1).
    rate : int
        Sampling rate in Hz.
    bands : int
        Mel bands from ``fmin`` to the Nyquist frequency.
    fmin : float
        Lowest band edge in Hz.

    Returns
    -------
    numpy.ndarray
        ``(frames, bands)``, each value in ``[0, TOP_DB / 10]``: 0 is the floor (silence), one
        unit is 10 dB. Frames every :data:`FRAME_HOP_S`, windows of :data:`FRAME_WINDOW_S`.
    """
    import librosa

    samples = np.asarray(samples, dtype=np.float32)
    if samples.ndim != 1 or len(samples) == 0:
        raise ValueError("samples must be a non-empty mono signal")
    hop, window = round(FRAME_HOP_S * rate), round(FRAME_WINDOW_S * rate)
    n_fft = 1 << (window - 1).bit_length()
    power = librosa.feature.melspectrogram(
        y=samples, sr=rate, n_fft=n_fft, hop_length=hop, win_length=window, n_mels=bands,
        fmin=fmin, fmax=rate / 2, center=True,
    )  # fmt: skip
    db = librosa.power_to_db(power, ref=np.max, top_db=TOP_DB)  # (bands, frames), max 0 dB
    return ((db + TOP_DB) / 10.0).T


def fixed_length(frames, length):
    """``frames`` ``(n, bands)`` cut or padded with zeros (silence) to ``length`` frames."""
    out = np.zeros((length, frames.shape[1]))
    out[: min(length, len(frames))] = frames[:length]
    return out
