"""Backbone training in two CPU processes (gloo), launched the way torchrun launches them.

Each process gets torchrun's variables (RANK, WORLD_SIZE, LOCAL_RANK,
MASTER_ADDR/PORT). The rendezvous goes through a file rather than torchrun's
TCP store, which listens on every interface; gloo is held to the loopback
interface, so nothing binds beyond 127.0.0.1.
"""

import json
import os
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import torch
from safetensors.torch import load_file

from fsvae_core.checkpoint import read_checkpoint_info
from ports import free_port

WORKER = textwrap.dedent(
    """
    import json, sys
    from pathlib import Path

    import numpy as np
    import torch
    import torch.distributed as dist
    from safetensors.torch import save_file

    import fsvae_core.backbone as backbone

    torch.set_num_threads(1)  # two processes share the test machine's cores
    out = Path(sys.argv[1])
    writes = []
    real_save = backbone.save_checkpoint

    def counted_save(*args, **kwargs):
        writes.append(kwargs.get("info", args[-1] if args else None))
        return real_save(*args, **kwargs)

    backbone.save_checkpoint = counted_save
    assert backbone.init_distributed_from_env(init_method=(out / sys.argv[2]).as_uri())
    rank = dist.get_rank()

    rng = np.random.default_rng(0)  # the same data on every rank
    x = rng.normal(size=(21, 2, 16, 25, 3)).astype(np.float32)  # 21: uneven, so the sampler pads
    x[::3, 1] = 0  # some windows have one person only
    y = rng.integers(0, 3, size=21)
    config = backbone.BackboneConfig(window_frames=16, channels=(8, 16), temporal_kernel=3, feature_dim=16)
    train = backbone.BackboneTrainConfig(
        epochs=2, batch_size=8, lr=0.05, warmup_epochs=0, device="cpu", augment=backbone.AugmentConfig(jitter_std=0.01)
    )
    model = backbone.train_backbone(
        x, y, 3, config, train, out / "backbone.safetensors", progress=False, validation=(x[:9], y[:9])
    )
    save_file({k: v.contiguous() for k, v in model.state_dict().items()}, str(out / f"rank{rank}.safetensors"))
    (out / f"rank{rank}.json").write_text(json.dumps({"writes": len(writes), "world_size": dist.get_world_size()}))
    dist.destroy_process_group()
    """
)


def launch_two_ranks(folder: Path) -> None:
    """Run the worker as ranks 0 and 1 with torchrun's variables; fail with a rank's output if it fails."""
    port = free_port()
    # A fresh rendezvous file per launch: a FileStore left by the previous launch can hold the next one forever.
    rendezvous = f"rendezvous-{port}-{time.monotonic_ns()}"
    processes = []
    for rank in range(2):
        env = {
            **os.environ,
            "RANK": str(rank), "WORLD_SIZE": "2", "LOCAL_RANK": str(rank),
            "MASTER_ADDR": "127.0.0.1", "MASTER_PORT": str(port),
            "GLOO_SOCKET_IFNAME": "lo", "CUDA_VISIBLE_DEVICES": "", "OMP_NUM_THREADS": "1",
        }
        processes.append(subprocess.Popen(
            [sys.executable, str(folder / "worker.py"), str(folder), rendezvous],
            env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
        ))
    outputs = []
    try:
        for process in processes:
            outputs.append(process.communicate(timeout=120)[0])
    finally:
        for process in processes:
            if process.poll() is None:
                process.kill()
                process.wait()
    for rank, (process, output) in enumerate(zip(processes, outputs)):
        assert process.returncode == 0, f"rank {rank} failed:\n{output}"


def test_two_gloo_processes_end_with_identical_weights_and_only_rank_0_writes(tmp_path: Path):
    (tmp_path / "worker.py").write_text(WORKER)
    launch_two_ranks(tmp_path)

    rank0, rank1 = (load_file(str(tmp_path / f"rank{r}.safetensors")) for r in range(2))
    assert rank0.keys() == rank1.keys()
    for key in rank0:  # parameters by DDP; BatchNorm statistics by the per-epoch average
        assert torch.equal(rank0[key], rank1[key]), key

    reports = [json.loads((tmp_path / f"rank{r}.json").read_text()) for r in range(2)]
    assert [r["writes"] for r in reports] == [2, 0] and reports[0]["world_size"] == 2
    info = read_checkpoint_info(tmp_path / "backbone.safetensors")
    assert info["epochs_done"] == 2 and info["world_size"] == 2
    assert all("val_accuracy" in record for record in info["history"])
    saved = load_file(str(tmp_path / "backbone.safetensors"))
    for key, value in rank0.items():
        assert torch.equal(saved[f"model.{key}"], value), key
    assert not list(tmp_path.glob("*.tmp"))

    # A second launch finds the finished checkpoint: both ranks resume from it, train nothing, write nothing.
    launch_two_ranks(tmp_path)
    again = [json.loads((tmp_path / f"rank{r}.json").read_text()) for r in range(2)]
    assert [r["writes"] for r in again] == [0, 0]
    for rank in range(2):
        resumed = load_file(str(tmp_path / f"rank{rank}.safetensors"))
        assert all(torch.equal(resumed[key], value) for key, value in rank0.items())
