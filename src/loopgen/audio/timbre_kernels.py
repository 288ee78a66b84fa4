"""numba kernels of timbre_fast: the sequential loops of `timbral_models` 0.4.0 that numpy cannot
express as whole-array operations, compiled (on first use; cached in __pycache__).

Each kernel performs the package's floating-point operations in the package's order, so results
are identical: plain IEEE arithmetic (no fastmath), libm `pow` like numpy's scalar power.
"""

import numba
import numpy as np


@numba.njit(cache=True)
def sample_and_hold(abs_samples, decay, hold_samples):
    """timbral_util.sample_and_hold_envelope_calculation's loop over |samples|."""
    out = np.empty_like(abs_samples)
    previous = 0.0
    hold_counter = 0
    for i in range(abs_samples.shape[0]):
        sample = abs_samples[i]
        if sample >= previous:
            out[i] = sample
            previous = sample
            hold_counter = 0
        elif hold_counter < hold_samples:
            hold_counter += 1
            out[i] = previous
        else:
            decayed = previous - decay
            if decayed > sample:
                out[i] = decayed
                previous = decayed
            else:
                out[i] = sample
                previous = sample
    return out


@numba.njit(cache=True)
def median_rows(x, size):
    """scipy.ndimage.median_filter(x, size=(1, size), mode='reflect') for odd `size`, exactly (the
    median of an odd count is one of the values). The window is a ring of `size` slots with each
    value's rank (ties ordered by age); a step removes the oldest value and inserts the next with
    one comparison pass over the ring, and the median is the value of rank size // 2."""
    n_rows, n = x.shape
    half = size // 2
    period = 2 * n
    out = np.empty_like(x)
    values = np.empty(size)
    ranks = np.empty(size, dtype=np.int64)
    extended = np.empty(n + 2 * half)
    for r in range(n_rows):
        for k in range(n + 2 * half):  # 'reflect' = half-sample symmetric: d c b a | a b c d | d c b a
            m = (k - half) % period
            extended[k] = x[r, m] if m < n else x[r, period - 1 - m]
        for a in range(size):
            values[a] = extended[a]
        for a in range(size):
            rank = 0
            for b in range(size):
                rank += values[b] < values[a] or (values[b] == values[a] and b < a)
            ranks[a] = rank
            if rank == half:
                out[r, 0] = values[a]
        for i in range(1, n):
            slot = (i - 1) % size  # the oldest value's slot
            old = values[slot]
            new = extended[i - 1 + size]
            below_new = 0
            for a in range(size):
                v = values[a]
                ranks[a] += (v > new) - (v >= old)  # old leaves (all others are newer), new arrives (newest)
                below_new += v <= new
            values[slot] = new
            ranks[slot] = below_new - (old <= new)
            for a in range(size):
                if ranks[a] == half:
                    out[r, i] = values[a]
    return out


@numba.njit(cache=True)
def peak_scan(array_appended, mx, cthr):
    """The candidate scan of timbral_util.detect_peaks (MIRtoolbox's mirpeaks contrast rule):
    indices (into the appended array) of the candidates `mx` that stand `cthr` above their notches."""
    final = np.empty(len(mx), dtype=np.int64)
    n_final = 0
    j = 0
    mxj = mx[j]
    jj = j + 1
    bufmin = 2.0
    bufmax = array_appended[mxj]
    oldbufmin = np.min(array_appended[: mxj - 1]) if mxj > 1 else array_appended[0]
    while jj < len(mx):
        if mx[jj - 1] + 1 == mx[jj] - 1:
            bufmin = min(bufmin, array_appended[mx[jj - 1]])
        else:
            bufmin = min(bufmin, np.min(array_appended[mx[jj - 1] : mx[jj] - 1]))
        if bufmax - bufmin < cthr:  # no contrastive notch
            if array_appended[mx[jj]] > bufmax:
                j = jj
                mxj = mx[j]
                bufmax = array_appended[mxj]
                oldbufmin = min(oldbufmin, bufmin)
                bufmin = 2.0
            elif array_appended[mx[jj]] - bufmax <= 0:
                bufmax = max(bufmax, array_appended[mx[jj]])
                oldbufmin = min(oldbufmin, bufmin)
        else:  # a contrastive notch: keep the previous candidate if it stands out
            if bufmax - oldbufmin < cthr:
                oldbufmin = min(oldbufmin, bufmin)
            else:
                final[n_final] = mxj
                n_final += 1
                oldbufmin = bufmin
            bufmax = array_appended[mx[jj]]
            j = jj
            mxj = mx[j]
            bufmin = 2.0
        jj += 1
    if bufmax - oldbufmin >= cthr and (bufmax - np.min(array_appended[mx[j] + 1 :]) >= cthr):
        final[n_final] = mx[j]
        n_final += 1
    return final[:n_final]


