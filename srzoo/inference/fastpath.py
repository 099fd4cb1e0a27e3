"""Inference fast path: conv + activation / residual add fused into one oneDNN kernel on CPU (torch.fx).

`fuse_for_inference(net)` traces any arch with torch.fx and replaces `conv → leaky_relu/relu` and
`conv → (* constant) → + other` chains by `FusedConv2d`. On CPU it runs, for a channels_last input, oneDNN's
fused convolution with a weight pre-packed once into oneDNN's blocked layout, and for a contiguous NCHW fp32
input NNPACK's Winograd convolution (`srzoo.inference.cpu_kernels`) followed by the activation / residual in place;
everywhere else (CUDA, fp16, autograd, odd shapes) the original ops in the original order. The caller picks
the CPU kernel by the input's memory layout (`SRModel` does). Nets that cannot be traced are returned unchanged.
"""

from __future__ import annotations

import copy
import functools
import operator
import weakref
from typing import Any

import torch
import torch.nn.functional as F
from torch import fx, nn

from srzoo.inference import cpu_kernels as cpu_conv
from srzoo.inference import precision

# packed (oneDNN blocked) weights per module, keyed so that .to(dtype/device) or load_state_dict repack them;
# held outside the module so deepcopy/pickling never meet oneDNN's opaque tensors
_PACKED: weakref.WeakKeyDictionary[nn.Module, tuple[tuple, torch.Tensor, torch.Tensor | None]] = (
    weakref.WeakKeyDictionary()
)
# contiguous copies of channels_last weights for NNPACK, same keying as _PACKED
_NCHW: weakref.WeakKeyDictionary[nn.Module, tuple[tuple, torch.Tensor]] = weakref.WeakKeyDictionary()
_FUSABLE_DTYPES = (torch.float32, torch.bfloat16)
_LEAKY = (F.leaky_relu, torch._C._nn.leaky_relu, torch._C._nn.leaky_relu_)
_RELU = (F.relu, torch.relu, torch.relu_)
_MUL = ((operator.mul, torch.mul), ("mul", "mul_"))
_ADD = ((operator.add, torch.add), ("add", "add_"))


