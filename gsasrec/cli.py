"""Command line: `gsasrec train|evaluate|download|convert`. Errors a user can fix print as
one line (`gsasrec: error: ...`) with exit status 2, never a traceback."""

from __future__ import annotations

import argparse
import json
import os
import shlex
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

from gsasrec.config import LOSSES, MODELS, PRESETS, TrainConfig, preset_config
from gsasrec.errors import GsasrecError


def _bool(text: str) -> bool:
    lowered = text.lower()
    if lowered in ("1", "true", "yes", "on"):
        return True
    if lowered in ("0", "false", "no", "off"):
        return False
    raise argparse.ArgumentTypeError(f"expected true or false, got {text!r}")


def _optional_int(text: str) -> int | None:
    return None if text.lower() in ("none", "0") else int(text)


# flag, config field, type, help
TRAIN_FLAGS: list[tuple[str, str, Callable[[str], Any], str]] = [
    ("--dataset", "dataset", str, "ml-1m, ml-100k, beauty or synthetic"),
    ("--data-file", "data_file", str, "any SASRec-format (user item) file, CSV or parquet"),
    ("--model", "model", str, "|".join(MODELS)),
    ("--loss", "loss", str, "|".join(LOSSES) + " (default: the model's own)"),
    ("--negatives", "num_negatives", int, "negatives per position, k"),
    ("--t", "gbce_t", float, "gBCE calibration parameter t in [0, 1]"),
    ("--t-warmup-steps", "gbce_t_warmup_steps", int, "raise t linearly from 0 over N steps"),
    ("--negatives-warmup-steps", "negatives_warmup_steps", int,
     "raise the number of negatives geometrically from 1 to k over N steps"),
    ("--max-seq-len", "max_seq_len", int, "most recent items the model reads"),
    ("--embedding-dim", "embedding_dim", int, "hidden size d"),
    ("--num-blocks", "num_blocks", int, "transformer blocks"),
    ("--num-heads", "num_heads", int, "attention heads"),
    ("--feedforward-dim", "feedforward_dim", _optional_int, "feed-forward width (default d)"),
    ("--dropout", "dropout", float, "dropout rate"),
    ("--tied-embeddings", "tied_embeddings", _bool, "share input and output item embeddings"),
    ("--block-style", "block_style", str,
     "sasrec (default): the SASRec paper's block (normalised queries only, no residual "
     "dropout); pre-norm: a standard pre-norm block with residual dropout"),
    ("--init-std", "init_std", float, "std of the truncated-normal initialisation"),
    ("--mask-prob", "mask_prob", float, "BERT4Rec masking probability"),
    ("--mask-last-prob", "mask_last_prob", float,
     "BERT4Rec: share of sequences with only the last item masked"),
    ("--batch-size", "batch_size", int, "sequences per step"),
    ("--lr", "learning_rate", float, "Adam learning rate"),
    ("--lr-warmup-steps", "lr_warmup_steps", int, "linear learning-rate warm-up"),
    ("--weight-decay", "weight_decay", float, "Adam weight decay"),
    ("--max-epochs", "max_epochs", _optional_int, "stop after N epochs"),
    ("--max-steps", "max_steps", _optional_int, "stop after N steps"),
    ("--time-budget", "time_budget", float, "stop after S seconds of training"),
    ("--train-window", "train_window", str,
     "last: each user's most recent items (SASRec); random: a random window each epoch"),
    ("--patience", "patience", int, "validations without improvement before stopping"),
    ("--val-every-epochs", "val_every_epochs", int, "validate every N epochs"),
    ("--checkpoint-every", "checkpoint_every_seconds", float,
     "write last.pt after a validation at most every S seconds (0: after each)"),
    ("--val-users", "val_users", int, "validation users (paper: 512)"),
    ("--split-seed", "split_seed", int, "seed of the validation-user sample"),
    ("--split", "split_mode", str, "standard | authors-port"),
    ("--filter-seen", "filter_seen", _bool, "exclude already-seen items when ranking"),
    ("--track-test", "track_test_of_best", _bool,
     "log test metrics of every new best checkpoint (time-to-quality curves)"),
    ("--eval-batch-size", "eval_batch_size", int, "users per evaluation batch"),
    ("--synthetic-items", "synthetic_num_items", int, "catalogue size of synthetic data"),
    ("--synthetic-users", "synthetic_num_users", int, "users of synthetic data"),
    ("--synthetic-seed", "synthetic_seed", int, "seed of the synthetic generator"),
    ("--seed", "seed", int, "training seed"),
    ("--device", "device", str, "cpu | cuda | cuda:N | auto"),
    ("--precision", "precision", str, "auto | bf16 | fp32"),
    ("--scoring", "scoring", str, "auto | full | gather"),
    ("--compile", "compile", _bool, "torch.compile the training step"),
    ("--distributed", "distributed", _bool,
     "train with DistributedDataParallel (automatic when started by torchrun)"),
    ("--cuda-graph", "cuda_graph", _bool, "on CUDA, replay each step as one captured graph"),
]