# ISO 532 B tables of timbral_util.specific_loudness.
RAP = np.array([45, 55, 65, 71, 80, 90, 100, 120], dtype=np.float64)
DLL = np.array(
    [
        [-32, -24, -16, -10, -5, 0, -7, -3, 0, -2, 0],
        [-29, -22, -15, -10, -4, 0, -7, -2, 0, -2, 0],
        [-27, -19, -14, -9, -4, 0, -6, -2, 0, -2, 0],
        [-25, -17, -12, -9, -3, 0, -5, -2, 0, -2, 0],
        [-23, -16, -11, -7, -3, 0, -4, -1, 0, -1, 0],
        [-20, -14, -10, -6, -3, 0, -4, -1, 0, -1, 0],
        [-18, -12, -9, -6, -2, 0, -3, -1, 0, -1, 0],
        [-15, -10, -8, -4, -2, 0, -3, -1, 0, -1, 0],
    ],
    dtype=np.float64,
)
LTQ = np.array([30, 18, 12, 8, 7, 6, 5, 4, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3], dtype=np.float64)
A0 = np.array([0, 0, 0, 0, 0, 0, 0, 0, 0, 0, -0.5, -1.6, -3.2, -5.4, -5.6, -4, -1.5, 2, 5, 12])
DCB = np.array([-0.25, -0.6, -0.8, -0.8, -0.5, 0, 0.5, 1.1, 1.5, 1.7, 1.8, 1.8, 1.7, 1.6, 1.4, 1.2, 0.8, 0.5, 0, -0.5])
ZUP = np.array(
    [0.9, 1.8, 2.8, 3.5, 4.4, 5.4, 6.6, 7.9, 9.2, 10.6, 12.3, 13.8, 15.2, 16.7, 18.1, 19.3, 20.6, 21.8, 22.7, 23.6, 24]
)
RNS = np.array([21.5, 18, 15.1, 11.5, 9, 6.1, 4.4, 3.1, 2.13, 1.36, 0.82, 0.42, 0.30, 0.22, 0.15, 0.10, 0.035, 0])
USL = np.array(
    [
        [13.0, 8.2, 6.3, 5.5, 5.5, 5.5, 5.5, 5.5],
        [9.0, 7.5, 6.0, 5.1, 4.5, 4.5, 4.5, 4.5],
        [7.8, 6.7, 5.6, 4.9, 4.4, 3.9, 3.9, 3.9],
        [6.2, 5.4, 4.6, 4.0, 3.5, 3.2, 3.2, 3.2],
        [4.5, 3.8, 3.6, 3.2, 2.9, 2.7, 2.7, 2.7],
        [3.7, 3.0, 2.8, 2.35, 2.2, 2.2, 2.2, 2.2],
        [2.9, 2.3, 2.1, 1.9, 1.8, 1.7, 1.7, 1.7],
        [2.4, 1.7, 1.5, 1.35, 1.3, 1.3, 1.3, 1.3],
        [1.95, 1.45, 1.3, 1.15, 1.1, 1.1, 1.1, 1.1],
        [1.5, 1.2, 0.94, 0.86, 0.82, 0.82, 0.82, 0.82],
        [0.72, 0.67, 0.64, 0.63, 0.62, 0.62, 0.62, 0.62],
        [0.59, 0.53, 0.51, 0.50, 0.42, 0.42, 0.42, 0.42],
        [0.40, 0.33, 0.26, 0.24, 0.24, 0.22, 0.22, 0.22],
        [0.27, 0.21, 0.20, 0.18, 0.17, 0.17, 0.17, 0.17],
        [0.16, 0.15, 0.14, 0.12, 0.11, 0.11, 0.11, 0.11],
        [0.12, 0.11, 0.10, 0.08, 0.08, 0.08, 0.08, 0.08],
        [0.09, 0.08, 0.07, 0.06, 0.06, 0.06, 0.06, 0.05],
        [0.06, 0.05, 0.03, 0.02, 0.02, 0.02, 0.02, 0.02],
    ]
)