class FusedConv2d(nn.Module):
    """A Conv2d with its following activation, or its scaled residual add, inside one oneDNN kernel on CPU.

    `act`: "none", "relu" or "leaky_relu" (with `slope`); with `residual=True` forward(x, other) returns
    conv(x) * scale + other. Shares the conv's weight and bias Parameters.
    """

    def __init__(
        self,
        conv: nn.Conv2d,
        *,
        act: str = "none",
        slope: float = 0.0,
        scale: float = 1.0,
        residual: bool = False,
    ) -> None:
        super().__init__()
        self.weight, self.bias = conv.weight, conv.bias
        self.stride, self.padding = list(conv.stride), list(conv.padding)
        self.dilation, self.groups = list(conv.dilation), conv.groups
        self.act, self.slope, self.scale, self.residual = act, float(slope), float(scale), residual

    def extra_repr(self) -> str:
        what = f"act={self.act}" + (f"({self.slope})" if self.act == "leaky_relu" else "")
        return f"{tuple(self.weight.shape)}, {what}" + (f", residual x{self.scale}" if self.residual else "")

    def reference(self, x: torch.Tensor, other: torch.Tensor | None = None) -> torch.Tensor:
        """The unfused ops, in the traced order (used off CPU, with autograd, or for fp16)."""
        y = F.conv2d(x, self.weight, self.bias, self.stride, self.padding, self.dilation, self.groups)
        return self._post_ops(y, other)

    def _post_ops(self, y: torch.Tensor, other: torch.Tensor | None) -> torch.Tensor:
        """The scaled residual add and the activation, in place on the fresh conv output `y`."""
        if self.residual:  # in place on the fresh conv output when that gives the same result (no broadcast)
            y = y.mul_(self.scale) if self.scale != 1.0 else y
            y = y.add_(other) if other.shape == y.shape and other.dtype == y.dtype else y + other
        if self.act == "leaky_relu":
            return F.leaky_relu(y, self.slope, inplace=True)
        return F.relu(y, inplace=True) if self.act == "relu" else y

    def _kernel(self, x: torch.Tensor, other: torch.Tensor | None) -> str:
        """ "onednn" (channels_last input), "nnpack" (NCHW fp32 3x3) or "reference" (everything else)."""
        if isinstance(x, fx.Proxy) or torch.jit.is_tracing() or torch.compiler.is_compiling():
            return "reference"  # exporters and compilers see the plain ops (ONNX has no oneDNN fused conv)
        if x.device.type != "cpu" or x.dtype not in _FUSABLE_DTYPES or x.dtype != self.weight.dtype:
            return "reference"
        if x.dtype == torch.bfloat16 and not _onednn_bf16():
            return "reference"  # oneDNN cannot pack bf16 weights on this CPU (AVX2): the plain ops still run
        if x.dim() != 4 or (torch.is_grad_enabled() and (x.requires_grad or self.weight.requires_grad)):
            return "reference"  # neither fused op has a backward
        if x.is_contiguous(memory_format=torch.channels_last):
            return "onednn" if other is None or self._binary_ok(x, other) else "reference"
        fits = cpu_conv.nnpack_fits(x, self.weight, self.stride, self.dilation, self.groups)
        return "nnpack" if fits and cpu_conv.nnpack_usable() else "reference"

    def _binary_ok(self, x: torch.Tensor, other: torch.Tensor) -> bool:
        # the binary post-op needs `other` exactly the output's shape, dtype and layout (no broadcasting)
        k = self.weight.shape[-2:]
        size = [
            (x.shape[2 + i] + 2 * self.padding[i] - self.dilation[i] * (k[i] - 1) - 1) // self.stride[i] + 1
            for i in range(2)
        ]
        return (
            other.dtype == x.dtype
            and tuple(other.shape) == (x.shape[0], self.weight.shape[0], *size)
            and other.is_contiguous(memory_format=torch.channels_last)
        )

    def _packed(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor | None]:
        w, b = self.weight, self.bias
        key = (w.dtype, w.data_ptr(), _version(w), None if b is None else (b.data_ptr(), _version(b)))
        hit = _PACKED.get(self)
        if hit is not None and hit[0] == key:
            return hit[1], hit[2]
        with torch.no_grad():
            w = w.detach() * self.scale if self.residual and self.scale != 1.0 else w.detach()
            b = None if b is None else (b.detach() * self.scale if self.residual else b.detach())
            packed = torch.ops.mkldnn._reorder_convolution_weight(
                w.contiguous(), self.padding, self.stride, self.dilation, self.groups, list(x.shape)
            )
        _PACKED[self] = (key, packed, b)
        return packed, b

    def _winograd(self, x: torch.Tensor, other: torch.Tensor | None) -> torch.Tensor:
        """NNPACK convolution, then the residual / activation in place on its fresh output."""
        w = self.weight
        if not w.is_contiguous():
            key = (w.data_ptr(), _version(w))
            hit = _NCHW.get(self)
            if hit is None or hit[0] != key:
                hit = _NCHW[self] = (key, w.detach().contiguous())
            w = hit[1]
        return self._post_ops(cpu_conv.conv3x3(x, w, self.bias, self.padding), other)

    def forward(self, x: torch.Tensor, other: torch.Tensor | None = None) -> torch.Tensor:
        kernel = self._kernel(x, other)
        if kernel == "reference":
            return self.reference(x, other)
        if kernel == "nnpack":
            return self._winograd(x, other)
        w, b = self._packed(x)
        geometry = (self.padding, self.stride, self.dilation, self.groups)
        if other is not None:
            return torch.ops.mkldnn._convolution_pointwise.binary(
                x, other, w, b, *geometry, "add", None, None, [], None
            )
        scalars = [self.slope] if self.act == "leaky_relu" else []
        return torch.ops.mkldnn._convolution_pointwise(x, w, b, *geometry, self.act, scalars, "")


@functools.cache
def _onednn_bf16() -> bool:
    # asked once: every conv of every forward checks it
    return precision.cpu_bf16_native()


def _version(t: torch.Tensor) -> int:
    # inference tensors (made under inference_mode, e.g. by .to() there) have no version counter
    return -1 if t.is_inference() else t._version


