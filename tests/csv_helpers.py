"""CSV files the multi-task CLI tests read: three numeric features, a class column and a numeric column."""

import numpy as np


def write_kind_amount_csv(path, rows: int) -> None:
    """``a,b,c,kind,amount``: kind is 'big' when a > 0, else 'small'; amount is 2·b (seeded, the same every call)."""
    X = np.random.default_rng(0).standard_normal((rows, 3))
    with open(path, "w") as f:
        f.write("a,b,c,kind,amount\n")
        f.writelines(f"{r[0]:.4f},{r[1]:.4f},{r[2]:.4f},{'big' if r[0] > 0 else 'small'},{r[1] * 2:.4f}\n" for r in X)
