"""`srzoo export`: a model as ONNX (checked against PyTorch), srzoo safetensors or BasicSR `.pth`."""

from __future__ import annotations

import argparse

from srzoo.cli.infer import add_model_args, load_from_args


def register(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser(
        "export",
        help="export a model as onnx, safetensors or basicsr .pth",
        description="Export a model. ONNX has dynamic batch/height/width and is checked with onnxruntime.",
    )
    p.add_argument("out", metavar="OUT", help="output file")
    add_model_args(p)
    p.add_argument("--format", required=True, choices=["onnx", "safetensors", "basicsr"])
    p.add_argument(
        "--exporter",
        choices=["dynamo", "torchscript"],
        default="dynamo",
        help="ONNX exporter (default dynamo; falls back to torchscript when dynamo cannot trace the arch)",
    )
    p.add_argument("--overwrite", action="store_true", help="replace OUT if it exists")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from srzoo.inference.export import export_model

    model = load_from_args(args, device="cpu", precision="fp32", fast=False)
    report = export_model(model, args.out, args.format, exporter=args.exporter, overwrite=args.overwrite)
    print(report.summary())
    return 0