def _plain_conv(module: Any) -> bool:
    return (
        type(module) is nn.Conv2d
        and module.padding_mode == "zeros"
        and not isinstance(module.padding, str)
        and not torch.nn.utils.parametrize.is_parametrized(module)
    )


def _activation(user: fx.Node, node: fx.Node, modules: dict[str, nn.Module]) -> tuple[str, float] | None:
    """("leaky_relu", slope) / ("relu", 0) when `user` applies that activation to `node`, else None."""
    if not user.args or user.args[0] is not node:
        return None
    if user.op == "call_function" and user.target in _LEAKY:
        slope = user.args[1] if len(user.args) > 1 else user.kwargs.get("negative_slope", 0.01)
        return ("leaky_relu", float(slope)) if isinstance(slope, (int, float)) else None
    if user.op == "call_function" and user.target in _RELU:
        return "relu", 0.0
    module = modules.get(str(user.target)) if user.op == "call_module" else None
    if type(module) is nn.LeakyReLU:
        return "leaky_relu", float(module.negative_slope)
    if type(module) is nn.ReLU:
        return "relu", 0.0
    return None


def _binary(node: fx.Node, ops: tuple[tuple, tuple[str, ...]], operand: fx.Node) -> Any:
    """The other operand when `node` is `operand (op) x` (or `x (op) operand` out of place), else None.

    `ops` = (functions, method names); in-place methods count only when applied to `operand` itself (a
    fresh conv output nobody else reads), never when they would write into the other operand.
    """
    functions, methods = ops
    if node.kwargs or len(node.args) != 2:
        return None
    a, b = node.args
    if node.op == "call_method" and node.target in methods:
        return b if a is operand else None
    if node.op == "call_function" and node.target in functions:
        return b if a is operand else a if b is operand else None
    return None


def _new_pool() -> dict[tuple, torch.Tensor]:
    return {}


def pooled_cat(tensors: list[torch.Tensor], dim: int, pool: dict[tuple, torch.Tensor]) -> torch.Tensor:
    """torch.cat into one storage reused by every pooled concat of a forward call (no fresh pages each time).

    Big CPU allocations are fresh mmaps that the kernel zero-fills page by page: at LR 256² the 276 concats of
    RRDBNet fault in ~9 GB per forward (15% of the time). Used only where each concat's output is dead
    before the next pooled concat runs (checked when the graph is built) and autograd is off, so one
    storage the size of the largest concat serves them all and peak memory does not grow.
    """
    first = tensors[0]
    if (
        torch.is_grad_enabled()
        or torch.jit.is_tracing()
        or torch.compiler.is_compiling()
        or first.dim() != 4
        or any(t.dtype != first.dtype or t.device != first.device for t in tensors)
    ):
        return torch.cat(tensors, dim)
    n, _, h, w = first.shape
    c = sum(t.shape[1] for t in tensors)
    key = (first.dtype, first.device)
    flat = pool.get(key)
    if flat is None or flat.numel() < n * c * h * w:
        flat = pool[key] = torch.empty(n * c * h * w, dtype=first.dtype, device=first.device)
    if first.is_contiguous(memory_format=torch.channels_last) and not first.is_contiguous():
        out = flat[: n * c * h * w].view(n, h, w, c).permute(0, 3, 1, 2)  # channels_last strides
    else:
        out = flat[: n * c * h * w].view(n, c, h, w)
    return torch.cat(tensors, dim, out=out)


def _pool_concats(gm: fx.GraphModule) -> int:
    """Route concats whose output dies before the next concat through one per-call buffer pool."""
    nodes = list(gm.graph.nodes)
    order = {node: i for i, node in enumerate(nodes)}
    cats = [n for n in nodes if n.op == "call_function" and n.target is torch.cat and not n.kwargs]
    cats = [
        n for n in cats if len(n.args) == 2 and n.args[1] in (1, -3) and isinstance(n.args[0], (list, tuple))
    ]

    def consumes(user: fx.Node) -> bool:  # a conv reads its input and returns a new tensor, never a view
        return user.op == "call_module" and isinstance(
            gm.get_submodule(str(user.target)), (nn.Conv2d, FusedConv2d)
        )

    chosen = []
    for i, node in enumerate(cats):
        nxt = order[cats[i + 1]] if i + 1 < len(cats) else len(nodes)
        if node.users and all(order[u] < nxt and consumes(u) for u in node.users):
            chosen.append(node)
    if len(chosen) < 2:
        return 0
    first_compute = next(n for n in nodes if n.op != "placeholder")
    with gm.graph.inserting_before(first_compute):
        pool = gm.graph.call_function(_new_pool, ())
    for node in chosen:
        node.target, node.args = pooled_cat, (node.args[0], node.args[1], pool)
    return len(chosen)


