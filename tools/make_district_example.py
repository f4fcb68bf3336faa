"""Regenerate the shipped example district and its synthetic case export (run from the repository root):

    python tools/make_district_example.py

scenarios/district_example.yaml is scenarios/data/district_example.csv imported (tests check they
agree); scenarios/data/district_example_cases.csv is one run of it at its defaults (seed 7, 120 days),
written in the Chinese column names and values of district_example_cases_map.yaml.
"""

import subprocess
import sys

QUESTION = ("Which of a real-looking subdistrict's 12 communities (old lanes, estates, urban and rural villages) "
            "are served worst, and does a policy close the gaps?")
DESCRIPTION = ("A synthetic-from-published subdistrict of 12 communities (old inner city, commodity estates, urban "
               "villages, rural villages) with polygons on a plane; sources per community above and in docs/district.md")


def govsim(*args: str) -> None:
    subprocess.run([sys.executable, "-m", "sim.cli", *args], check=True)


if __name__ == "__main__":
    govsim("district", "import", "scenarios/data/district_example.csv", "--out", "scenarios/district_example.yaml",
           "--force", "--name", "district_example", "--description", DESCRIPTION, "--question", QUESTION)
    govsim("district", "export-cases", "district_example", "--seed", "7", "--steps", "120",
           "--map", "scenarios/data/district_example_cases_map.yaml",
           "--out", "scenarios/data/district_example_cases.csv", "--force")
