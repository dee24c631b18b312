"""`sweeper slurm`: an sbatch script that starts a Ray head and workers on the allocated nodes and runs the
sweep on them, the way Ray's own SLURM guide does; requeued after pre-emption, it resumes the sweep."""

from __future__ import annotations

from pathlib import Path
from string import Template

from contract.spec import SweepSpec

TEMPLATE = Path(__file__).resolve().parent / "templates" / "slurm.sbatch"


def render_sbatch(
    spec: SweepSpec,
    spec_path: Path,
    *,
    nodes: int,
    cpus_per_node: int,
    gpus_per_node: int,
    time: str,
    partition: str | None = None,
    cache_dir: str = "$HOME/.cache/ratio-sweeper",
) -> str:
    """The sbatch script for this spec; paths are made absolute because the job runs on other machines. The output
    dir is created now: SLURM opens the job's log (`#SBATCH --output`) there before the script's first line runs."""
    output_dir = spec.resolved_output_dir()
    output_dir.mkdir(parents=True, exist_ok=True)
    return Template(TEMPLATE.read_text()).substitute(
        job_name=spec.name,
        script_name=f"{spec.name}.sbatch",
        nodes=nodes,
        cpus_per_node=cpus_per_node,
        gpus_per_node=gpus_per_node,
        time=time,
        partition_line=f"#SBATCH --partition={partition}" if partition else "",
        output_dir=output_dir,
        cache_dir=cache_dir,
        spec=Path(spec_path).resolve(),
    )
