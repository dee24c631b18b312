"""The wheels a bare GPU machine lacks for `benchmarks/gpu_check.py`, in bundles that each fit one device call.

The GPU machine has CUDA torch, transformers and accelerate, but no network, and receives files only inside the
repo's working tree: 64 MiB per call, the tree itself included. The check imports TRL, datasets and lm-eval, which
import the rest of `WHEELS` (measured: a venv of torch + transformers + accelerate, these installed with --no-deps,
runs `gpu_check.py --smoke`). Here, the script `pip download --no-deps`s each at the version this environment has,
packs them first-fit decreasing into `wheels/bundle-N/` (gitignored) of at most 64 MiB less the working tree, and
prints the bundles and the commands that carry and install them. On the device, `--check` says which are already
importable, so a call can skip a bundle whose packages are all there.

    python benchmarks/gpu_wheels.py                      # here: download, bundle, print the device commands
    python benchmarks/gpu_wheels.py --python-version 3.12   # wheels for a device with another CPython
    python benchmarks/gpu_wheels.py --check              # on the device: what is importable, what to install
"""

from __future__ import annotations

import argparse
import importlib.metadata
import importlib.util
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
WHEELS_DIR = REPO / "wheels"
CALL_LIMIT = 64 * 2**20
"""What one device call carries: the working tree plus the carried paths."""
MARGIN = 2**20
"""Headroom for files the tree gains between bundling and the call (a note, a result)."""
WHEELS = {  # distribution: the module it installs
    "trl": "trl",
    "datasets": "datasets",
    "lm_eval": "lm_eval",
    "pyarrow": "pyarrow",
    "pandas": "pandas",
    "lxml": "lxml",
    "xxhash": "xxhash",
    "python-dateutil": "dateutil",
    "six": "six",
    "multiprocess": "multiprocess",
    "dill": "dill",
    "requests": "requests",
    "urllib3": "urllib3",
    "certifi": "certifi",
    "portalocker": "portalocker",
    "sacrebleu": "sacrebleu",
    "tabulate": "tabulate",
    "colorama": "colorama",
}
PLATFORMS = ("manylinux_2_28_x86_64", "manylinux_2_17_x86_64", "manylinux2014_x86_64")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--check", action="store_true", help="on the device: which packages are importable already")
    parser.add_argument("--python-version", help="download for this CPython (e.g. 3.12) instead of this one's")
    parser.add_argument("--find-links", help="a folder of wheels pip looks in first")
    args = parser.parse_args()
    if args.check:
        check()
        return
    tree = working_tree_bytes()
    budget = (CALL_LIMIT - tree - MARGIN) // 2**20 * 2**20  # whole MiB: small edits of the tree move no wheel
    download(WHEELS_DIR / "all", args.python_version, args.find_links)
    bundles = pack(sorted((WHEELS_DIR / "all").glob("*.whl")), budget)
    write_bundles(bundles)
    print_bundles(bundles, budget, tree)


def working_tree_bytes() -> int:
    """What a device call copies besides the carried paths: tracked files and untracked ones git does not ignore."""
    listed = subprocess.run(
        ["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"],
        cwd=REPO,
        capture_output=True,
        check=True,
    ).stdout
    paths = [REPO / name for name in listed.decode().split("\0") if name]
    return sum(path.stat().st_size for path in paths if path.is_file())


def download(folder: Path, python_version: str | None, find_links: str | None) -> None:
    """Each of `WHEELS` at this environment's version, as a binary wheel (no sdist: the device builds nothing)."""
    pins = [f"{name}=={importlib.metadata.version(name)}" for name in WHEELS]
    command = [sys.executable, "-m", "pip", "download", "--no-deps", "--only-binary=:all:", "--dest", str(folder)]
    if python_version:
        command += ["--python-version", python_version, "--implementation", "cp"]
        command += [option for platform in PLATFORMS for option in ("--platform", platform)]
    if find_links:
        command += ["--find-links", find_links]
    shutil.rmtree(folder, ignore_errors=True)  # no wheel of an earlier pin or Python is left (pip's cache refills it)
    subprocess.run([*command, *pins], check=True)


