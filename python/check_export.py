#!/usr/bin/python3
"""Checks that a backbone export gives the C++ network's endpoints in Python.

    check_export.py DIR [--rtol R] [--atol A]

DIR holds model.pt (an export, see sslab_models.load), input.npy (float32
[N, C, H, W]) and one <endpoint>.npy per endpoint the C++ model produced in
eval mode. The model is loaded with sslab_models.load and run on the input
without gradients; every endpoint file is compared: the shape exactly, the
values with torch.allclose(rtol, atol * max(1, max |expected|)) so that large
activations are held to a relative standard.

Exit status: 0 when every endpoint matches; 1 when one does not, an endpoint
file names no endpoint of the network, there are no endpoint files, or
model.pt (the file under test) does not load into the Python network, be it
corrupt, of another format or not fitting its options; 2 for usage errors, a
missing or unreadable file, and a malformed input.npy or endpoint file.
"""

import argparse
import os
import sys

import numpy as np
import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import sslab_models  # noqa: E402  (found next to this file)

MODEL_FILE = "model.pt"
INPUT_FILE = "input.npy"


class UsageError(Exception):
    """Bad arguments or unreadable inputs: exit status 2."""


def read_npy(path: str) -> torch.Tensor:
    try:
        return torch.from_numpy(np.load(path, allow_pickle=False))
    except (OSError, ValueError) as e:
        raise UsageError(f"cannot read {path}: {e}") from None


def compare(name: str, actual: torch.Tensor, expected: torch.Tensor,
            rtol: float, atol: float) -> bool:
    """Prints one line for the endpoint; True when it matches."""
    if tuple(actual.shape) != tuple(expected.shape):
        print(f"{name}: MISMATCH shape {tuple(actual.shape)} in Python, "
              f"{tuple(expected.shape)} in C++")
        return False
    actual = actual.detach().to("cpu", torch.float64)
    expected = expected.to(torch.float64)
    scale = max(1.0, expected.abs().max().item()) if expected.numel() else 1.0
    tolerance = atol * scale
    max_diff = ((actual - expected).abs().max().item()
                if expected.numel() else 0.0)
    ok = torch.allclose(actual, expected, rtol=rtol, atol=tolerance)
    print(f"{name}: {'ok' if ok else 'MISMATCH'} shape {tuple(expected.shape)} "
          f"max abs diff {max_diff:.3g} (atol {tolerance:.3g}, rtol {rtol:g})")
    return ok


def check(directory: str, rtol: float, atol: float) -> int:
    if not os.path.isdir(directory):
        raise UsageError(f"{directory} is not a directory")
    model_path = os.path.join(directory, MODEL_FILE)
    if not os.path.isfile(model_path):
        raise UsageError(f"{model_path} is missing")
    images = read_npy(os.path.join(directory, INPUT_FILE))
    if images.dtype != torch.float32 or images.dim() != 4:
        raise UsageError(f"{INPUT_FILE} must be float32 [N, C, H, W], got "
                         f"{images.dtype} {tuple(images.shape)}")

    expected = {}
    for file_name in sorted(os.listdir(directory)):
        if file_name.endswith(".npy") and file_name != INPUT_FILE:
            expected[file_name[:-len(".npy")]] = read_npy(
                os.path.join(directory, file_name))
    if not expected:
        print(f"FAIL: {directory} has no endpoint files (<endpoint>.npy)")
        return 1

    try:
        model = sslab_models.load(model_path)
    except OSError as e:
        raise UsageError(f"cannot read {model_path}: {e}") from None
    except Exception as e:  # noqa: BLE001  (any other failure is a mismatch)
        print(f"FAIL: {model_path} does not load into the Python network: "
              f"{type(e).__name__}: {e}")
        return 1

    # The C++ side may have written any subset; one it does not know is a
    # difference between the two implementations.
    known = model.endpoint_names() + (
        ["logits"] if model.options["num_outputs"] > 0 else [])
    unknown = sorted(set(expected) - set(known))
    if unknown:
        print(f"FAIL: endpoint file(s) {unknown} name no endpoint of the "
              f"Python network ({', '.join(known)})")
        return 1

    with torch.no_grad():
        actual = model.forward_endpoints(images, list(expected))
    failed = [name for name in known if name in expected
              and not compare(name, actual[name], expected[name], rtol, atol)]
    if failed:
        print(f"FAIL: endpoint(s) {', '.join(failed)} differ from the C++ "
              f"network's")
        return 1
    print(f"OK: {len(expected)} endpoint(s) match")
    return 0


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(
        description="Compare a backbone export's endpoints in Python with "
                    "the C++ network's.")
    parser.add_argument("directory", metavar="DIR",
                        help="holds model.pt, input.npy and <endpoint>.npy")
    parser.add_argument("--rtol", type=float, default=1e-4)
    parser.add_argument("--atol", type=float, default=1e-4,
                        help="scaled by max(1, max |expected|) per endpoint")
    args = parser.parse_args(argv)  # exits 2 on usage errors
    try:
        return check(args.directory, args.rtol, args.atol)
    except UsageError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