def _train_parser(sub: Any) -> None:
    parser = sub.add_parser("train", help="train and evaluate a model")
    parser.add_argument("--preset", choices=sorted(PRESETS), help="start from a named config")
    for flag, _field, kind, text in TRAIN_FLAGS:
        parser.add_argument(flag, type=kind, default=argparse.SUPPRESS, help=text)
    parser.add_argument("--out", type=Path, help="run folder (default runs/<name>)")
    parser.add_argument("--resume", action="store_true", help="continue from DIR/last.pt")
    parser.add_argument("--no-progress", action="store_true", help="no progress bar")


def config_from_args(args: argparse.Namespace) -> TrainConfig:
    # the preset's name is kept with the run: tables tell a tuned preset from the paper's
    config = preset_config(args.preset) if args.preset else TrainConfig()
    changes = {}
    for flag, field, _kind, _text in TRAIN_FLAGS:
        dest = flag[2:].replace("-", "_")
        if hasattr(args, dest):
            changes[field] = getattr(args, dest)
    return config.replace(**changes)


def default_run_name(config: TrainConfig) -> str:
    data = Path(config.data_file).stem if config.data_file else config.dataset
    loss = config.resolved_loss
    detail = {"gbce": f"k{config.num_negatives}-t{config.gbce_t:g}",
              "bce": f"k{config.num_negatives}", "sampled-ce": f"k{config.num_negatives}",
              "ce": "full"}[loss]
    variant = f"-{config.variant}" if config.variant else ""
    return f"{data}-{config.model}-{loss}-{detail}{variant}-s{config.seed}"


def cmd_train(args: argparse.Namespace, argv: list[str]) -> int:
    from gsasrec.training import train

    config = config_from_args(args)
    config.validate()
    out = args.out or Path("runs") / default_run_name(config)
    result = train(config, out, resume=args.resume, progress=not args.no_progress,
                   command="gsasrec " + shlex.join(argv))
    if os.environ.get("RANK", "0") != "0":  # under torchrun, rank 0 speaks for the run
        return 0
    print(json.dumps({"out": str(out), "test": result.metrics["test"],
                      "validation": result.metrics["validation"],
                      "training": {k: result.metrics["training"][k]
                                   for k in ("epochs", "steps", "stop_reason", "train_seconds")}},
                     indent=2))
    return 0


def cmd_evaluate(args: argparse.Namespace, argv: list[str]) -> int:
    from gsasrec.runs import load_run

    run = load_run(args.run_dir, device=args.device)
    metrics, _, _ = run.evaluate(device=args.device)
    stored = run.metrics.get("test", {})
    report = {"run": str(args.run_dir), "test": {k: metrics[k] for k in
                                                 ("ndcg@10", "recall@1", "recall@10")}}
    if stored:
        report["stored_test"] = stored
        report["max_abs_difference"] = max(abs(metrics[k] - stored[k]) for k in stored)
    print(json.dumps(report, indent=2))
    return 0


def cmd_download(args: argparse.Namespace, argv: list[str]) -> int:
    from gsasrec.data.download import download_ml1m
    from gsasrec.data.registry import data_dir

    if args.name != "ml-1m":
        raise GsasrecError("only ml-1m can be downloaded; see README for the other data sets")
    target = download_ml1m(Path(args.data_dir) if args.data_dir else data_dir())
    print(f"wrote {target}")
    return 0


def cmd_convert(args: argparse.Namespace, argv: list[str]) -> int:
    from gsasrec.data.download import convert_ratings

    ratings = Path(args.ratings)
    out_dir = Path(args.out_dir) if args.out_dir else ratings.parent
    target = convert_ratings(ratings, out_dir, args.name or ratings.parent.name)
    print(f"wrote {target}")
    return 0