def pack(wheels: list[Path], budget: int) -> list[list[Path]]:
    """First-fit decreasing: each wheel, largest first, into the first bundle with room for it."""
    bundles: list[list[Path]] = []
    for wheel in sorted(wheels, key=lambda path: -path.stat().st_size):
        size = wheel.stat().st_size
        if size > budget:
            raise SystemExit(f"{wheel.name} ({size / 2**20:.1f} MiB) exceeds a call's {budget / 2**20:.1f} MiB")
        bundle = next((b for b in bundles if sum(w.stat().st_size for w in b) + size <= budget), None)
        if bundle is None:
            bundles.append(bundle := [])
        bundle.append(wheel)
    return bundles


def write_bundles(bundles: list[list[Path]]) -> None:
    for old in WHEELS_DIR.glob("bundle-*"):
        shutil.rmtree(old)
    for number, wheels in enumerate(bundles, 1):
        folder = WHEELS_DIR / f"bundle-{number}"
        folder.mkdir(parents=True)
        for wheel in wheels:
            os.link(wheel, folder / wheel.name)


def print_bundles(bundles: list[list[Path]], budget: int, tree: int) -> None:
    print(
        f"bundles of at most {budget / 2**20:.0f} MiB (a device call carries 64 MiB: the working tree's "
        f"{tree / 2**20:.1f} MiB, at least {MARGIN / 2**20:.0f} MiB of headroom, one bundle)"
    )
    for number, wheels in enumerate(bundles, 1):
        total = sum(wheel.stat().st_size for wheel in wheels)
        print(f"\nwheels/bundle-{number}: {len(wheels)} wheels, {total / 2**20:.1f} MiB")
        for wheel in wheels:
            print(f"  {wheel.stat().st_size / 2**20:>6.2f} MiB  {wheel.name}")
    print("\nOn the device, one call per bundle, back to back (a machine left idle is handed back, installs and all):")
    for number in range(1, len(bundles) + 1):
        last = " && python benchmarks/gpu_check.py" if number == len(bundles) else ""
        print(
            f'  carry ["wheels/bundle-{number}"]:  python benchmarks/gpu_wheels.py --check; '
            f"python -m pip install --no-index --no-deps wheels/bundle-{number}/*.whl{last}"
        )
    print("  (--check names the wheels of a carried bundle that are still missing; a bundle with none can be skipped)")


def check() -> None:
    """On the device: each package importable or not (with its version), and the install line for what is missing
    among the carried bundles' wheels."""
    carried = sorted(WHEELS_DIR.glob("bundle-*/*.whl"))
    built_for = {minor for wheel in carried for minor in re.findall(r"-(?:cp|py)3(\d+)-", wheel.name)}
    foreign = sorted(f"3.{minor}" for minor in built_for if minor != str(sys.version_info.minor))
    note = f"; carried wheels for Python {', '.join(foreign)} will not install here" if foreign else ""
    print(f"python {sys.version.split()[0]}{note}")
    missing = []
    for name, module in WHEELS.items():
        found = importlib.util.find_spec(module) is not None
        version = _installed_version(name) if found else "missing"
        print(f"  {name:<18}{version}")
        missing += [] if found else [_normalise(name)]
    wheels = [wheel for wheel in carried if _distribution(wheel) in missing]
    absent = set(missing) - {_distribution(wheel) for wheel in wheels}
    if wheels:
        names = " ".join(str(wheel.relative_to(REPO)) for wheel in wheels)
        print(f"install: python -m pip install --no-index --no-deps {names}")
    print(f"missing and not in a carried bundle: {', '.join(sorted(absent)) or 'none'}")


def _installed_version(name: str) -> str:
    try:
        return importlib.metadata.version(name)
    except importlib.metadata.PackageNotFoundError:
        return "importable"


def _normalise(name: str) -> str:
    return re.sub(r"[-_.]+", "_", name).lower()


def _distribution(wheel: Path) -> str:
    return _normalise(wheel.name.split("-")[0])


if __name__ == "__main__":
    main()