@numba.njit(cache=True)
def low_band_intensities(P):
    """specific_loudness, first step: the intensities Gi of the three lowest critical bands from
    the third-octave levels P (rows: windows), after the equal-loudness reductions."""
    Gi = np.zeros((P.shape[0], 3))
    Ti = np.zeros(11)
    for w in range(P.shape[0]):
        for i in range(11):
            j = 0
            while P[w, i] > (RAP[j] - DLL[j, i]) and j < 7:
                j += 1
            Ti[i] = 10.0 ** ((P[w, i] + DLL[j, i]) / 10.0)
        # np.sum of 6, 3 and 2 values: below 8 values numpy adds in sequence
        Gi[w, 0] = Ti[0] + Ti[1] + Ti[2] + Ti[3] + Ti[4] + Ti[5]
        Gi[w, 1] = Ti[6] + Ti[7] + Ti[8]
        Gi[w, 2] = Ti[9] + Ti[10]
    return Gi


@numba.njit(cache=True)
def _arange_value(start, step, i):
    """numpy.arange(start, stop, step)[i] for floats: numpy fills start, start + step, then
    start + i * ((start + step) - start)."""
    if i == 0:
        return start
    if i == 1:
        return start + step
    return start + i * ((start + step) - start)


@numba.njit(cache=True)
def _arange_length(start, stop, step):
    length = int(np.ceil((stop - start) / step))
    return length if length > 0 else 0


