"""How long do the short commands take from a cold process, against Python's own start?

    python bench/startup.py [--runs 10]
    /path/to/base-venv/bin/python bench/startup.py   # an install without the semantic extra

The commands are those of the Python that runs this script (its `digest` beside it): run
it with the Python of a virtual environment made by `pip install -e .` alone to measure an
install without the semantic extra (which brings rich and pygments, imported by httpx).

Runs each command --runs times in a fresh subprocess (output discarded) and prints the
median wall time and the median CPU (user + system) of the child:

- the physical limits: `python -c pass` (Python's start), `import lxml.etree, httpx` (parsing
  and fetching), and `import numpy, jinja2, lxml.etree` (what a preview cannot do without:
  the keyword index, the templates, the snapshot's listings);
- `import numpy`, `import jinja2` alone, and `import digest.cli.preview` (every module a
  preview loads, nothing run: the preview's figure less this one is its work);
- `import digest.collect.fetch` and the same with a Fetcher made (its HTTP client: TLS is
  set up on the first https:// request, so for http:// the two differ by little);
- `digest --help`;
- `digest preview --from examples/snapshot -k diffusion -k "language model"` with
  `semantic = false` (the keyword path; a scratch folder for its output). With semantic
  matching off nothing of torch or sentence-transformers is imported, as without the extra:
  the figure is that of a preview without the semantic extra.

Bytecode is cached, as for an installed package: PYTHONDONTWRITEBYTECODE is removed from the
children's environment and each command runs once, uncounted, before the measured runs.

On a shared machine the wall time moves with the load; the CPU time much less.
For where the time goes: `python -X importtime -m digest.cli ... 2> imports.txt`.
"""

from __future__ import annotations

import argparse
import importlib.util
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


def measure(command: list[str], runs: int, cwd: Path) -> tuple[float, float]:
    """Median (wall, CPU) seconds of `command` over `runs` fresh processes."""
    walls, cpus = [], []
    env = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
    subprocess.run(command, cwd=cwd, check=True, stdout=subprocess.DEVNULL, env=env)
    for _ in range(runs):
        before = resource.getrusage(resource.RUSAGE_CHILDREN)
        started = time.perf_counter()
        subprocess.run(command, cwd=cwd, check=True, stdout=subprocess.DEVNULL, env=env)
        walls.append(time.perf_counter() - started)
        after = resource.getrusage(resource.RUSAGE_CHILDREN)
        cpus.append(after.ru_utime + after.ru_stime - before.ru_utime - before.ru_stime)
    return statistics.median(walls), statistics.median(cpus)


MAKE_FETCHER = (
    "from digest.collect.fetch import Fetcher\n"
    "from digest.config.settings import FetchSettings\n"
    "Fetcher(FetchSettings(user_agent='bench (+mailto:ops@example.org)')).close()"
)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=10)
    args = parser.parse_args()
    beside = Path(sys.executable).parent / "digest"
    digest = str(beside) if beside.exists() else sys.exit(f"no {beside}: pip install -e .")
    with tempfile.TemporaryDirectory() as scratch:
        work = Path(scratch)
        config = work / "digest.toml"
        config.write_text(f'[digest]\nsemantic = false\ndata_dir = "{work}"\n', "utf-8")
        commands = {
            "python -c pass": [sys.executable, "-c", "pass"],
            "import lxml.etree, httpx": [sys.executable, "-c", "import lxml.etree, httpx"],
            "import numpy, jinja2, lxml.etree": [
                sys.executable,
                "-c",
                "import numpy, jinja2, lxml.etree",
            ],
            "import numpy": [sys.executable, "-c", "import numpy"],
            "import jinja2": [sys.executable, "-c", "import jinja2"],
            # every module a preview loads, and nothing run: the rest of a preview is its work
            "import digest.cli.preview": [sys.executable, "-c", "import digest.cli.preview"],
            "import digest.collect.fetch": [
                sys.executable,
                "-c",
                "import digest.collect.fetch",
            ],
            "  and a Fetcher made": [sys.executable, "-c", MAKE_FETCHER],
            "digest --help": [digest, "--help"],
            "digest preview --from snapshot": [
                digest,
                "--config",
                str(config),
                "preview",
                "--from",
                str(REPO / "examples" / "snapshot"),
                "-k",
                "diffusion",
                "-k",
                "language model",
                "--out",
                str(work / "out"),
            ],
        }
        extra = "with" if importlib.util.find_spec("sentence_transformers") else "without"
        print(f"{sys.executable} ({extra} the semantic extra)")
        print(
            f"{args.runs} runs each, medians; {os.cpu_count()} CPUs, load average "
            f"{os.getloadavg()[0]:.1f}"
        )
        for label, command in commands.items():
            wall, cpu = measure(command, args.runs, work)
            print(f"  {label:32} {wall * 1000:7.0f} ms wall {cpu * 1000:7.0f} ms CPU")


if __name__ == "__main__":
    main()
