"""Non-neural floors: simple models on standard hand-made features, to stand beside every network.

A result table is honest only beside a floor that needs no neurons. Each task has one:

* ECG: RR intervals (de Chazal, O'Dwyer & Reilly 2004 classified beats from them with a linear
  model): the previous and the next interval, their local mean and the two relative to it
  (:func:`rr_features`);
* EEG: log band powers (delta to gamma) of each channel, by Welch's method (:func:`band_powers`);
* speech: the mean and s.d. over frames of 13 mel-frequency cepstral coefficients
  (:func:`mfcc_statistics`);
* language: a character n-gram model with interpolated absolute discounting
  (:class:`CharacterNGram`), scored in bits per character.

Classification floors are a multinomial logistic regression on standardised features
(:func:`logistic_regression`, scikit-learn), with its settings fixed here, not tuned on any split.
"""

import numpy as np

__all__ = [
    "EEG_BANDS",
    "CharacterNGram",
    "band_powers",
    "fit_logistic_regression",
    "logistic_regression",
    "mfcc_statistics",
    "rr_features",
]

#: The classical EEG bands in Hz: delta, theta, alpha, beta, gamma (to 45 Hz).
EEG_BANDS = {
    "delta": (0.5, 4.0),
    "theta": (4.0, 8.0),
    "alpha": (8.0, 13.0),
    "beta": (13.0, 30.0),
    "gamma": (30.0, 45.0),
}


def fit_logistic_regression(features, labels, seed=0):
    """A logistic regression on standardised ``features`` (a fitted scikit-learn pipeline).

    Features are standardised with the training set's mean and spread; the settings are fixed
    (L2, C = 1, lbfgs), not tuned on any split.
    """
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    features = np.asarray(features)
    if features.ndim != 2:
        raise ValueError("features must be a (samples, features) array")
    if not np.all(np.isfinite(features)):
        raise ValueError("features hold NaN or infinite values")
    model = make_pipeline(StandardScaler(), LogisticRegression(max_iter=5000, random_state=seed))
    return model.fit(features, np.asarray(labels))


def logistic_regression(train_features, train_labels, test_features, seed=0):
    """Class probabilities of ``test_features`` by :func:`fit_logistic_regression` on the
    training set: ``(test samples, classes seen in training)``, columns in sorted label order.
    """
    test_features = np.asarray(test_features)
    if test_features.ndim != 2:
        raise ValueError("features must be (samples, features) arrays")
    if not np.all(np.isfinite(test_features)):
        raise ValueError("features hold NaN or infinite values")
    model = fit_logistic_regression(train_features, train_labels, seed=seed)
    return model.predict_proba(test_features)


def rr_features(beats):
    """RR-interval features of beats (a Dataset from :mod:`bimsim.data.mitdb`), ``(beats, 5)``.

    The previous and the next RR interval and the mean of up to 10 intervals before the beat (s),
    and the previous and next interval divided by that local mean.
    """
    pre, post, local = (
        np.asarray(beats[k].values, dtype=float) for k in ("rr_pre", "rr_post", "rr_local")
    )
    if np.any(local <= 0):
        raise ValueError("the local mean RR interval must be positive")
    return np.stack([pre, post, local, pre / local, post / local], axis=1)


def band_powers(signals, fs, bands=EEG_BANDS):
    """Log power of each band in each channel, by Welch's method (1 s windows, half overlap).

    Parameters
    ----------
    signals : array
        ``(samples, time)`` or ``(samples, time, channels)``.
    fs : float
        Sampling frequency in Hz.
    bands : dict of str to (float, float)
        Band edges in Hz.

    Returns
    -------
    numpy.ndarray
        ``(samples, channels * bands)``: ``log10`` of the mean power spectral density in each
        band, channel-major.
    """
    from scipy.signal import welch

    signals = np.asarray(signals, dtype=float)
    if signals.ndim == 2:
        signals = signals[:, :, None]
    if signals.ndim != 3:
        raise ValueError(f"signals must be (samples, time[, channels]), got shape {signals.shape}")
    nperseg = min(signals.shape[1], round(fs))
    frequency, density = welch(signals, fs=fs, nperseg=nperseg, axis=1)
    columns = []
    for low, high in bands.values():
        inside = (frequency >= low) & (frequency < high)
        if not inside.any():
            raise ValueError(f"band {low}-{high} Hz holds no frequency of the spectrum (fs = {fs})")
        columns.append(np.log10(density[:, inside].mean(axis=1) + 1e-30))
    return np.stack(columns, axis=2).reshape(len(signals), -1)


