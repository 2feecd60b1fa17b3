"""Write the compact MIT-BIH beat subset that ships inside bimsim (``mitdb_beats.nc``).

From every record in the folder (the 40 non-paced records of ``$BIMSIM_DATA/mitdb``), up to 100
beats per AAMI class are drawn at random (seed 0), lead MLII, 0.25 s before to 0.40 s after the R
peak. Samples are stored as the records' own 12-bit values (int16, scale 1/200 mV), so the subset
is exact. Run from the repository root::

    python -m bimsim.data.make_mitdb_subset --data ../shared/data/mitdb

then update :data:`bimsim.data.mitdb.EMBEDDED_SHA256` with the printed checksum.
"""

import hashlib
from pathlib import Path

from bimsim.cli import ArgumentParser, add_out_argument, run_command
from bimsim.data.mitdb import EMBEDDED, beat_dataset, mitdb_dir, records_in
from bimsim.io import write_dataset

CAP, SEED = 100, 0

ENCODING = {
    "waveform": {
        "dtype": "int16",
        "scale_factor": 1 / 200,
        "_FillValue": -32768,
        "zlib": True,
        "complevel": 9,
    },
    **{key: {"zlib": True} for key in ("record", "symbol", "aami", "r_peak_time")},
    **{key: {"zlib": True, "dtype": "float32"} for key in ("rr_pre", "rr_post", "rr_local")},
}


def subset(directory):
    """The shipped subset, built from the records in ``directory``."""
    return beat_dataset(directory, records_in(directory), cap=CAP, seed=SEED)


def main(argv=None):
    p = ArgumentParser(description=__doc__)
    p.add_argument("--data", help="MIT-BIH folder (default: $BIMSIM_DATA/mitdb)")
    p.add_input("--data", lambda args: mitdb_dir(args.data))
    add_out_argument(p, str(EMBEDDED), shipped=EMBEDDED)  # it makes the subset bimsim ships
    args = p.parse_args(argv)
    try:
        ds = subset(mitdb_dir(args.data))
    except (FileNotFoundError, ValueError) as err:
        p.error(str(err))
    path = write_dataset(ds, args.out, encoding=ENCODING)
    digest = hashlib.sha256(Path(path).read_bytes()).hexdigest()
    print(f"wrote {path}: {ds.sizes['beat']} beats, {Path(path).stat().st_size} bytes")
    print(f"sha256 {digest}")


if __name__ == "__main__":
    run_command(main)
