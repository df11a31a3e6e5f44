"""Categorical features given as text in a CSV (the notes' "male"/"female"), one-hot encoded by the CLI.

The notes: "If categorical data, such as a sex attribute with the values "male"
and "female", then you can convert it to a real-valued representation called a
one hot encoding."  This script writes a small CSV (age, sex, city -> bought) to a
temporary folder, trains on it with ``data.categorical_columns = ["sex", "city"]``,
predicts two new rows and shows that an unseen category is refused (exit code 2).
The categories are stored in the model file and applied by ``nnlab predict``.

Run:  PYTHONPATH=src python examples/categorical_csv.py
Measured at the commit that added it (seed 0): test accuracy 1.0000 (60 rows);
predictions yes, no; the unseen city 'berlin' gives exit code 2 and
"OneHotEncoder: feature column 2 has value berlin at row 0, not seen in fit (known: oslo, paris, rome)".
"""

import os
import tempfile

import numpy as np

from nnlab.cli import main


def write_people(path, n=300, seed=0):
    rng = np.random.default_rng(seed)
    sex, city = rng.choice(["male", "female"], n), rng.choice(["paris", "rome", "oslo"], n)
    age = rng.uniform(18, 80, n)
    bought = np.where((sex == "male") ^ (city == "oslo"), "yes", "no")
    with open(path, "w") as f:
        f.write("age,sex,city,bought\n")
        f.writelines(f"{a:.1f},{s},{c},{b}\n" for a, s, c, b in zip(age, sex, city, bought))


CONFIG = """
[data]
source = "csv"
path = "people.csv"
target = "bought"
categorical_columns = ["sex", "city"]   # names (or feature indices) of the text columns

[model]
hidden = [16]

[optimizer]
lr = 0.01

[train]
epochs = 30
"""

if __name__ == "__main__":
    folder = tempfile.mkdtemp(prefix="nnlab-categorical-")
    os.chdir(folder)
    write_people("people.csv")
    with open("people.toml", "w") as f:
        f.write(CONFIG)
    print(f"in {folder}")
    assert main(["train", "people.toml", "--quiet"]) == 0
    with open("new.csv", "w") as f:
        f.write("age,sex,city\n30,male,rome\n60,female,rome\n")
    assert main(["predict", "runs/people", "new.csv"]) == 0
    print(open("new.predictions.csv").read())
    with open("unseen.csv", "w") as f:
        f.write("age,sex,city\n30,male,berlin\n")
    print("exit code for an unseen category:", main(["predict", "runs/people", "unseen.csv"]))