def mfcc_statistics(log_mel_frames, n_mfcc=13):
    """Mean and s.d. over frames of the MFCCs of one recording, ``(2 * n_mfcc,)``.

    ``log_mel_frames`` ``(frames, bands)`` are log mel energies (:func:`bimsim.tasks.audio.log_mel`,
    one unit 10 dB); the MFCCs are their type-II DCT over bands (librosa).
    """
    import librosa

    frames = np.asarray(log_mel_frames, dtype=float)
    if frames.ndim != 2 or len(frames) == 0 or frames.shape[1] < n_mfcc:
        raise ValueError(f"need (frames, bands >= {n_mfcc}) log mel energies, got {frames.shape}")
    mfcc = librosa.feature.mfcc(S=10.0 * frames.T, n_mfcc=n_mfcc)  # (n_mfcc, frames)
    return np.concatenate([mfcc.mean(axis=1), mfcc.std(axis=1)])


class CharacterNGram:
    """A character n-gram model with interpolated absolute discounting (Ney et al. 1994).

    ``p(c | h) = max(n(h, c) - d, 0) / n(h) + d · N1+(h ·) / n(h) · p(c | h')``, where ``h'`` drops
    the oldest symbol of the context ``h``, down to the uniform distribution over the vocabulary;
    a context never seen falls back to the longest shorter one seen. Every symbol gets a
    probability above zero, and the probabilities after any context sum to one.

    Parameters
    ----------
    order : int
        n: the model conditions on the ``n - 1`` preceding symbols.
    vocabulary_size : int
        Symbols are coded ``0 .. vocabulary_size - 1``.
    discount : float
        d in (0, 1).
    """

    def __init__(self, order, vocabulary_size, discount=0.75):
        if int(order) != order or order < 1:
            raise ValueError(f"order must be a positive integer, got {order!r}")
        if int(vocabulary_size) != vocabulary_size or vocabulary_size < 1:
            raise ValueError(f"vocabulary_size must be a positive integer, got {vocabulary_size!r}")
        if not 0 < discount < 1:
            raise ValueError(f"discount must lie in (0, 1), got {discount!r}")
        self.order, self.size, self.discount = int(order), int(vocabulary_size), float(discount)
        # per context length: context -> {symbol: count}, and context -> (total, distinct)
        self.counts = [{} for _ in range(self.order)]
        self.totals = [{} for _ in range(self.order)]

    def fit(self, codes):
        """Count every n-gram (of every order up to n) of the symbol sequence ``codes``."""
        return self.fit_sequences([codes])

    def fit_sequences(self, sequences):
        """Count the n-grams within each of ``sequences`` (none across their ends)."""
        for codes in sequences:
            codes = self._check(codes).tolist()
            for length in range(self.order):
                table = self.counts[length]
                for t in range(length, len(codes)):
                    row = table.setdefault(tuple(codes[t - length : t]), {})
                    row[codes[t]] = row.get(codes[t], 0) + 1
        for length, table in enumerate(self.counts):
            self.totals[length] = {
                context: (sum(row.values()), len(row)) for context, row in table.items()
            }
        return self

    def _levels(self, context):
        """From the empty context up to the last n - 1 symbols of ``context``, while the context
        was seen in training: the counts of the symbols that followed it, their total and how
        many distinct symbols they are."""
        context = tuple(context)
        for length in range(min(len(context), self.order - 1) + 1):
            key = context[len(context) - length :] if length else ()
            row = self.counts[length].get(key)
            if row is None:
                return
            yield row, *self.totals[length][key]

    def probability(self, symbol, context):
        """``p(symbol | context)``; only the last n - 1 symbols of ``context`` count."""
        p = 1.0 / self.size
        for row, total, distinct in self._levels(context):
            p = max(row.get(symbol, 0) - self.discount, 0) / total + (
                self.discount * distinct / total * p
            )
        return p

    def distribution(self, context):
        """``p(· | context)`` over the whole vocabulary, ``(vocabulary_size,)``, summing to one."""
        p = np.full(self.size, 1.0 / self.size)
        for row, total, distinct in self._levels(context):
            counts = np.zeros(self.size)
            counts[list(row)] = list(row.values())
            p = np.maximum(counts - self.discount, 0) / total + (
                self.discount * distinct / total * p
            )
        return p

    def bits_per_character(self, codes):
        """Mean ``-log2 p(c_t | c_{t-n+1} .. c_{t-1})`` over ``codes`` (context from its start)."""
        codes = self._check(codes).tolist()
        n = self.order
        bits = [
            -np.log2(self.probability(codes[t], codes[max(0, t - n + 1) : t]))
            for t in range(len(codes))
        ]
        return float(np.mean(bits))

    def _check(self, codes):
        codes = np.asarray(codes)
        if codes.ndim != 1 or len(codes) == 0:
            raise ValueError("codes must be a non-empty 1-D sequence")
        if codes.min() < 0 or codes.max() >= self.size:
            raise ValueError(
                f"codes must lie in [0, {self.size}), got {codes.min()}..{codes.max()}"
            )
        return codes.astype(np.int64)