@numba.njit(cache=True)
def loudness_patterns(P, LCB):
    """specific_loudness, the rest: (N_entire, N_single) of every window from its third-octave
    levels P and the three lowest critical band levels LCB: main loudness per critical band, then
    the masking slopes sampled every 0.1 Bark. Raises where the package would fail."""
    n_windows = P.shape[0]
    N_entire = np.zeros(n_windows)
    N_single = np.zeros((n_windows, 240))
    Nm = np.zeros(21)
    ns = np.zeros(1024)
    for w in range(n_windows):
        for i in range(20):
            Le = P[w, i + 8]
            if i <= 2:
                Le = LCB[w, i]
            Lk = Le - A0[i]
            Nm[i] = 0.0
            if Le > LTQ[i]:
                Le = Lk - DCB[i]
                S = 0.25
                MP1 = 0.0635 * 10.0 ** (0.025 * LTQ[i])
                MP2 = (1 - S + S * 10.0 ** (0.1 * (Le - LTQ[i]))) ** 0.25 - 1
                Nm[i] = MP1 * MP2
                if Nm[i] <= 0:
                    Nm[i] = 0.0
        Nm[20] = 0.0
        KORRY = 0.4 + 0.32 * Nm[0] ** 0.2
        if KORRY > 1:
            KORRY = 1.0
        Nm[0] = Nm[0] * KORRY

        N, z1, n1, n2, z2 = 0.0, 0.0, 0.0, 0.0, 0.0
        j, iz, z = 17, 0, 0.1
        k, k_defined = 0.0, False
        n_ns = 0
        for i in range(21):
            ig = min(i - 1, 7)
            if ig < 0:
                ig += 8  # Python's USL[j, -1]
            control = 1
            while z1 < ZUP[i] or control == 1:
                if n1 < Nm[i]:
                    j = 0
                    while RNS[j] > Nm[i]:
                        j += 1
                if n1 <= Nm[i]:  # flat part
                    z2 = ZUP[i]
                    n2 = Nm[i]
                    N = N + n2 * (z2 - z1)
                    for step in range(_arange_length(z, z2 + 0.01, 0.1)):
                        k = _arange_value(z, 0.1, step)
                        k_defined = True
                        if iz == n_ns:
                            ns[n_ns] = n2
                            n_ns += 1
                        elif iz < n_ns:
                            ns[iz] = n2
                        if k < (z2 - 0.05):
                            iz += 1
                    if not k_defined:
                        raise NameError("name 'k' is not defined")
                    z = np.rint(k * 10) * 0.1  # Python's round: half to even
                if n1 > Nm[i]:  # sloped part
                    n2 = RNS[j]
                    if n2 < Nm[i]:
                        n2 = Nm[i]
                    dz = (n1 - n2) / USL[j, ig]
                    dz = np.rint(dz * 10) * 0.1
                    if dz == 0:
                        dz = 0.1
                    z2 = z1 + dz
                    if z2 > ZUP[i]:
                        z2 = ZUP[i]
                        dz = z2 - z1
                        n2 = n1 - dz * USL[j, ig]
                    N = N + dz * (n1 + n2) / 2.0
                    for step in range(_arange_length(z, z2 + 0.01, 0.1)):
                        k = _arange_value(z, 0.1, step)
                        k_defined = True
                        value = n1 - (k - z1) * USL[j, ig]
                        if iz == n_ns:
                            ns[n_ns] = value
                            n_ns += 1
                        elif iz < n_ns:
                            ns[iz] = value
                        if k < (z2 - 0.05):
                            iz += 1
                    if not k_defined:
                        raise NameError("name 'k' is not defined")
                    z = np.rint(k * 10) * 0.1
                if n2 == RNS[j]:
                    j += 1
                if j > 17:
                    j = 17
                n1 = n2
                z1 = z2
                z1 = np.rint(z1 * 10) * 0.1
                control += 1
        if N < 0:
            N = 0.0
        if N <= 16:
            N = np.floor(N * 1000 + 0.5) / 1000.0
        else:
            N = np.floor(N * 100 + 0.05) / 100.0
        if n_ns < 240:
            raise IndexError("list index out of range")
        N_entire[w] = N
        N_single[w] = ns[:240]
    return N_entire, N_single


@numba.njit(cache=True)
def rollon_rolloff(magnitude, thresholds, rolloff_thresh, slack):
    """Per row of a magnitude spectrogram: the roll-on count n (first prefix of n bins whose
    running sum reaches the row's threshold), whether that prefix sum came within `slack` of the
    threshold (then numpy's pairwise np.sum, which the package uses, must decide), and the last
    bin at or above `rolloff_thresh` (-1 if none)."""
    rows, bins = magnitude.shape
    rollon = np.full(rows, bins)
    uncertain = np.zeros(rows, dtype=np.bool_)
    rolloff = np.full(rows, -1)
    for r in range(rows):
        threshold = thresholds[r]
        running = 0.0
        for k in range(bins):
            previous = running
            running += magnitude[r, k]
            if running >= threshold:
                rollon[r] = k + 1
                uncertain[r] = abs(running - threshold) <= slack or (k >= 1 and abs(previous - threshold) <= slack)
                break
        if rollon[r] == bins:  # reached only by the full sum (or never, by rounding)
            uncertain[r] = True
        for k in range(bins - 1, -1, -1):
            if magnitude[r, k] >= rolloff_thresh:
                rolloff[r] = k
                break
    return rollon, uncertain, rolloff