def _tree_copy(net: nn.Module) -> nn.Module:
    """A copy of the module tree sharing every Parameter and buffer with `net`.

    Tracing runs forward on Proxies; a net that caches values on itself (padding sizes, attention masks) keeps
    those Proxies when the trace fails halfway and then fails on real input. Tracing the copy leaves `net` intact.
    """
    memo: dict[int, Any] = {id(t): t for t in (*net.parameters(), *net.buffers())}
    return copy.deepcopy(net, memo)


def _kept_proxies(net: nn.Module) -> bool:
    """Whether tracing left a Proxy on a module: its graph would read that attribute back and return Proxies."""
    return any(
        isinstance(value, fx.Proxy)
        for module in net.modules()
        for table in (vars(module), module._parameters, module._buffers)
        for value in table.values()
    )


def fuse_for_inference(net: nn.Module, *, pool_concats: bool = True) -> nn.Module:
    """A copy-free fused version of `net` (sharing its Parameters) for inference; `net` if nothing fuses.

    `pool_concats=False` keeps plain torch.cat (to measure what the per-call concat buffers buy).
    """
    traced = _tree_copy(net)
    try:
        gm = fx.symbolic_trace(traced)
    except Exception:  # data-dependent control flow etc.: this arch simply runs unfused
        return net
    if _kept_proxies(traced):  # forward stores on itself (SPAN: `self.mean = self.mean.type_as(x)`): unfused
        return net
    modules = dict(gm.named_modules())
    calls: dict[str, int] = {}
    for node in gm.graph.nodes:
        if node.op == "call_module":
            calls[str(node.target)] = calls.get(str(node.target), 0) + 1
    order = {node: i for i, node in enumerate(gm.graph.nodes)}
    fused = 0
    for node in list(gm.graph.nodes):
        conv = modules.get(str(node.target)) if node.op == "call_module" else None
        if not _plain_conv(conv) or calls[str(node.target)] != 1 or len(node.users) != 1:
            continue
        user = next(iter(node.users))
        act = _activation(user, node, modules)
        if act is not None:
            gm.add_submodule(str(node.target), FusedConv2d(conv, act=act[0], slope=act[1]))
            user.replace_all_uses_with(node)
            gm.graph.erase_node(user)
            fused += 1
            continue
        scale, mul, add = 1.0, None, user
        factor = _binary(user, _MUL, node)
        if isinstance(factor, (int, float)) and not isinstance(factor, bool) and len(user.users) == 1:
            scale, mul, add = float(factor), user, next(iter(user.users))
        other = _binary(add, _ADD, mul or node)
        # `other` must exist before the conv runs, which is where the fused call will read it
        if not isinstance(other, fx.Node) or order.get(other, len(order)) >= order[node]:
            continue
        gm.add_submodule(str(node.target), FusedConv2d(conv, scale=scale, residual=True))
        node.args = (*node.args, other)
        add.replace_all_uses_with(node)
        gm.graph.erase_node(add)
        if mul is not None:
            gm.graph.erase_node(mul)
        fused += 1
    for node in gm.graph.nodes:  # the remaining plain convs: packed weights, and NNPACK for NCHW input
        conv = gm.get_submodule(str(node.target)) if node.op == "call_module" else None
        if _plain_conv(conv) and calls[str(node.target)] == 1:
            gm.add_submodule(str(node.target), FusedConv2d(conv))
            fused += 1
    if not fused:
        return net
    if pool_concats:
        _pool_concats(gm)
    gm.graph.lint()
    gm.recompile()
    return gm