def cmd_calibrate(args: argparse.Namespace, argv: list[str]) -> int:
    from gsasrec.calibration import run_calibration_report
    from gsasrec.io import atomic_write_bytes, atomic_write_json

    report, table = run_calibration_report(args.run_dir, args.top_k, args.bins, args.strategy)
    atomic_write_json(args.run_dir / "calibration.json", report)
    atomic_write_bytes(args.run_dir / "reliability.csv", table.to_csv(index=False).encode())
    print(json.dumps({"run": str(args.run_dir), "model": report["model"],
                      "recalibrated": report["recalibrated"]}, indent=2))
    return 0


def cmd_table(args: argparse.Namespace, argv: list[str]) -> int:
    import pandas as pd

    from gsasrec import report

    roots = args.roots or [Path("results")]
    runs = report.collect_runs(roots)
    if runs.empty:
        raise GsasrecError(f"no finished runs (metrics.json) under {', '.join(map(str, roots))}")
    shown = ["dataset", "label", "ndcg@10", "recall@1", "recall@10", "published_ndcg@10",
             "ndcg_vs_bert4rec", "time_to_best_s", "train_seconds", "time_to_bert4rec_ndcg_s",
             "epochs", "early_stopped", "peak_gpu_memory_mb", "ece", "runs"]
    table = report.main_table(runs)
    if table.empty:
        print(f"no main-table runs under {', '.join(map(str, roots))} (grid cells only: "
              "add --grid to see them)")
    else:
        print(report.to_markdown(table[shown]))
    differences = report.relative_differences(runs)
    if not differences.empty:
        print()
        print(report.to_markdown(differences))
    targets = pd.DataFrame(report.targets(runs, args.dataset))
    if not targets.empty:
        print()
        print(report.to_markdown(targets))
    grid = report.grid_table(runs, args.dataset)
    if args.grid and not grid.empty:
        print()
        print(report.to_markdown(grid))
    if args.out:
        from gsasrec.io import atomic_write_bytes

        atomic_write_bytes(args.out, (grid if args.grid and not grid.empty else table)
                           .to_csv().encode())
        print(f"wrote {args.out}")
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="gsasrec", description="Train and evaluate SASRec, gSASRec and BERT4Rec.")
    sub = parser.add_subparsers(dest="command", required=True)
    _train_parser(sub)
    evaluate = sub.add_parser("evaluate", help="re-evaluate a run folder's best checkpoint")
    evaluate.add_argument("run_dir", type=Path)
    evaluate.add_argument("--device", default="cpu")
    download = sub.add_parser("download", help="fetch a data set (ml-1m) into the data dir")
    download.add_argument("name")
    download.add_argument("--data-dir", help="default: GSASREC_DATA_DIR or ./data")
    convert = sub.add_parser("convert", help="MovieLens ratings file -> SASRec format")
    convert.add_argument("ratings", help="u.data or ratings.dat")
    convert.add_argument("--out-dir")
    convert.add_argument("--name")
    calibrate = sub.add_parser("calibrate", help="write calibration.json and reliability.csv "
                               "(top-k probabilities vs outcomes) into a run folder")
    calibrate.add_argument("run_dir", type=Path)
    calibrate.add_argument("--top-k", type=int, default=10, help="top-ranked items per user")
    calibrate.add_argument("--bins", type=int, default=10, help="reliability bins")
    calibrate.add_argument("--strategy", choices=("uniform", "quantile"), default="uniform",
                           help="equal-width or equal-mass bins")
    table = sub.add_parser("table", help="our runs beside the published numbers, and the "
                           "k x t grid")
    table.add_argument("roots", nargs="*", type=Path, help="folders searched for run folders "
                       "(default: results)")
    table.add_argument("--grid", action="store_true", help="also print the k x t grid")
    table.add_argument("--dataset", default="ml-1m", help="data set of the grid")
    table.add_argument("--out", type=Path, help="write the main table (or, with --grid, the "
                       "grid) as CSV")
    return parser


COMMANDS = {"train": cmd_train, "evaluate": cmd_evaluate, "download": cmd_download,
            "convert": cmd_convert, "table": cmd_table, "calibrate": cmd_calibrate}


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        return COMMANDS[args.command](args, argv)
    except GsasrecError as error:
        print(f"gsasrec: error: {error}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("gsasrec: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:  # e.g. `gsasrec table | head`: the reader has what it wanted
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())  # no second error when Python flushes stdout
        return 0


if __name__ == "__main__":
    sys.exit(main())
